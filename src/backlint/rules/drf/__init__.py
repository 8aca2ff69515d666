"""BKL4xx: Django REST Framework."""

from __future__ import annotations

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import ScopeKind
from backlint.semantics.drf import DrfClasses, drf_classes


class DrfClassRule(Rule):
    """Shared by the rules that judge a DRF class as a whole (reported on its
    `class` line): the class's qualified name and the project's DRF classes."""

    frameworks = frozenset({"rest_framework"})
    # Views and serializers in tests serve no one.
    skip_tests = True

    def module_class(self, node: cst.ClassDef) -> str | None:
        """`<module>.<Name>` for a module-level class (the index knows only
        those), else None."""
        if self.ctx.scope.kind is not ScopeKind.MODULE:
            return None
        return f"{self.ctx.module}.{node.name.value}"

    @property
    def classes(self) -> DrfClasses:
        return self.ctx.index.view(drf_classes)
