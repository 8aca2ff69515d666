"""BKL402 drf-serializer-all-fields."""

from __future__ import annotations

import libcst as cst

from backlint.rules.drf import DrfClassRule
from backlint.semantics.drf import serializer_is_model_serializer

# `Meta.fields` values meaning every field of the model.
_ALL_FIELDS_NAMES = frozenset({"rest_framework.serializers.ALL_FIELDS"})


class DrfSerializerAllFields(DrfClassRule):
    """A `ModelSerializer` exposes every model field (`fields = "__all__"`).

    What it flags:
    A `ModelSerializer` (or `HyperlinkedModelSerializer`, or a subclass of the
    project's own base serializers) whose `Meta` sets `fields = "__all__"`
    (or `serializers.ALL_FIELDS`), on its `class` line.

    Why:
    The API's shape follows the database: the next column added to the model
    (a password hash, an internal note, a cost price) is published by every
    endpoint using the serializer, and accepted on writes, without anyone
    deciding it. An explicit list makes each exposed field a reviewed change.

    Example:
    ```python
    from django.db import models
    from rest_framework import serializers

    class Customer(models.Model):
        name = models.CharField(max_length=100)
        notes = models.TextField()

    class CustomerSerializer(serializers.ModelSerializer):
        class Meta:
            model = Customer
            fields = "__all__"
    ```

    Use instead:
    ```python
    from django.db import models
    from rest_framework import serializers

    class Customer(models.Model):
        name = models.CharField(max_length=100)
        notes = models.TextField()

    class CustomerSerializer(serializers.ModelSerializer):
        class Meta:
            model = Customer
            fields = ["id", "name"]
    ```

    Not flagged:
    Explicit field lists, `exclude = [...]`; Django `ModelForm`s and
    django-filter `FilterSet`s (not serializers); a subclass whose `Meta`
    inherits `"__all__"` without restating it (the base is reported); classes
    whose bases backlint cannot resolve; test files.

    Fix:
    None: list the fields the API should expose.
    """

    code = "BKL402"
    name = "drf-serializer-all-fields"
    message = '`{serializer}` exposes every model field with `fields = "__all__"`: list them'
    # The quoted value, not a module's `__all__ = [...]` export list.
    markers = ('"__all__"', "'__all__'", "ALL_FIELDS")

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if not self._all_fields(node):
            return
        bases = []
        for arg in node.bases:
            name = self.ctx.qualified_name(arg.value)
            if name is None:
                return
            bases.append(name)
        if serializer_is_model_serializer(self.classes, bases):
            self.report(node, serializer=node.name.value)

    def _all_fields(self, node: cst.ClassDef) -> bool:
        """Whether the class's own `Meta` sets `fields = "__all__"`."""
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
        for stmt in body:
            if isinstance(stmt, cst.ClassDef) and stmt.name.value == "Meta":
                inner = stmt.body.body if isinstance(stmt.body, cst.IndentedBlock) else ()
                lines = [s for s in inner if isinstance(s, cst.SimpleStatementLine)]
                if isinstance(stmt.body, cst.SimpleStatementSuite):
                    smalls = list(stmt.body.body)
                else:
                    smalls = [small for line in lines for small in line.body]
                for small in smalls:
                    if (
                        isinstance(small, cst.Assign)
                        and any(
                            isinstance(t.target, cst.Name) and t.target.value == "fields"
                            for t in small.targets
                        )
                        and self._is_all(small.value)
                    ):
                        return True
        return False

    def _is_all(self, value: cst.BaseExpression) -> bool:
        if isinstance(value, cst.SimpleString):
            return value.evaluated_value == "__all__"
        return self.ctx.qualified_name(value) in _ALL_FIELDS_NAMES
