"""BKL2xx: FastAPI."""

from __future__ import annotations

from typing import Any, ClassVar

from backlint.rule import Rule
from backlint.types import SourceFile


class FastAPIRule(Rule):
    """Shared by the FastAPI rules of the route contract and session hygiene:
    routes never live in migrations, and routes in test files are scaffolding."""

    frameworks = frozenset({"fastapi"})
    skip_tests = True
    # Top-level packages one of which the project must also use (an ORM).
    needs: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        if file.is_migration or (cls.needs and not cls.needs & packages):
            return False
        return super().applies(file, source, packages, options)
