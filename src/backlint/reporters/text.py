"""`path:line:col: CODE message`, then `N findings in M files`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from backlint.types import Finding


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def format_finding(finding: Finding) -> str:
    marker = " [*]" if finding.fix is not None else ""
    return (
        f"{finding.path}:{finding.line}:{finding.column}: {finding.code}{marker} {finding.message}"
    )


def report(findings: Sequence[Finding], files: int, out: TextIO) -> None:
    for finding in findings:
        out.write(format_finding(finding) + "\n")
    out.write(f"{plural(len(findings), 'finding')} in {plural(files, 'file')}\n")
