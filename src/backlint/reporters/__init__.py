"""Output formats: one module per format, each a function of the results."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from backlint.types import Finding, FixKind


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What a format says about a code: backlint's from the registry, ruff's
    from its output."""

    code: str
    name: str
    summary: str
    url: str | None = None
    help_markdown: str = ""
    fix_kind: FixKind = FixKind.NONE
    tool: str = "backlint"


@dataclass(frozen=True, slots=True)
class Results:
    """Everything a format may print."""

    findings: Sequence[Finding]
    files: int  # files linted
    # Codes that are not backlint's (ruff's), with what is known about them.
    external: Mapping[str, RuleInfo] = field(default_factory=dict)
    # Whether unsafe fixes were asked for (the text format's hint counts them).
    unsafe_fixes: bool = False


Reporter = Callable[[Results, TextIO], None]


def _reporters() -> dict[str, Reporter]:
    from backlint.reporters import github, json_format, junit, sarif, text

    return {
        "text": text.report,
        "json": json_format.report,
        "sarif": sarif.report,
        "github": github.report,
        "junit": junit.report,
    }


REPORTERS: dict[str, Reporter] = _reporters()
