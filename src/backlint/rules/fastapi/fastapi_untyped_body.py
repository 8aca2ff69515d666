"""BKL203 fastapi-untyped-body."""

from __future__ import annotations

import libcst as cst

from backlint.rules.fastapi import FastAPIRule
from backlint.semantics.context import FileContext, Parameter, Scope
from backlint.semantics.facts import Const, Ref, Subscript, Value, dotted
from backlint.semantics.fastapi import (
    ANNOTATED,
    REQUEST_CLASSES,
    Route,
    function_scope,
    param_type,
    route_of,
)
from backlint.semantics.python import body_calls

# A free-form mapping, whatever its parameters say about the keys.
MAPPINGS = frozenset(
    {
        "builtins.dict",
        "typing.Dict",
        "typing.Mapping",
        "typing.MutableMapping",
        "collections.abc.Mapping",
        "collections.abc.MutableMapping",
    }
)
# Containers of bodies: a list of free-form mappings is free-form too.
SEQUENCES = frozenset(
    {
        "builtins.list",
        "builtins.set",
        "builtins.tuple",
        "typing.List",
        "typing.Set",
        "typing.Tuple",
        "typing.Sequence",
        "collections.abc.Sequence",
    }
)
ANY = frozenset({"typing.Any", "typing_extensions.Any", "builtins.object"})
OPTIONAL = frozenset({"typing.Optional", "typing.Union"})
# FastAPI parameter markers, and which of them make a JSON body.
BODY_MARKERS = frozenset({"fastapi.Body", "fastapi.param_functions.Body", "fastapi.params.Body"})
OTHER_MARKERS = frozenset(
    f"{module}.{name}"
    for module in ("fastapi", "fastapi.param_functions", "fastapi.params")
    for name in ("Query", "Path", "Header", "Cookie", "Form", "File", "Depends", "Security")
)
# Reading the raw body: the route forwards or verifies it (webhook signatures).
RAW_BODY = frozenset({"body", "stream"})
# Routes that forward a body they do not own, by name (`forward_post`, `proxy`).
FORWARDING_WORDS = frozenset({"forward", "proxy", "passthrough", "relay"})
PARSED_BODY = frozenset({"json", "form"})


