"""Baselines, for adopting backlint on legacy code.

`backlint check --write-baseline FILE` records the current findings;
`--baseline FILE` then reports only the findings that are not in it. An entry
is keyed by the file (relative to the project root), the code and a
fingerprint of the flagged statement's normalised text: the tokens of the
logical line the finding is on, without comments, indentation or line breaks.
Unrelated edits (lines added above, reindenting, a comment) keep the key; an
edit to the flagged statement itself makes the finding new. Identical keys are
counted: a baseline with two `Order.objects.get(pk=pk)` findings in a file
accepts two and reports a third.

Entries of files and codes that were checked but no longer occur are stale:
they are reported, and `--write-baseline` drops them. Entries of files or codes
outside the run (pre-commit passes a few files, `--select` a few codes) are
kept as they are.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tokenize
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from backlint.engine.reading import SourceError
from backlint.engine.source import decode
from backlint.types import Finding

VERSION = 1

Key = tuple[str, str, str]  # path relative to the project root, code, fingerprint

_SKIPPED = frozenset(
    {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
    }
)
_SPACE = re.compile(r"\s+")


class BaselineError(Exception):
    """A baseline file that cannot be read."""


@dataclass(frozen=True, slots=True, order=True)
class Entry:
    path: str
    code: str
    fingerprint: str
    count: int = 1
    # For people reading the file (and the stale report); not part of the key.
    message: str = ""

    @property
    def key(self) -> Key:
        return (self.path, self.code, self.fingerprint)


def relative_path(finding_path: str, cwd: Path, root: Path) -> str:
    """A finding's path (relative to the working directory, or absolute) as a
    path relative to the project root."""
    absolute = Path(finding_path)
    if not absolute.is_absolute():
        absolute = cwd / absolute
    try:
        return PurePosixPath(absolute.resolve().relative_to(root.resolve()).as_posix()).as_posix()
    except ValueError:
        return absolute.as_posix()


def _logical_lines(text: str) -> dict[int, str] | None:
    """Physical line -> normalised text of the logical line holding it."""
    out: dict[int, str] = {}
    tokens: list[str] = []
    first: int | None = None
    try:
        for kind, string, (line, _), _, _ in tokenize.generate_tokens(io.StringIO(text).readline):
            if kind in _SKIPPED:
                if kind in (tokenize.NEWLINE, tokenize.ENDMARKER) and first is not None:
                    normal = " ".join(tokens)
                    for number in range(first, line + 1):
                        out.setdefault(number, normal)
                    tokens, first = [], None
                continue
            if first is None:
                first = line
            tokens.append(string)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    return out


class Fingerprinter:
    """Fingerprints of findings, reading each file once."""

    def __init__(self, cwd: Path, root: Path) -> None:
        self.cwd = cwd
        self.root = root
        self._files: dict[str, tuple[dict[int, str] | None, list[str]]] = {}

    def _file(self, path: str) -> tuple[dict[int, str] | None, list[str]]:
        if path not in self._files:
            absolute = Path(path) if Path(path).is_absolute() else self.cwd / path
            try:
                text = decode(absolute.read_bytes()).text
            except (OSError, SourceError):
                text = ""
            self._files[path] = (_logical_lines(text), re.split(r"\r\n?|\n", text))
        return self._files[path]

    def statement(self, finding: Finding) -> str:
        logical, lines = self._file(finding.path)
        if logical is not None:
            found = logical.get(finding.line)
            if found:
                return found
        physical = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
        return _SPACE.sub(" ", physical.strip())

    def key(self, finding: Finding) -> Key:
        text = self.statement(finding)
        digest = hashlib.sha256(f"{finding.code}\0{text}".encode()).hexdigest()[:16]
        return (relative_path(finding.path, self.cwd, self.root), finding.code, digest)


@dataclass(frozen=True, slots=True)
class Baseline:
    entries: tuple[Entry, ...]

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BaselineError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BaselineError(f"{path}: cannot read: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise BaselineError(f"{path}: not a backlint baseline (version {VERSION})")
        entries: list[Entry] = []
        for item in data.get("findings", []):
            try:
                entries.append(
                    Entry(
                        str(item["path"]),
                        str(item["code"]),
                        str(item["fingerprint"]),
                        int(item.get("count", 1)),
                        str(item.get("message", "")),
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise BaselineError(f"{path}: malformed entry {item!r}") from None
        return cls(tuple(entries))

    def counts(self) -> Counter[Key]:
        out: Counter[Key] = Counter()
        for entry in self.entries:
            out[entry.key] += entry.count
        return out


def entries_of(findings: Iterable[Finding], keys: Callable[[Finding], Key]) -> list[Entry]:
    counts: Counter[Key] = Counter()
    messages: dict[Key, str] = {}
    for finding in findings:
        key = keys(finding)
        counts[key] += 1
        messages.setdefault(key, finding.message)
    return sorted(Entry(*key, count, messages[key]) for key, count in counts.items())


@dataclass(frozen=True, slots=True)
class Scope:
    """What a run checked: baseline entries outside it are left alone."""

    paths: Collection[str]  # relative to the project root
    codes: Callable[[str], bool]

    def covers(self, entry: Entry) -> bool:
        return entry.path in self.paths and self.codes(entry.code)


def apply(
    baseline: Baseline, findings: Sequence[Finding], keys: Callable[[Finding], Key], scope: Scope
) -> tuple[list[Finding], list[Entry]]:
    """The findings not in the baseline, and the baseline entries (within the
    run's scope) that no longer occur, with the number missing as count."""
    allowed = baseline.counts()
    seen: Counter[Key] = Counter()
    new: list[Finding] = []
    for finding in findings:
        key = keys(finding)
        seen[key] += 1
        if seen[key] > allowed.get(key, 0):
            new.append(finding)
    stale: list[Entry] = []
    for entry in baseline.entries:
        if not scope.covers(entry):
            continue
        missing = allowed[entry.key] - seen.get(entry.key, 0)
        if missing > 0:
            stale.append(Entry(entry.path, entry.code, entry.fingerprint, missing, entry.message))
            allowed[entry.key] -= missing  # report a key once
    return new, stale


def merged(previous: Baseline | None, current: list[Entry], scope: Scope) -> list[Entry]:
    """The entries to write: the run's, plus the previous ones outside its scope."""
    kept = [e for e in previous.entries if not scope.covers(e)] if previous else []
    return sorted(kept + current)


def dump(entries: Sequence[Entry]) -> str:
    document = {
        "version": VERSION,
        "tool": "backlint",
        "comment": (
            "Findings accepted when backlint was adopted; `backlint check --baseline "
            "FILE` reports only the others. Regenerate with --write-baseline FILE."
        ),
        "findings": [
            {
                "path": e.path,
                "code": e.code,
                "fingerprint": e.fingerprint,
                "count": e.count,
                "message": e.message,
            }
            for e in entries
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
