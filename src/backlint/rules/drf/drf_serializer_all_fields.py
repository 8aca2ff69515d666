"""BKL402 drf-serializer-all-fields."""

from __future__ import annotations

import libcst as cst

from backlint.rules.drf import DrfClassRule
from backlint.semantics.django import Model
from backlint.semantics.drf import serializer_is_model_serializer
from backlint.semantics.facts import const_str, dotted
from backlint.semantics.tree import descendants

# `Meta.fields` values meaning every field of the model.
_ALL_FIELDS_NAMES = frozenset({"rest_framework.serializers.ALL_FIELDS"})
# Where DRF turns `Meta.fields` into the list of fields a serializer renders.
_HOOK = "get_field_names"
# The serializer's own field lists, which `super()`'s methods walk.
_FIELD_LISTS = frozenset({"fields", "_readable_fields", "_writable_fields", "get_fields"})


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

    A serializer whose `Meta` inherits `"__all__"` from a base serializer of
    an abstract model (`class Meta(StorageSerializer.Meta): model =
    S3Storage`) is reported too: the base is not (see below), and the
    `"__all__"` takes effect in the subclass.

    Not flagged:
    Explicit field lists, `exclude = [...]`; Django `ModelForm`s and
    django-filter `FilterSet`s (not serializers); a subclass whose `Meta`
    inherits `"__all__"` without restating it (the base is reported);
    serializers whose `Meta.model` is an abstract model (DRF refuses to use
    them: they are bases, and their concrete subclasses are judged);
    serializers whose class or a project base overrides `get_field_names()`,
    where DRF turns `"__all__"` into the field list: the project curates what
    `"__all__"` means there (drops internal fields, adds its own), and
    `"__all__"` is its convention (a denylist in `to_representation()` is
    not that, and is still flagged); serializers whose own
    `to_representation()` builds the output by hand (never calls `super()`
    nor reads `self.fields`: the keys it picks are the API) and whose input
    does not follow `"__all__"` either: their own `to_internal_value()` built
    by hand, or their own `create()` and `update()` reading `validated_data`
    key by key (`validated_data["name"]`, `.get("name")`); when only the
    output is built by hand, the finding says that the serializer accepts
    every field on writes (a nested serializer whose parent writes
    `**validated_data`, the default `create()`); classes whose bases
    backlint cannot resolve; test files. A hand-built `to_representation()`
    inherited from a project base is not seen (the base's body is not in
    view): still reported.

    Fix:
    None: list the fields the API should expose.
    """

    code = "BKL402"
    name = "drf-serializer-all-fields"
    message = '`{serializer}` {what} with `fields = "__all__"`: list them'
    # The quoted value, not a module's `__all__ = [...]` export list.
    markers = ('"__all__"', "'__all__'", "ALL_FIELDS")

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        meta = _meta(node)
        if meta is None:
            return
        bases = []
        for arg in node.bases:
            name = self.ctx.qualified_name(arg.value)
            if name is None:
                return
            bases.append(self.ctx.index.canonical(name))
        if not serializer_is_model_serializer(self.classes, bases):
            return
        model = self._model(meta)
        if model is not None and model.abstract:
            # DRF refuses a ModelSerializer of an abstract model: a base for
            # serializers of its concrete subclasses, judged there.
            return
        if self._curated(node, bases):
            return
        if self._all_fields(meta) or (
            model is not None and _sets(meta) == {"model"} and self._inherits_all(meta)
        ):
            if not _hand_built_output(node):
                self.report(node, serializer=node.name.value, what="exposes every model field")
            elif not _hand_built_input(node):
                # Its output leaves `"__all__"` unused; its input does not.
                self.report(
                    node,
                    serializer=node.name.value,
                    what="accepts every model field on writes (its output is built by hand)",
                )

    def _model(self, meta: cst.ClassDef) -> Model | None:
        value = _assigned(meta, "model")
        if value is None:
            return None
        name = self.ctx.qualified_name(value)
        return self.classes.models.get(self.ctx.index.canonical(name)) if name else None

    def _curated(self, node: cst.ClassDef, bases: list[str]) -> bool:
        """The class or a project base overrides `get_field_names()`, where DRF
        turns `"__all__"` into the field list: the project decides there what
        `"__all__"` means (drops internal fields, adds its own)."""
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
        if any(isinstance(s, cst.FunctionDef) and s.name.value == _HOOK for s in body):
            return True
        classes = self.classes
        return any(
            method.name == _HOOK for base in bases for _, method in classes.project_methods(base)
        )

    def _all_fields(self, meta: cst.ClassDef) -> bool:
        """Whether this `Meta` sets `fields = "__all__"`."""
        value = _assigned(meta, "fields")
        return value is not None and self._is_all(value)

    def _inherits_all(self, meta: cst.ClassDef) -> bool:
        """`class Meta(BaseSerializer.Meta): model = Order` under a base whose
        `Meta` sets `fields = "__all__"` for an abstract model (a base DRF cannot
        use, not reported): the `"__all__"` takes effect here."""
        for arg in meta.bases:
            name = self.ctx.qualified_name(arg.value)
            if name is None or not name.endswith(".Meta"):
                continue
            owner = self.ctx.index.canonical(name[: -len(".Meta")])
            for cls_name in self.classes.mro(owner):
                cls = self.classes.facts(cls_name)
                base_meta = cls.inner_class("Meta") if cls is not None else None
                if base_meta is None:
                    continue
                fields = base_meta.attribute("fields")
                if fields is None:
                    continue
                model_value = base_meta.attribute("model")
                model = self.classes.models.get(dotted(model_value)) if model_value else None
                return (
                    model is not None
                    and model.abstract
                    and (const_str(fields) == "__all__" or dotted(fields) in _ALL_FIELDS_NAMES)
                )
        return False

    def _is_all(self, value: cst.BaseExpression) -> bool:
        if isinstance(value, cst.SimpleString):
            return value.evaluated_value == "__all__"
        return self.ctx.qualified_name(value) in _ALL_FIELDS_NAMES


def _method(node: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
    for stmt in body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
            return stmt
    return None


def _by_hand(fn: cst.FunctionDef) -> bool:
    """The method builds its result itself: it never calls `super()` nor reads
    the serializer's field list (`self.fields`, `_readable_fields`...)."""
    for n in descendants(fn.body):
        if isinstance(n, cst.Name) and n.value == "super":
            return False
        if (
            isinstance(n, cst.Attribute)
            and isinstance(n.value, cst.Name)
            and n.value.value == "self"
            and n.attr.value in _FIELD_LISTS
        ):
            return False
        if (
            isinstance(n, cst.Attribute)
            and n.attr.value == fn.name.value
            and not isinstance(n.value, cst.Call)
        ):
            # `ModelSerializer.to_representation(self, ...)`, `self.to_representation`
            # (`OtherSerializer(x).to_representation(...)` renders another's fields).
            return False
    return True


