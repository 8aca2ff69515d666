"""Applying fixes: `--fix`, `--unsafe-fixes`, `--diff`.

A rule proposes a fix as a replacement node; the runner turns it into the
smallest text `Edit` (the common prefix and suffix of the old and new code are
left alone). Here a file's fixes are applied in passes, re-linting the fixed
text after each, until nothing applicable is left:

* a pass applies every applicable fix whose edits do not overlap one already
  taken in that pass (the others wait for the next pass, on re-linted text);
* a pass's result must still parse, and compile when the original compiled
  (so `await` never lands outside an `async def`); a fix that breaks it is
  dropped and reported as a backlint bug, the others stay;
* a fix is never applied twice: a finding of the same rule whose fix lies
  within text that rule already wrote is not fixed again, and the loop stops after
  `MAX_PASSES` passes or when a text comes back;
* everything outside the edited ranges is kept byte for byte: the text is
  decoded and encoded with the file's own encoding (BOM included), edits carry
  the file's line ending, and the file is replaced atomically (a temporary file
  in the same directory, renamed over it) with its permission bits, only when
  it did not change on disk meanwhile.
"""

from __future__ import annotations

import ast
import codecs
import contextlib
import difflib
import os
import re
import stat
import tempfile
import warnings
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backlint.engine.files import SourceFile
from backlint.engine.reading import SourceError
from backlint.engine.runner import lint_path, lint_text
from backlint.engine.settings import RunSettings
from backlint.engine.source import decode, parse
from backlint.semantics.index import ProjectIndex
from backlint.types import Edit, Finding, Fix, FixKind

# ruff stops at 100; a backlint fix that needs more than a few passes is a bug
# (fixes of one rule never overlap themselves, so two passes usually suffice).
MAX_PASSES = 10

_NEWLINE = re.compile(r"\r\n?|\n")


@dataclass(frozen=True, slots=True)
class FixMode:
    """What `--fix`, `--unsafe-fixes` and `--diff` asked for."""

    unsafe: bool = False  # apply fixes marked unsafe too
    write: bool = True  # False for --diff: compute, never write


def applicable(fix: Fix | None, unsafe: bool) -> bool:
    if fix is None or not fix.edits:
        return False
    return fix.applicability is FixKind.SAFE or (unsafe and fix.applicability is FixKind.UNSAFE)


@dataclass(frozen=True, slots=True)
class FileFix:
    """The fixes applied to one file (in memory: `write_fix` puts them on disk)."""

    path: Path
    display: str
    data: bytes  # the file's bytes when it was read
    fixed: bytes  # the fixed file's bytes
    original_text: str
    fixed_text: str
    applied: int  # fixes applied
    by_code: dict[str, int] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # fixes left out, loops stopped: backlint bugs

    @property
    def changed(self) -> bool:
        return self.fixed != self.data

    def diff(self) -> str:
        """A unified diff, `a/` and `b/` prefixed like git's."""
        old = self.original_text.splitlines(keepends=True)
        new = self.fixed_text.splitlines(keepends=True)
        lines = difflib.unified_diff(old, new, f"a/{self.display}", f"b/{self.display}")
        out: list[str] = []
        for line in lines:
            if not line.endswith(("\n", "\r")):
                line += "\n\\ No newline at end of file\n"
            out.append(line)
        return "".join(out)


class _Lines:
    """(line, column) positions -> offsets, with the lines `positions.py` counts
    (`\\r\\n`, `\\r` and `\\n` each end one)."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
        self.length = len(text)

    def offset(self, line: int, column: int) -> int:
        if not 0 < line <= len(self.starts):
            raise ValueError(f"line {line} is outside the file")
        offset = self.starts[line - 1] + column - 1
        if offset > self.length:
            raise ValueError(f"{line}:{column} is outside the file")
        return offset


Range = tuple[int, int, str]  # start, end (offsets), replacement


def edit_ranges(text: str, edits: Sequence[Edit]) -> list[Range]:
    lines = _Lines(text)
    out: list[Range] = []
    for edit in edits:
        start = lines.offset(edit.line, edit.column)
        end = lines.offset(edit.end_line, edit.end_column)
        if end < start:
            raise ValueError(f"edit ends before it starts: {edit}")
        out.append((start, end, edit.content))
    return out


def apply_ranges(text: str, ranges: Sequence[Range]) -> str:
    """Apply non-overlapping ranges (any order)."""
    pieces: list[str] = []
    previous = 0
    for start, end, content in sorted(ranges, key=lambda r: (r[0], r[1])):
        pieces.append(text[previous:start])
        pieces.append(content)
        previous = end
    pieces.append(text[previous:])
    return "".join(pieces)


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping edits (1-based lines and columns, in characters)."""
    return apply_ranges(text, edit_ranges(text, edits))


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    # Two insertions at one place conflict too: their order would be a guess.
    return (a[0] < b[1] and b[0] < a[1]) or a[0] == b[0]


