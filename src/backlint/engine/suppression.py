"""`# noqa` comments and `per-file-ignores`."""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import pathspec

from backlint.registry import selector_matches

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
