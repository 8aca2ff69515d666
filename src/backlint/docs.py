"""A rule's documentation as text: what `backlint rule CODE` prints."""

from __future__ import annotations

from backlint.registry import EngineCode
from backlint.rule import DOC_SECTIONS, Rule


def render_rule(rule: type[Rule]) -> str:
    docs = rule.docs()
    frameworks = ", ".join(sorted(rule.frameworks)) or "any"
    lines = [
        f"# {rule.code}: {rule.name}",
        "",
        f"Group: {rule.group} · Fix: {rule.fix_kind.value} · Frameworks: {frameworks}",
        "",
        docs.get("summary", ""),
    ]
    for section in DOC_SECTIONS:
        lines += ["", f"## {section}", "", docs.get(section, "")]
    options = rule.option_fields()
    if options:
        lines += ["", "## Options", ""]
        for f in options:
            lines.append(f"- `{f.name.replace('_', '-')}` (default: {f.default!r})")
    return "\n".join(lines).rstrip() + "\n"


def render_engine_code(code: EngineCode) -> str:
    return f"# {code.code}: {code.name}\n\nGroup: {code.group} · Fix: none\n\n{code.summary}\n"
