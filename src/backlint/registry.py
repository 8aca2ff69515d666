"""Every rule backlint knows, and which of them a configuration selects."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, overload

from backlint.catalogue import GROUPS, RULES
from backlint.types import FixKind

if TYPE_CHECKING:
    from backlint.rule import Rule


@dataclass(frozen=True, slots=True)
class EngineCode:
    """A finding the engine itself makes (BKL0xx), documented like a rule."""

    code: str
    name: str
    summary: str
    group: str = "default"
    fix_kind: FixKind = FixKind.NONE


PARSE_ERROR = EngineCode(
    "BKL001",
    "parse-error",
    "The file could not be decoded or parsed; no rule ran on it. The message "
    "gives the decoder's or parser's error and position.",
)
RULE_ERROR = EngineCode(
    "BKL002",
    "rule-error",
    "A rule raised an exception on this file. The other rules still ran; please "
    "report the message (rule and exception) as a backlint bug.",
)
UNUSED_NOQA = EngineCode(
    "BKL003",
    "unused-noqa",
    "A `# noqa` comment names backlint codes that suppress nothing on its line: the "
    "finding it silenced is gone, or the code is not a rule. Only codes that are "
    "selected for the file are judged (a blanket `# noqa` and other tools' codes are "
    "left alone); remove the code, or the comment.",
    group="strict",
)
ENGINE_CODES: tuple[EngineCode, ...] = (PARSE_ERROR, RULE_ERROR, UNUSED_NOQA)


@cache
def all_rules() -> tuple[type[Rule], ...]:
    """Every rule class under `backlint.rules`, sorted by code (imports them all)."""
    from backlint import rules as rules_package
    from backlint.rule import Rule

    prefix = rules_package.__name__ + "."
    for info in pkgutil.walk_packages(rules_package.__path__, prefix):
        importlib.import_module(info.name)
    found: dict[str, type[Rule]] = {}
    pending: list[type[Rule]] = list(Rule.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "code" in cls.__dict__ and cls.__module__.startswith(prefix):
            if cls.code in found and found[cls.code] is not cls:
                raise RuntimeError(f"two rules share {cls.code}: {found[cls.code]} and {cls}")
            found[cls.code] = cls
    return tuple(found[code] for code in sorted(found))


# The catalogue's rows by code and by name: selection, configuration and the
# findings cache read these; a rule's module is imported only to run it.
_BY_CODE = {row[0]: row for row in RULES}
_BY_NAME = {row[1]: row for row in RULES}


@cache
def _load(code: str) -> type[Rule]:
    _, _, _, module, name = _BY_CODE[code]
    rule: type[Rule] = getattr(importlib.import_module(module), name)
    return rule


def rule_by_code(code: str) -> type[Rule] | None:
    return _load(code) if code in _BY_CODE else None


def rule_by_name(name: str) -> type[Rule] | None:
    row = _BY_NAME.get(name)
    return _load(row[0]) if row is not None else None


def code_for(key: str) -> str | None:
    """The code a rule's name or code names (option tables are keyed by either)."""
    if key in _BY_CODE:
        return key
    row = _BY_NAME.get(key)
    return row[0] if row is not None else None


def all_codes() -> dict[str, str]:
    """code -> group, engine codes included."""
    codes = {c.code: c.group for c in ENGINE_CODES}
    codes.update({row[0]: row[2] for row in RULES})
    return codes


class SelectedRules(Sequence["type[Rule]"]):
    """The rule classes of some codes, imported when first iterated: a fully
    warm run knows its selection (and the findings cache its key) without
    importing a rule, or LibCST."""

    def __init__(self, codes: Iterable[str]) -> None:
        self.codes = frozenset(codes)
        self._rules: tuple[type[Rule], ...] | None = None

    @property
    def rules(self) -> tuple[type[Rule], ...]:
        if self._rules is None:
            self._rules = tuple(_load(code) for code in sorted(self.codes))
        return self._rules

    @overload
    def __getitem__(self, index: int) -> type[Rule]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[type[Rule]]: ...
    def __getitem__(self, index: int | slice) -> type[Rule] | Sequence[type[Rule]]:
        return self.rules[index]

    def __len__(self) -> int:
        return len(self.codes)

    def __iter__(self) -> Iterator[type[Rule]]:
        return iter(self.rules)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SelectedRules):
            return self.codes == other.codes
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(self.codes)

    def __reduce__(self) -> tuple[type[SelectedRules], tuple[tuple[str, ...]]]:
        return SelectedRules, (tuple(sorted(self.codes)),)

    def __repr__(self) -> str:
        return f"SelectedRules({sorted(self.codes)})"


def codes_of(rules: Sequence[type[Rule]]) -> frozenset[str]:
    """The codes of a run's rules, without importing a lazy selection."""
    if isinstance(rules, SelectedRules):
        return rules.codes
    return frozenset(rule.code for rule in rules)


# ---------------------------------------------------------------------------
# Selection, with ruff's semantics.


def _specificity(selector: str) -> int:
    """ALL < group < BKL < BKL1 < BKL10 < BKL101."""
    if selector == "ALL":
        return 0
    if selector in GROUPS:
        return 1
    return 2 + len(selector) - 3


def selector_matches(selector: str, code: str, group: str) -> bool:
    if selector == "ALL":
        return True
    if selector in GROUPS:
        return group == selector
    return code.startswith(selector)


def is_valid_selector(selector: str) -> bool:
    if selector == "ALL" or selector in GROUPS:
        return True
    return selector.startswith("BKL") and any(c.startswith(selector) for c in all_codes())


@dataclass(frozen=True, slots=True)
class SelectionLayer:
    """One source of selectors (the config file, then the command line)."""

    select: Sequence[str] | None = None
    extend_select: Sequence[str] = ()
    ignore: Sequence[str] = ()


def resolve_selection(layers: Iterable[SelectionLayer]) -> frozenset[str]:
    """The enabled codes. Like ruff: a layer's `select` replaces what earlier
    layers chose; within a layer, selectors apply from least to most specific,
    and at equal specificity `ignore` wins."""
    codes = all_codes()
    enabled = {code for code, group in codes.items() if group == "default"}
    for layer in layers:
        base: set[str] = set() if layer.select is not None else set(enabled)
        entries = [(s, True) for s in (layer.select or ())]
        entries += [(s, True) for s in layer.extend_select]
        entries += [(s, False) for s in layer.ignore]
        for level in sorted({_specificity(s) for s, _ in entries}):
            for want in (True, False):
                for selector, is_select in entries:
                    if _specificity(selector) != level or is_select is not want:
                        continue
                    matched = {c for c, g in codes.items() if selector_matches(selector, c, g)}
                    if want:
                        base |= matched
                    else:
                        base -= matched
        enabled = base
    return frozenset(enabled)