def _compiles(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, "<fixed>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
            compile(text, "<fixed>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return True


def _parses(text: str) -> bool:
    try:
        parse(text)
    except (SourceError, RecursionError, MemoryError):
        return False
    return True


class _Validator:
    """Whether a fixed text is still valid code: as valid as the original."""

    def __init__(self, original: str) -> None:
        self.strict = _compiles(original)

    def ok(self, text: str) -> bool:
        if self.strict:
            return _compiles(text) and _parses(text)
        return _parses(text)


@dataclass
class _Candidate:
    finding: Finding
    ranges: list[Range]

    @property
    def span(self) -> tuple[int, int]:
        return min(r[0] for r in self.ranges), max(r[1] for r in self.ranges)


def _shift(regions: list[Range], applied: Sequence[Range]) -> list[Range]:
    """Move `regions` (start, end, code) through the `applied` edits."""
    out: list[Range] = []
    for start, end, code in regions:
        delta_start = delta_end = 0
        for a_start, a_end, content in applied:
            delta = len(content) - (a_end - a_start)
            if a_end <= start:
                delta_start += delta
            if a_end <= end:
                delta_end += delta
        out.append((start + delta_start, end + delta_end, code))
    return out


def fix_text(
    file: SourceFile,
    text: str,
    findings: list[Finding],
    settings: RunSettings,
    index: ProjectIndex,
    unsafe: bool,
) -> tuple[str, list[Finding], dict[str, int], list[str]]:
    """Apply `findings`' applicable fixes to `text`, re-linting until none is
    left. Returns the fixed text, its findings, the fixes applied per code and
    the problems met."""
    validator = _Validator(text)
    applied: dict[str, int] = {}
    problems: list[str] = []
    written: list[Range] = []  # text each rule wrote: (start, end, code)
    rejected: set[tuple[str, tuple[tuple[str, str], ...]]] = set()  # fixes that broke the code
    seen = {text}
    for _ in range(MAX_PASSES):
        candidates: list[_Candidate] = []
        for finding in findings:
            if not applicable(finding.fix, unsafe):
                continue
            assert finding.fix is not None
            try:
                ranges = edit_ranges(text, finding.fix.edits)
            except ValueError as exc:
                problems.append(f"{finding.code} at line {finding.line}: bad fix: {exc}")
                continue
            key = (finding.code, tuple((text[s:e], c) for s, e, c in ranges))
            if key in rejected:
                continue
            if any(text[start:end] != content for start, end, content in ranges):
                candidates.append(_Candidate(finding, ranges))  # (not a no-op)
        chosen: list[_Candidate] = []
        for candidate in sorted(candidates, key=lambda c: c.span):
            span = candidate.span
            # Within (or at the edge of) text the same rule wrote: `z` -> `zz`
            # -> `zzz`. A larger node around it is another finding.
            again = any(
                code == candidate.finding.code and start <= span[0] and span[1] <= end
                for start, end, code in written
            )
            if again:
                problems.append(
                    f"{candidate.finding.code} at line {candidate.finding.line}: the fix was "
                    "applied already and the finding is still there; not applied again"
                )
                continue
            if not any(_overlaps(span, other.span) for other in chosen):
                chosen.append(candidate)
        if not chosen:
            break
        new = apply_ranges(text, [r for c in chosen for r in c.ranges])
        if not validator.ok(new):
            # Keep the fixes that are valid alone; report the others.
            good: list[_Candidate] = []
            for candidate in chosen:
                if validator.ok(apply_ranges(text, candidate.ranges)):
                    good.append(candidate)
                else:
                    problems.append(
                        f"{candidate.finding.code} at line {candidate.finding.line}: the fix "
                        "would leave code that does not parse; not applied"
                    )
                    key = (
                        candidate.finding.code,
                        tuple((text[s:e], c) for s, e, c in candidate.ranges),
                    )
                    rejected.add(key)
            # Valid alone, yet not together (it never happened): one per pass.
            together = apply_ranges(text, [r for c in good for r in c.ranges])
            chosen = good if validator.ok(together) else good[:1]
            if not chosen:
                break
            new = apply_ranges(text, [r for c in chosen for r in c.ranges])
        ranges = [r for c in chosen for r in c.ranges]
        written = _shift(written, ranges)
        for candidate in chosen:
            code = candidate.finding.code
            applied[code] = applied.get(code, 0) + 1
            for start, _end, content in candidate.ranges:
                # Chosen ranges never overlap nor share a start: those before
                # this one are those that start before it.
                before = sum(len(c) - (e - s) for s, e, c in ranges if s < start)
                written.append((start + before, start + before + len(content), code))
        text = new
        findings = lint_text(file, text, settings, index)
        if text in seen:
            problems.append("the fixes undo each other; stopped")
            break
        seen.add(text)
    else:
        if any(applicable(f.fix, unsafe) for f in findings):
            problems.append(f"fixes did not converge after {MAX_PASSES} passes; stopped")
    return text, findings, applied, problems


def _encode(text: str, encoding: str, bom: bool) -> bytes:
    data = text.encode(encoding)
    return codecs.BOM_UTF8 + data if bom else data


def fix_file(
    file: SourceFile,
    findings: list[Finding],
    settings: RunSettings,
    index: ProjectIndex,
    unsafe: bool,
) -> tuple[list[Finding], FileFix | None]:
    """Fix one file in memory. Returns its findings after fixing and the fix
    (None when no applicable fix was found)."""
    if not any(applicable(f.fix, unsafe) for f in findings):
        return findings, None
    try:
        data = file.path.read_bytes()
        source = decode(data)
    except (OSError, SourceError):
        return findings, None
    text, after, by_code, problems = fix_text(file, source.text, findings, settings, index, unsafe)
    try:
        fixed = _encode(text, source.encoding, source.bom)
    except (UnicodeEncodeError, LookupError) as exc:
        problems.append(f"the fixed text cannot be written as {source.encoding}: {exc}")
        return findings, FileFix(
            file.path, file.display, data, data, source.text, source.text, 0, {}, tuple(problems)
        )
    return after, FileFix(
        file.path,
        file.display,
        data,
        fixed,
        source.text,
        text,
        sum(by_code.values()),
        by_code,
        tuple(problems),
    )


def fix_many(
    files: Sequence[SourceFile],
    settings: RunSettings,
    index: ProjectIndex,
    tables: Mapping[str, array[int] | None],
    unsafe: bool,
) -> tuple[list[Finding], list[FileFix]]:
    """`runner.lint_many` that also fixes each file in memory."""
    out: list[Finding] = []
    fixes: list[FileFix] = []
    for file in files:
        key = str(file.path)
        findings = (
            lint_path(file, settings, index, tables[key])
            if key in tables
            else lint_path(file, settings, index)
        )
        findings, fixed = fix_file(file, findings, settings, index, unsafe)
        out.extend(findings)
        if fixed is not None:
            fixes.append(fixed)
    return out, fixes


class FileChangedError(Exception):
    """The file changed on disk after it was read: it is left alone."""


def write_atomically(path: Path, data: bytes, expected: bytes | None = None) -> None:
    """Replace `path`'s content with `data`: a temporary file in the same
    directory, with `path`'s permission bits (and owner, where allowed), renamed
    over it. A symbolic link is followed: its target is replaced. With
    `expected`, the file is left alone if it no longer holds those bytes."""
    real = Path(os.path.realpath(path))
    if expected is not None and real.read_bytes() != expected:
        raise FileChangedError(str(path))
    info = real.stat()
    fd, name = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(stat.S_IMODE(info.st_mode))
        if hasattr(os, "chown"):
            with contextlib.suppress(OSError):
                os.chown(temporary, info.st_uid, info.st_gid)
        temporary.replace(real)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
