"""BKL8xx: type hints where frameworks and callers read them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.entry_points import EntryPoint, entry_point, may_define_entry_points
from backlint.semantics.index import ProjectIndex
from backlint.semantics.python import is_nested_in_function
from backlint.types import SourceFile

# `scope` values: framework entry points and the service layer (the default),
# or every public function and method.
ENTRY_POINTS = "entry-points"
PUBLIC = "public"
SCOPES = (ENTRY_POINTS, PUBLIC)

# Directories of code copied in from elsewhere: not the project's to annotate.
VENDORED_DIRS = frozenset({"_vendor", "vendor", "vendored", "_vendored", "third_party"})

# An Alembic revision wherever it lives (`db/revisions/`, `app/migrations.py`
# layouts the path test misses): it names its parent revision and upgrades.
_ALEMBIC_REVISION = re.compile(r"^down_revision\b.*?^def upgrade\(", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class TypeHintOptions:
    # "entry-points": routes, dependencies, DRF views and serializers, Celery
    # tasks and the service layer; "public": every public function and method.
    scope: str = ENTRY_POINTS
    # Tests are exempt by default: their signatures are called by pytest, not people.
    include_tests: bool = False
    # Migrations are generated code, run once by the framework.
    include_migrations: bool = False

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            # Imported here: the config module imports the rule registry.
            from backlint.config import ConfigError

            raise ConfigError(
                f"scope: expected one of {', '.join(map(repr, SCOPES))}, got {self.scope!r}"
            )


def is_vendored(file: SourceFile) -> bool:
    """Under a `_vendor/`, `vendor/`, `vendored/` or `third_party/` directory
    (as a package of the module's name, or in the path shown when relative)."""
    parts = set(file.module.split(".")[:-1])
    display = PurePosixPath(file.display)
    if not display.is_absolute():
        parts.update(display.parts[:-1])
    return not parts.isdisjoint(VENDORED_DIRS)


def is_alembic_revision(source: str) -> bool:
    return "down_revision" in source and _ALEMBIC_REVISION.search(source) is not None


class TypeHintRule(Rule):
    """Shared by BKL801/BKL802: which defs need their hints."""

    markers = ("def ",)
    Options = TypeHintOptions

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        if file.is_test and not options.include_tests:
            return False
        if not options.include_migrations and (file.is_migration or is_alembic_revision(source)):
            return False
        if is_vendored(file):
            return False
        return super().applies(file, source, packages, options)

    @classmethod
    def wants(cls, index: ProjectIndex, file: SourceFile, source: str, options: Any) -> bool:
        # By default only entry points are judged: a module that can define
        # none is not parsed for these rules (most of a Django tree).
        return options.scope == PUBLIC or may_define_entry_points(index, file, source)

    def needs_hints(self, node: cst.FunctionDef, public: bool) -> EntryPoint | bool:
        """Whether the def is judged: an entry point (which one, for the
        message), or with `scope = "public"` any public def that is not nested
        in a function body (closures and decorator wrappers are not an
        interface). `public`: the rule's own test of the name."""
        scope = self.ctx.scope
        found = entry_point(self.ctx, node, scope)
        if found is not None and found.read_by_framework:
            return found
        if not public or is_nested_in_function(scope):
            return False
        if self.options.scope == PUBLIC:
            return found or True
        return found or False
