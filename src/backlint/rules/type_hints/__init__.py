"""BKL8xx: type hints on public functions and methods."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.python import is_nested_in_function
from backlint.types import SourceFile


@dataclass(frozen=True, slots=True)
class TypeHintOptions:
    # Tests are exempt by default: their signatures are called by pytest, not people.
    include_tests: bool = False
    # Migrations are generated code, run once by the framework.
    include_migrations: bool = False


class TypeHintRule(Rule):
    """Shared by BKL801/BKL802: which defs are public API."""

    markers = ("def ",)
    Options = TypeHintOptions

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        if file.is_test and not options.include_tests:
            return False
        if file.is_migration and not options.include_migrations:
            return False
        return super().applies(file, source, packages, options)

    def is_interface(self, node: cst.FunctionDef) -> bool:
        """Module-level functions and methods; a def nested in a function body is
        an implementation detail (closures, decorator wrappers)."""
        return not is_nested_in_function(self.ctx.scope)
