"""BKL802 missing-return-annotation."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from backlint.rules.type_hints import ENTRY_POINTS, TypeHintOptions, TypeHintRule
from backlint.semantics.entry_points import EntryPoint
from backlint.semantics.fastapi import returns_response, route_of
from backlint.semantics.python import (
    OVERLOAD_DECORATORS,
    PROPERTY_DECORATORS,
    decorator_names,
    is_abstract,
    is_public_name,
    returns_value_or_yields,
)
from backlint.types import Fix, FixKind


@dataclass(frozen=True, slots=True)
class ReturnHintOptions(TypeHintOptions):
    # An `__init__` with an annotated parameter needs no `-> None`: mypy then
    # checks it and takes it as returning None (ruff's flake8-annotations
    # `mypy-init-return`).
    mypy_init_return: bool = True


class MissingReturnAnnotation(TypeHintRule):
    """A framework entry point or service function has no return annotation.

    What it flags:
    A def without `-> ...`, on its `def` line, when something outside reads
    its signature (`semantics/entry_points.py`, as BKL801): a FastAPI route
    or dependency, a Celery task, a DRF view (`@api_view`) or a method of a
    DRF view or serializer class of the project, or a service function (a
    module-level function, or a method of a public module-level class, in a
    module named `services`, `service`, `repositories`, `repository`,
    `repos`, `crud`, `selectors`, `use_cases`, `usecases`, `interactors`, or
    ending in `_<one of them>`, not under a `models` package). Dunder
    methods such as `__init__` are public (an `__init__` only when none of its
    parameters is annotated); generators, async functions,
    properties and abstract methods need an annotation too. With
    `scope = "public"`, every public function and method is judged, as
    before.

    Why:
    A route's return annotation is its response model (what FastAPI
    validates, filters and documents); a `SerializerMethodField`'s `get_<field>`
    annotation is the field's type in the schema that drf-spectacular
    generates. Without a return type, everything downstream of a service call
    is `Any`: a service whose result is used as the wrong type passes the
    type checker and fails at run time.

    Example:
    ```python
    from fastapi import APIRouter

    router = APIRouter()


    @router.get("/orders/{order_id}")
    async def read_order(order_id: int):
        return {"id": order_id, "total": 10}
    ```

    Use instead:
    ```python
    from fastapi import APIRouter
    from pydantic import BaseModel

    router = APIRouter()


    class OrderOut(BaseModel):
        id: int
        total: int


    @router.get("/orders/{order_id}")
    async def read_order(order_id: int) -> OrderOut:
        return OrderOut(id=order_id, total=10)
    ```

    Not flagged:
    By default (`scope = "entry-points"`) every def that is none of the
    above (helpers in `utils.py`, model methods, plain Django views: missed
    alarms by design); a route that declares `response_model=` (FastAPI has
    its return type, and the model would override an annotation) or that
    returns a `Response` (`RedirectResponse(...)`, a `TemplateResponse`:
    sent as is, with no model to build); in service modules and DRF classes,
    private names (`_helper`), methods of private classes and Django signal
    receivers (routes, dependencies and tasks are judged whatever their
    name); an `__init__` with at least one annotated parameter (mypy then
    checks it and takes it as `-> None`, so nothing is `Any`; ruff's
    `mypy-init-return`: set `mypy-init-return = false` to flag it too);
    lambdas; functions nested in another function's body, except
    routes defined in an app factory; vendored code (`_vendor/`, `vendor/`,
    `vendored/`, `third_party/`); test files unless the `include-tests`
    option is set; migrations (Django `migrations/`, Alembic `versions/` and
    `env.py`, and any module assigning `down_revision` and defining
    `upgrade()`) unless `include-migrations` is set. Options go in
    `[tool.backlint.missing-return-annotation]`.

    Fix:
    Adds `-> None` (safe) when the body has no `return <value>` and no `yield`,
    and the function is not async, a property, an overload or abstract (an
    abstract method's subclasses may return values).
    """

    code = "BKL802"
    name = "missing-return-annotation"
    message = "`{function}` has no return annotation"
    fix_kind = FixKind.SAFE
    Options = ReturnHintOptions

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.returns is not None:
            return
        name = node.name.value
        if name == "__init__" and self.options.mypy_init_return and _has_annotated_param(node):
            return  # mypy takes it as `-> None`
        judged = self.needs_hints(node, public=is_public_name(name))
        if not judged:
            return
        if judged is EntryPoint.ROUTE and self.options.scope == ENTRY_POINTS:
            scope = self.ctx.scope
            route = route_of(self.ctx, node, scope)
            if route is not None and (
                # FastAPI has its return type, and would override an annotation.
                route.keyword("response_model") is not None
                # A Response goes out as is: FastAPI has no model to build.
                or returns_response(self.ctx, node, scope)
            ):
                return
        if self._none_is_certain(node):
            fixed = node.with_changes(returns=cst.Annotation(cst.Name("None")))
            fix = Fix(FixKind.SAFE, "Add `-> None`")
            self.report(
                node,
                f"`{name}` has no return annotation; it returns nothing: add `-> None`",
                fix=fix,
                replacement=fixed,
            )
        else:
            self.report(node, function=name)

    def _none_is_certain(self, node: cst.FunctionDef) -> bool:
        if node.asynchronous is not None:
            return False
        decorators = set(decorator_names(self.ctx, node))
        if decorators & (OVERLOAD_DECORATORS | PROPERTY_DECORATORS):
            return False
        if _is_stub(node) or is_abstract(self.ctx, node, self.ctx.scope):
            return False
        return not returns_value_or_yields(self.ctx, node)


def _has_annotated_param(node: cst.FunctionDef) -> bool:
    """A parameter other than `self` carries an annotation: mypy checks the
    `__init__` and takes its return type as `None`."""
    params = node.params
    every = (
        *params.posonly_params,
        *params.params,
        *params.kwonly_params,
        *(p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)),
    )
    return any(p.annotation is not None for p in every)


def _is_stub(node: cst.FunctionDef) -> bool:
    """A body of only a docstring, `...`, `pass` or `raise NotImplementedError`:
    an interface whose implementations may return values."""
    body = node.body
    statements = body.body if isinstance(body, cst.IndentedBlock) else (body,)
    smalls: list[cst.CSTNode] = []
    for stmt in statements:
        if isinstance(stmt, cst.SimpleStatementLine | cst.SimpleStatementSuite):
            smalls.extend(stmt.body)
        else:
            return False
    for small in smalls:
        if isinstance(small, cst.Expr) and isinstance(
            small.value, cst.SimpleString | cst.ConcatenatedString | cst.Ellipsis
        ):
            continue
        if isinstance(small, cst.Pass):
            continue
        if isinstance(small, cst.Raise) and _names_not_implemented(small.exc):
            continue
        return False
    return True


def _names_not_implemented(exc: cst.BaseExpression | None) -> bool:
    if isinstance(exc, cst.Call):
        exc = exc.func
    return isinstance(exc, cst.Name) and exc.value == "NotImplementedError"