class FastapiUntypedBody(FastAPIRule):
    """A request body typed `dict`/`Any` or parsed by hand instead of a Pydantic model.

    What it flags:
    In a FastAPI route, a body parameter declared as a free-form mapping
    (`dict`, `Dict[str, Any]`, `Mapping`, `dict[str, Any]`), a list of them
    (`list[dict]`), or `Any`/`object` with `Body()`; and a body parsed by
    hand from a `Request` parameter: `await request.json()`,
    `await request.form()`. Reported on the parameter, or on the call.

    Why:
    A Pydantic model is what FastAPI validates a body against, and what
    documents it. A `dict` body accepts anything: missing keys surface as
    `KeyError` (a 500) deep in the code, wrong types reach the database, and
    extra keys flow into `Model(**payload)` (mass assignment). Parsing
    `request.json()` by hand skips validation and the OpenAPI schema alike.

    Example:
    ```python
    from typing import Any

    from fastapi import APIRouter

    router = APIRouter()

    @router.post("/orders")
    async def create_order(payload: dict[str, Any]) -> dict[str, int]:
        return {"id": await orders.create(payload)}
    ```

    Use instead:
    ```python
    from fastapi import APIRouter
    from pydantic import BaseModel

    router = APIRouter()

    class OrderIn(BaseModel):
        product_id: int
        quantity: int

    @router.post("/orders")
    async def create_order(payload: OrderIn) -> dict[str, int]:
        return {"id": await orders.create(payload)}
    ```

    Not flagged:
    Typed mappings (`dict[str, int]`, `dict[str, Item]`); parameters that are
    not bodies (`Query()`, `Header()`, `Form()`, `Depends()`, and `Any`
    without `Body()`, which FastAPI reads from the query string); routes
    that read the raw body (`await request.body()`, `request.stream()`),
    such as webhooks verifying a signature; routes that forward a body to
    another service, by name (`forward_post`, `proxy_request`); `request.json()` outside routes
    (middleware, dependencies) and in nested functions. Type aliases defined
    in another module are not followed (missed alarm).
    Test files and migrations are not linted.

    Fix:
    None: the model has to be written.
    """

    code = "BKL203"
    name = "fastapi-untyped-body"
    message = "{problem}: declare a Pydantic model parameter so that FastAPI validates the body"
    markers = ("@",)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        scope = self.ctx.scope
        route = route_of(self.ctx, node, scope)
        if route is None or FORWARDING_WORDS & set(node.name.value.lower().split("_")):
            return
        for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
            shown = self._untyped_body(param, scope)
            if shown is not None:
                self.report(
                    param,
                    problem=f"request body `{param.name.value}` of route `{node.name.value}` "
                    f"is typed `{shown}`",
                )
        if ".json()" in self.ctx.source or ".form()" in self.ctx.source:
            self._parsed_by_hand(route, scope)

    # Declared bodies -------------------------------------------------------------

    def _untyped_body(self, param: cst.Param, scope: Scope) -> str | None:
        if param.annotation is None:
            return None
        annotation = param.annotation.annotation
        markers: list[cst.BaseExpression] = []
        if param.default is not None:
            markers.append(param.default)
        if isinstance(annotation, cst.Subscript):
            base = self.ctx.qualified_name(annotation.value, scope)
            if base in ANNOTATED:
                parts = [
                    el.slice.value for el in annotation.slice if isinstance(el.slice, cst.Index)
                ]
                if not parts:
                    return None
                annotation, markers = parts[0], [*markers, *parts[1:]]
        explicit_body = False
        for marker in markers:
            name = self._marker(marker, scope)
            if name in OTHER_MARKERS:
                return None
            explicit_body = explicit_body or name in BODY_MARKERS
        if self._free_form(annotation, scope, explicit_body, 0):
            return self.ctx.tree.code_for_node(annotation)
        return None

    def _marker(self, expr: cst.BaseExpression, scope: Scope) -> str | None:
        if not isinstance(expr, cst.Call):
            return None
        name = self.ctx.qualified_name(expr.func, scope)
        return self.ctx.index.canonical(name) if name else None

    def _free_form(
        self, annotation: cst.BaseExpression, scope: Scope, explicit_body: bool, depth: int
    ) -> bool:
        if depth > 4:
            return False
        if isinstance(annotation, cst.BinaryOperation) and isinstance(
            annotation.operator, cst.BitOr
        ):
            parts = [p for p in (annotation.left, annotation.right) if not _is_none(p)]
            return len(parts) == 1 and self._free_form(parts[0], scope, explicit_body, depth + 1)
        if isinstance(annotation, cst.Subscript):
            base = self.ctx.qualified_name(annotation.value, scope)
            args = [el.slice.value for el in annotation.slice if isinstance(el.slice, cst.Index)]
            if base in MAPPINGS:
                # `dict[str, Any]`, `dict[str, dict]`: the values say nothing.
                return len(args) == 2 and self._untyped_value(args[1], scope, depth)
            if base in SEQUENCES:
                items = [a for a in args if not isinstance(a, cst.Ellipsis)]
                return len(items) == 1 and self._is_mapping(items[0], scope, depth)
            if base in OPTIONAL:
                items = [a for a in args if not _is_none(a)]
                return len(items) == 1 and self._free_form(
                    items[0], scope, explicit_body, depth + 1
                )
            return False
        name = self.ctx.qualified_name(annotation, scope)
        if name in MAPPINGS:
            return True
        if explicit_body and name in ANY:
            return True
        # A type alias (`JSONDict = dict[str, Any]`), here or in another module.
        return name is not None and _free_form_value(self.ctx.index.lookup(name), self.ctx, 0)

    def _untyped_value(self, value: cst.BaseExpression, scope: Scope, depth: int) -> bool:
        name = self.ctx.qualified_name(value, scope)
        return name in ANY or self._is_mapping(value, scope, depth)

    def _is_mapping(self, annotation: cst.BaseExpression, scope: Scope, depth: int) -> bool:
        """A free-form mapping (bare or with untyped values)."""
        if isinstance(annotation, cst.Subscript):
            base = self.ctx.qualified_name(annotation.value, scope)
            args = [el.slice.value for el in annotation.slice if isinstance(el.slice, cst.Index)]
            return (
                base in MAPPINGS
                and len(args) == 2
                and self._untyped_value(args[1], scope, depth + 1)
            )
        return self.ctx.qualified_name(annotation, scope) in MAPPINGS

    # Bodies parsed by hand ---------------------------------------------------------

    def _parsed_by_hand(self, route: Route, scope: Scope) -> None:
        node = route.function
        requests = self._request_params(node, scope)
        if not requests:
            return
        parsed: list[tuple[cst.Call, str]] = []
        for child in body_calls(self.ctx, node):
            if not isinstance(child.func, cst.Attribute):
                continue
            receiver = child.func.value
            if not (isinstance(receiver, cst.Name) and receiver.value in requests):
                continue
            method = child.func.attr.value
            if method in RAW_BODY:
                return  # the raw body is read: forwarded or verified
            if method in PARSED_BODY:
                parsed.append((child, f"{receiver.value}.{method}()"))
        for call, shown in parsed:
            self.report(
                call,
                problem=f"route `{node.name.value}` parses the request body by hand (`{shown}`)",
            )

    def _request_params(self, node: cst.FunctionDef, scope: Scope) -> set[str]:
        """Names of the route's `Request` parameters (not rebound in the body)."""
        inner = function_scope(node, scope)
        names: set[str] = set()
        for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
            if param.annotation is None:
                continue
            if param_type(self.ctx, param, scope).annotation in REQUEST_CLASSES:
                _, bindings = self.ctx.bindings(param.name.value, inner)
                if len(bindings) == 1 and isinstance(bindings[0], Parameter):
                    names.add(param.name.value)
        return names


def _free_form_value(value: object, ctx: FileContext, depth: int) -> bool:
    """The same test for an alias summarised in the index."""
    if depth > 4:
        return False
    canonical = ctx.index.canonical
    if isinstance(value, Ref):
        name = canonical(value.name)
        if name in MAPPINGS:
            return True
        found = ctx.index.lookup(name)
        return isinstance(found, Ref | Subscript) and _free_form_value(found, ctx, depth + 1)
    if not isinstance(value, Subscript):
        return False
    base = canonical(dotted(value.value) or "")
    args = [a for a in value.index if a != Const(None)]
    if base in MAPPINGS:
        return len(args) == 2 and _untyped_value_in_index(args[1], ctx, depth)
    if base in SEQUENCES:
        return (
            len(args) == 1
            and _untyped_value_in_index(args[0], ctx, depth)
            and not (isinstance(args[0], Ref) and canonical(args[0].name) in ANY)
        )
    if base in OPTIONAL:
        return len(args) == 1 and _free_form_value(args[0], ctx, depth + 1)
    return False


def _untyped_value_in_index(value: Value, ctx: FileContext, depth: int) -> bool:
    if isinstance(value, Ref) and ctx.index.canonical(value.name) in ANY:
        return True
    return _free_form_value(value, ctx, depth + 1)


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"
