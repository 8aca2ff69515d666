"""`path:line:col: CODE message`, then `N findings in M files`."""

from __future__ import annotations

from typing import TextIO

from backlint.reporters import Results
from backlint.types import Finding, FixKind


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else many or word + 's'}"


def format_finding(finding: Finding) -> str:
    marker = " [*]" if finding.fix is not None else ""
    return (
        f"{finding.path}:{finding.line}:{finding.column}: {finding.code}{marker} {finding.message}"
    )


def fix_hint(results: Results) -> str | None:
    """How many findings `--fix` (and `--unsafe-fixes`) would fix: backlint's
    own (other tools' fixes are theirs to apply)."""
    kinds = [
        f.fix.applicability
        for f in results.findings
        if f.fix is not None and f.code not in results.external
    ]
    safe = kinds.count(FixKind.SAFE)
    unsafe = kinds.count(FixKind.UNSAFE)
    if results.unsafe_fixes:
        safe, unsafe = safe + unsafe, 0
    if not safe and not unsafe:
        return None
    hint = f"[*] {safe} fixable with `--fix`" if safe else "No fixes available with `--fix`"
    if unsafe:
        hint += f" ({unsafe} more with `--fix --unsafe-fixes`)"
    return hint


def report(results: Results, out: TextIO) -> None:
    for finding in results.findings:
        out.write(format_finding(finding) + "\n")
    out.write(f"{plural(len(results.findings), 'finding')} in {plural(results.files, 'file')}\n")
    hint = fix_hint(results)
    if hint is not None:
        out.write(hint + "\n")
