"""Fix edits (BKL802's `-> None`) are proven: applied, the code parses, reads
as intended, and linting again finds nothing left to fix."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from conftest import pyproject, write_tree

from backlint.config import load_config
from backlint.engine.check import check, settings_for
from backlint.types import Edit, Finding

SELECT = pyproject('select = ["BKL802"]')

# `-> None` is fixed where it is certain: not for async functions, functions
# returning a value, properties, generators, abstract methods, stubs or overload
# signatures; a nested function's `return` and a lambda's `yield` are their own.
SOURCE = """\
import abc
import functools
import typing


def top(a: int):
    print(a)


class Order:
    # A comment line before the method.
    def save(self, *args: object):
        print(args)

    @functools.cache
    @staticmethod
    def decorated(
        x: int,
        y: int = 0,
    ):  # trailing comment
        print(x, y)

    class Meta:
        def nested(self):
            if self:
                print("é — ü")


async def not_fixed(a: int):
    print(a)


def also_not_fixed(a: int):
    return a


class Shapes(abc.ABC):
    @property
    def area(self):
        print(self)

    def rows(self):
        yield 1

    @abc.abstractmethod
    def charge(self):
        print("subclasses may return a value")

    def stub(self):
        raise NotImplementedError


@typing.overload
def parse(value: int): ...
@typing.overload
def parse(value: str): ...
def parse(value):
    print(value)


def outer(a: int):
    def inner():
        return a

    rows = (lambda: (yield))
    print(inner(), rows)
"""

EXPECTED = """\
import abc
import functools
import typing


def top(a: int) -> None:
    print(a)


class Order:
    # A comment line before the method.
    def save(self, *args: object) -> None:
        print(args)

    @functools.cache
    @staticmethod
    def decorated(
        x: int,
        y: int = 0,
    ) -> None:  # trailing comment
        print(x, y)

    class Meta:
        def nested(self) -> None:
            if self:
                print("é — ü")


async def not_fixed(a: int):
    print(a)


def also_not_fixed(a: int):
    return a


class Shapes(abc.ABC):
    @property
    def area(self):
        print(self)

    def rows(self):
        yield 1

    @abc.abstractmethod
    def charge(self):
        print("subclasses may return a value")

    def stub(self):
        raise NotImplementedError


@typing.overload
def parse(value: int): ...
@typing.overload
def parse(value: str): ...
def parse(value) -> None:
    print(value)


def outer(a: int) -> None:
    def inner():
        return a

    rows = (lambda: (yield))
    print(inner(), rows)
"""


def lint_with_edits(root: Path) -> list[Finding]:
    config = load_config(root)
    settings = dataclasses.replace(settings_for(config), want_edits=True)
    return check([root], config, settings, cwd=root, jobs=1, use_cache=False).findings


def apply(source: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (1-based line/column, columns in characters)."""
    newline = "\r\n" if "\r\n" in source else "\n"
    lines = source.split(newline)
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + len(newline))

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column - 1

    for edit in sorted(edits, key=lambda e: (e.line, e.column), reverse=True):
        start, end = offset(edit.line, edit.column), offset(edit.end_line, edit.end_column)
        source = source[:start] + edit.content + source[end:]
    return source


@pytest.mark.parametrize(
    ("label", "transform"),
    [
        ("spaces", lambda s: s),
        ("crlf", lambda s: s.replace("\n", "\r\n")),
        ("tabs", lambda s: s.replace("    ", "\t")),
        # Syntax this Python's ast rejects makes positions come from codegen
        # of the whole module: the edits must be the same.
        ("ast-fallback", lambda s: s + "\n\nprint(f'{'\\n'.join([])}')  # 3.12 f-string\n"),
    ],
)
def test_return_none_fixes_apply_cleanly(project: Path, label: str, transform: object) -> None:
    assert callable(transform)
    source = transform(SOURCE)
    expected = transform(EXPECTED)
    write_tree(project, {"pyproject.toml": SELECT, "shop.py": source})
    findings = lint_with_edits(project)
    fixed = [f for f in findings if f.fix is not None]
    assert [f.line for f in fixed] == [6, 12, 17, 24, 57, 61]
    edits = [edit for f in fixed for edit in f.fix.edits]
    assert len(edits) == 6
    assert all(e.content == " -> None" for e in edits)
    result = apply(source, edits)
    assert result == expected
    if label != "ast-fallback":  # (3.12 syntax: this Python may not parse it)
        ast.parse(result)
    # Converged: applied once, nothing is left to fix.
    write_tree(project, {"shop.py": result})
    assert [f.line for f in lint_with_edits(project) if f.fix is not None] == []
