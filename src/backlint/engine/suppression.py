"""`# noqa` comments and `per-file-ignores`."""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import pathspec

from backlint.registry import all_codes, selector_matches

# flake8's syntax: a bare noqa comment, or noqa, a colon and codes separated by
# commas or spaces.
_NOQA = re.compile(
    r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Noqa:
    """Per physical line: None for a blanket `# noqa`, else the codes it names."""

    by_line: dict[int, frozenset[str] | None]
    # physical line -> (first, last) line of the logical line containing it
    logical: dict[int, tuple[int, int]]

    def suppresses(self, line: int, code: str) -> bool:
        first, last = self.logical.get(line, (line, line))
        for number in range(first, last + 1):
            if number not in self.by_line:
                continue
            codes = self.by_line[number]
            if codes is None or any(code.startswith(c) for c in codes):
                return True
        return False


NO_NOQA = Noqa({}, {})


def parse_noqa(source: str) -> Noqa:
    """The noqa comments of a file (a tokenize pass, only when "noqa" occurs)."""
    if "noqa" not in source and "NOQA" not in source:
        return NO_NOQA
    by_line: dict[int, frozenset[str] | None] = {}
    logical: dict[int, tuple[int, int]] = {}
    start: int | None = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, text, (line, _), (end_line, _), _ = token
            if kind == tokenize.COMMENT:
                match = _NOQA.search(text)
                if match:
                    codes = match.group("codes")
                    by_line[line] = (
                        frozenset(c.upper() for c in _CODE.findall(codes)) if codes else None
                    )
            if kind in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                continue
            if start is None and kind not in (tokenize.NEWLINE, tokenize.ENDMARKER):
                start = line
            if kind in (tokenize.NEWLINE, tokenize.ENDMARKER) and start is not None:
                for number in range(start, end_line + 1):
                    logical[number] = (start, end_line)
                start = None
    except (tokenize.TokenError, SyntaxError):
        pass
    return Noqa(by_line, logical)


class PerFileIgnores:
    """`per-file-ignores`: glob patterns (relative to the project root) -> selectors."""

    def __init__(self, entries: Sequence[tuple[str, Sequence[str]]]) -> None:
        self.entries = [
            (pathspec.GitIgnoreSpec.from_lines([pattern]), tuple(selectors))
            for pattern, selectors in entries
        ]

    def selectors_for(self, relative: PurePosixPath) -> tuple[str, ...]:
        found: list[str] = []
        for spec, selectors in self.entries:
            if spec.match_file(relative.as_posix()):
                found.extend(selectors)
        return tuple(found)


def ignored(code: str, group: str, selectors: Sequence[str]) -> bool:
    return any(selector_matches(s, code, group) for s in selectors)


def unused_noqa(
    source: str, enabled: Collection[str], suppressed: Sequence[tuple[int, str]]
) -> list[tuple[int, int, int, str]]:
    """BKL003: the noqa comments naming backlint codes that suppressed nothing,
    as (line, column, end column, message).

    Judged: `BKL` codes and prefixes every code of which is `enabled` for the
    file (a code that is not selected might have fired), and `BKL` codes that
    name no rule. Left alone: a blanket `# noqa`, other tools' codes, and a
    comment that names BKL003 itself.
    """
    noqa = parse_noqa(source)
    if not noqa.by_line:
        return []
    codes = all_codes()
    lines = re.split(r"\r\n?|\n", source)
    out: list[tuple[int, int, int, str]] = []
    for line, named in sorted(noqa.by_line.items()):
        if named is None or any("BKL003".startswith(c) for c in named):
            continue
        unused: list[str] = []
        unknown: list[str] = []
        for entry in sorted(named):
            if not entry.startswith("BKL"):
                continue
            matching = [c for c in codes if c.startswith(entry)]
            if not matching:
                unknown.append(entry)
                continue
            if not all(c in enabled for c in matching):
                continue
            used = any(
                code.startswith(entry)
                and noqa.logical.get(at, (at, at))[0] <= line <= noqa.logical.get(at, (at, at))[1]
                for at, code in suppressed
            )
            if not used:
                unused.append(entry)
        if not unused and not unknown:
            continue
        parts = []
        if unused:
            parts.append(f"{', '.join(unused)} suppress{'es' if len(unused) == 1 else ''} nothing")
        if unknown:
            parts.append(f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} no rule")
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        match = _NOQA.search(text)
        column = match.start() + 1 if match else 1
        end = match.end() + 1 if match else 1
        out.append((line, column, end, f"unused `noqa`: {'; '.join(parts)}"))
    return out
