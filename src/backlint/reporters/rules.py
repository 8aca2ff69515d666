"""What the formats say about each code (name, summary, docs, URL)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from backlint.docs import render_engine_code, render_rule, rule_url
from backlint.registry import ENGINE_CODES, all_rules
from backlint.reporters import Results, RuleInfo


@cache
def backlint_rules() -> dict[str, RuleInfo]:
    out: dict[str, RuleInfo] = {}
    for engine in ENGINE_CODES:
        out[engine.code] = RuleInfo(
            engine.code,
            engine.name,
            engine.summary.split(". ")[0].rstrip(".") + ".",
            rule_url(engine.code),
            render_engine_code(engine),
            engine.fix_kind,
            description=engine.summary,
        )
    for rule in all_rules():
        out[rule.code] = RuleInfo(
            rule.code,
            rule.name,
            rule.docs().get("summary", rule.name),
            rule_url(rule.code),
            render_rule(rule),
            rule.fix_kind,
            description=" ".join(rule.docs().get("What it flags", "").split()),
        )
    return out


def rule_info(results: Results, code: str) -> RuleInfo:
    known = backlint_rules().get(code) or results.external.get(code)
    return known if known is not None else RuleInfo(code, code.lower(), code)


def codes_of(results: Results) -> list[str]:
    """Every backlint code, then the other codes that occur, sorted."""
    ours = list(backlint_rules())
    others: Iterable[str] = {f.code for f in results.findings} - set(ours)
    return ours + sorted(others)
