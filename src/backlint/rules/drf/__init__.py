"""BKL4xx: Django REST Framework."""

from __future__ import annotations

from typing import Any, ClassVar

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import ScopeKind
from backlint.semantics.drf import DrfClasses, drf_classes
from backlint.semantics.index import ProjectIndex
from backlint.types import SourceFile


class DrfClassRule(Rule):
    """Shared by the rules that judge a DRF class as a whole (reported on its
    `class` line): the class's qualified name and the project's DRF classes."""

    frameworks = frozenset({"rest_framework"})
    # Views and serializers in tests serve no one.
    skip_tests = True
    skip_migrations = True  # migrations hold no views or serializers
    # Whether the rule judges views only: modules that define no DRF view
    # (through the project's classes) are then not parsed for it.
    views_only: ClassVar[bool] = False

    @classmethod
    def wants(cls, index: ProjectIndex, file: SourceFile, source: str, options: Any) -> bool:
        if not cls.views_only:
            return True
        facts = index.modules.get(file.module)
        if facts is None or facts.path != str(file.path):
            return True  # not in the index as this file: parse and see
        classes = index.view(drf_classes)
        return any(classes.is_view(f"{file.module}.{name}") for name in facts.classes)

    def module_class(self, node: cst.ClassDef) -> str | None:
        """`<module>.<Name>` for a module-level class (the index knows only
        those), else None."""
        if self.ctx.scope.kind is not ScopeKind.MODULE:
            return None
        return f"{self.ctx.module}.{node.name.value}"

    def judged_class(self, node: cst.ClassDef) -> str | None:
        """The qualified name of a module-level class the index knows and no
        project class derives from (a leaf: what the rules judge), else None."""
        qualname = self.module_class(node)
        if qualname is None:
            return None
        classes = self.classes
        if classes.facts(qualname) is None or not classes.is_leaf(qualname):
            return None
        return qualname

    @property
    def classes(self) -> DrfClasses:
        return self.ctx.index.view(drf_classes)