def _hand_built_output(node: cst.ClassDef) -> bool:
    """`to_representation()` of the class's own, built by hand (a dict of the
    keys it picks): `"__all__"` shows nothing on output."""
    fn = _method(node, "to_representation")
    return fn is not None and _by_hand(fn)


def _hand_built_input(node: cst.ClassDef) -> bool:
    """What the serializer writes does not follow `"__all__"` either: its own
    `to_internal_value()` built by hand, or its own `create()` and `update()`
    that read `validated_data` only key by key (`validated_data["name"]`,
    `.get("name")`, `.pop("name")`), never whole (`**validated_data`,
    `super().create(...)`, a loop over its items)."""
    fn = _method(node, "to_internal_value")
    if fn is not None and _by_hand(fn):
        return True
    writes = [_method(node, name) for name in ("create", "update")]
    return all(w is not None and _by_key(w) for w in writes)


def _by_key(fn: cst.FunctionDef) -> bool:
    params = [p.name.value for p in fn.params.params]
    if not params:
        return False
    data = params[-1]  # `create(self, validated_data)`, `update(self, instance, validated_data)`
    parents: dict[int, cst.CSTNode] = {}
    for n in descendants(fn.body, parents=parents):
        if isinstance(n, cst.Name) and n.value == "super":
            return False
        if not (isinstance(n, cst.Name) and n.value == data):
            continue
        above = parents.get(id(n))
        if isinstance(above, cst.Subscript) and above.value is n:
            index = above.slice[0].slice if len(above.slice) == 1 else None
            if isinstance(index, cst.Index) and isinstance(index.value, cst.SimpleString):
                continue
            return False
        if (
            isinstance(above, cst.Attribute)
            and above.value is n
            and above.attr.value in ("get", "pop")
        ):
            call = parents.get(id(above))
            if (
                isinstance(call, cst.Call)
                and call.args
                and isinstance(call.args[0].value, cst.SimpleString)
            ):
                continue
        return False
    return True


def _meta(node: cst.ClassDef) -> cst.ClassDef | None:
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
    for stmt in body:
        if isinstance(stmt, cst.ClassDef) and stmt.name.value == "Meta":
            return stmt
    return None


def _smalls(meta: cst.ClassDef) -> list[cst.BaseSmallStatement]:
    if isinstance(meta.body, cst.SimpleStatementSuite):
        return list(meta.body.body)
    return [
        small
        for line in meta.body.body
        if isinstance(line, cst.SimpleStatementLine)
        for small in line.body
    ]


def _assigned(meta: cst.ClassDef, name: str) -> cst.BaseExpression | None:
    """The value of `name = ...` in the `Meta` body (the last one)."""
    found = None
    for small in _smalls(meta):
        if isinstance(small, cst.Assign) and any(
            isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets
        ):
            found = small.value
    return found


def _sets(meta: cst.ClassDef) -> set[str]:
    """The names the `Meta` body assigns, among `model`, `fields`, `exclude`."""
    return {
        t.target.value
        for small in _smalls(meta)
        if isinstance(small, cst.Assign)
        for t in small.targets
        if isinstance(t.target, cst.Name) and t.target.value in ("model", "fields", "exclude")
    }
