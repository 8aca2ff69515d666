"""Plain data shared by the engine, the rules and the front ends."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class FixKind(enum.Enum):
    """Whether a rule can fix what it reports, and how safely."""

    NONE = "none"
    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the text between two 1-based (line, column) positions."""

    line: int
    column: int
    end_line: int
    end_column: int
    content: str


@dataclass(frozen=True, slots=True)
class Fix:
    """A proposed change: how safe it is, what it does, and the text edits."""

    applicability: FixKind
    message: str
    edits: tuple[Edit, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "applicability": self.applicability.value,
            "message": self.message,
            "edits": [
                {
                    "line": e.line,
                    "column": e.column,
                    "end_line": e.end_line,
                    "end_column": e.end_column,
                    "content": e.content,
                }
                for e in self.edits
            ],
        }


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One reported problem. Ordering is the report order: path, line, column, code."""

    path: str
    line: int  # 1-based
    column: int  # 1-based, in characters
    code: str
    end_line: int
    end_column: int
    name: str
    message: str
    fix: Fix | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "fix": None if self.fix is None else self.fix.as_dict(),
        }


# Packages of tests and test helpers (`oscar/test/`, `nautobot/core/testing/`):
# their files are test files (`engine.files.is_test_path`), and their settings
# modules serve tests, not a deployment.
NON_PRODUCTION_PACKAGES = frozenset({"test", "tests", "testing"})


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file to lint: where it is, how to show it, and what kind of file it is."""

    path: Path  # absolute
    display: str  # relative to the working directory when below it
    module: str
    is_package: bool  # an __init__.py
    # RULES.md: tests/, test_*.py, *_test.py, conftest.py; also tests.py,
    # test/ and testing/ (`engine.files.is_test_path`)
    is_test: bool
    is_migration: bool = False  # Django migrations, Alembic revisions and env.py
