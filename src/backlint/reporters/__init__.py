"""Output formats: one module per format, each a function of the results."""

from __future__ import annotations

import importlib
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
    description: str = ""  # longer than the summary: what it flags


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

# --format name -> module of backlint.reporters with a `report` function.
# Imported on use: `backlint check` pays only for the format it prints.
FORMATS: dict[str, str] = {
    "text": "text",
    "json": "json_format",
    "sarif": "sarif",
    "github": "github",
    "junit": "junit",
}


def reporter(name: str) -> Reporter:
    module = importlib.import_module(f"{__name__}.{FORMATS[name]}")
    report: Reporter = module.report
    return report
