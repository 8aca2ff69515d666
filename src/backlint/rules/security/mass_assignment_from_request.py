"""BKL609 mass-assignment-from-request."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.django import django_models, querysets
from backlint.semantics.security import is_request_data
from backlint.semantics.sqlalchemy import sqlalchemy_models
from backlint.semantics.tree import descendants
from backlint.types import SourceFile

# Manager and queryset methods that write their keyword arguments to a row.
_WRITE_METHODS = frozenset({"create", "get_or_create", "update_or_create", "update"})
# SQLAlchemy statements whose `.values(**data)` writes columns.
_SQLALCHEMY_WRITES = frozenset(
    {
        "sqlalchemy.update",
        "sqlalchemy.insert",
        "sqlalchemy.sql.expression.update",
        "sqlalchemy.sql.expression.insert",
        "sqlmodel.update",
        "sqlmodel.insert",
    }
)


# Cheap tests of the source before parsing: request data is read, and
# unpacked (other than the `**kwargs` of signatures) or set by `setattr`.
_REQUEST_DATA_MARKERS = (
    ".data",
    ".POST",
    ".GET",
    ".query_params",
    ".json",
    ".form",
    ".body",
    "get_json",
)
_UNPACKING = re.compile(r"\*\*(?!kwargs\b|kw\b|kwds\b|options\b|extra\w*\b|initkwargs\b)[A-Za-z_(]")


class MassAssignmentFromRequest(Rule):
    """Request data unpacked straight into a model (mass assignment).

    What it flags:
    Client data that has not been validated (`request.data`, `request.POST`,
    `request.GET`, `request.query_params`, `await request.json()`,
    `await request.form()`, `json.loads(request.body)`, copies of them, or a
    local variable holding one) written to a model: `Model(**data)` for a
    Django model or an SQLAlchemy/SQLModel mapped class,
    `Model.objects.create(**data)` (and `get_or_create`, `update_or_create`,
    `defaults=data`), `queryset.update(**data)`, SQLAlchemy
    `update(Model).values(**data)`, and `setattr(obj, key, value)` in a loop
    over `data.items()`. Reported at the call.

    Why:
    The client chooses the columns: `is_staff=true`, `balance=1e9`,
    `owner_id=<someone else>` are written as readily as the fields the form
    shows (GitHub's 2012 mass-assignment breach).

    Example:
    ```python
    from django.db import models
    from django.http import HttpRequest, JsonResponse

    class Profile(models.Model):
        bio = models.TextField()
        is_verified = models.BooleanField(default=False)

    def create_profile(request: HttpRequest) -> JsonResponse:
        profile = Profile.objects.create(**request.POST.dict())
        return JsonResponse({"id": profile.pk})
    ```

    Use instead:
    ```python
    from django import forms
    from django.db import models
    from django.http import HttpRequest, JsonResponse

    class Profile(models.Model):
        bio = models.TextField()
        is_verified = models.BooleanField(default=False)

    class ProfileForm(forms.ModelForm):
        class Meta:
            model = Profile
            fields = ["bio"]

    def create_profile(request: HttpRequest) -> JsonResponse:
        form = ProfileForm(request.POST)
        form.is_valid()
        profile = Profile.objects.create(**form.cleaned_data)
        return JsonResponse({"id": profile.pk})
    ```

    Not flagged:
    Validated data: `serializer.validated_data`, `form.cleaned_data`,
    Pydantic models (`Item(**await request.json())` validates against the
    declared fields, and `model.model_dump()` holds only them); filters
    (`.filter(**request.GET)` selects rows, it writes nothing); classes
    backlint cannot resolve to a model; test files. Request data that passes
    through a function call before reaching the model is not followed
    (missed alarm).

    Fix:
    None: validate with a serializer, form or Pydantic model listing the
    writable fields, and write only those.
    """

    code = "BKL609"
    name = "mass-assignment-from-request"
    message = (
        "request data is written straight into {target}: "
        "validate it and assign only the allowed fields"
    )
    skip_tests = True
    skip_migrations = True

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        if file.is_test or file.is_migration or "request" not in source:
            return False
        if not any(marker in source for marker in _REQUEST_DATA_MARKERS):
            return False
        return bool(_UNPACKING.search(source)) or "setattr(" in source or "defaults=" in source

    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        scope = ctx.scope
        data = None
        for arg in node.args:
            if arg.star == "**" and is_request_data(ctx, arg.value, scope):
                data = arg
                break
            if (
                arg.keyword is not None
                and arg.keyword.value == "defaults"
                and is_request_data(ctx, arg.value, scope)
            ):
                data = arg
                break
        if data is None:
            return
        target = self._target(node.func, node.args)
        if target is not None:
            self.report(node, target=target)

    def visit_For(self, node: cst.For) -> None:
        """`for key, value in request.data.items(): setattr(obj, key, value)`."""
        iterator = node.iter
        if not (
            isinstance(iterator, cst.Call)
            and isinstance(iterator.func, cst.Attribute)
            and iterator.func.attr.value == "items"
            and is_request_data(self.ctx, iterator.func.value, self.ctx.scope)
        ):
            return
        target = node.target
        if not (isinstance(target, cst.Tuple) and target.elements):
            return
        key = target.elements[0].value
        if not isinstance(key, cst.Name):
            return
        for child in descendants(node.body, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            if (
                isinstance(child, cst.Call)
                and isinstance(child.func, cst.Name)
                and child.func.value == "setattr"
                and len(child.args) >= 3
                and isinstance(child.args[1].value, cst.Name)
                and child.args[1].value.value == key.value
            ):
                self.report(
                    child,
                    target=f"`{self.ctx.tree.code_for_node(child.args[0].value)}` by `setattr`",
                )

    def _target(self, func: cst.BaseExpression, call_args: Sequence[cst.Arg]) -> str | None:
        ctx = self.ctx
        code = ctx.tree.code_for_node
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in _WRITE_METHODS and self._is_queryset(func.value):
                if any(a.keyword is None and not a.star for a in call_args):
                    return None  # positional arguments: a project manager's own method
                return f"`{code(func)}()`"
            if method == "values":
                # `update(User).where(...).values(**data)`: down the chain.
                receiver: cst.BaseExpression = func.value
                while isinstance(receiver, cst.Call):
                    if ctx.qualified_name(receiver.func) in _SQLALCHEMY_WRITES:
                        return "`.values()` of an SQLAlchemy statement"
                    inner = receiver.func
                    if not isinstance(inner, cst.Attribute):
                        break
                    receiver = inner.value
        name = ctx.qualified_name(func)
        if name is None:
            return None
        name = ctx.index.canonical(name)
        if ctx.index.view(django_models).get(name) is not None:
            return f"the model `{code(func)}`"
        if ctx.index.view(sqlalchemy_models).get(name) is not None:
            return f"the mapped class `{code(func)}`"
        return None

    def _is_queryset(self, receiver: cst.BaseExpression) -> bool:
        expr: cst.BaseExpression = receiver
        while isinstance(expr, cst.Attribute | cst.Call):
            if isinstance(expr, cst.Attribute):
                if expr.attr.value == "objects":
                    return True
                expr = expr.value
            else:
                expr = expr.func
        return querysets(self.ctx).queryset(receiver) is not None
