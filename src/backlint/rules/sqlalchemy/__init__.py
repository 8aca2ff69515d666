"""BKL5xx: SQLAlchemy."""

from __future__ import annotations

from typing import Any

from backlint.rule import Rule
from backlint.semantics.sqlalchemy import ORM_PACKAGES
from backlint.types import SourceFile


class SQLAlchemyRule(Rule):
    """Shared by the SQLAlchemy rules: projects using SQLAlchemy, SQLModel or
    flask-sqlalchemy; not migrations (a schema change script is not the app)
    nor tests."""

    frameworks = ORM_PACKAGES
    skip_tests = True

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        return not file.is_migration and super().applies(file, source, packages, options)
