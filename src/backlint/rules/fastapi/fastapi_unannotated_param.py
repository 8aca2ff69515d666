"""BKL202 fastapi-unannotated-param."""

from __future__ import annotations

import libcst as cst

from backlint.rules.fastapi import FastAPIRule
from backlint.semantics.context import ScopeKind
from backlint.semantics.fastapi import is_dependency, is_depends, path_parameters, route_of


class FastapiUnannotatedParam(FastAPIRule):
    """A route or dependency parameter without a type annotation.

    What it flags:
    A parameter of a FastAPI route, or of a dependency (a function or class
    used in `Depends()`/`Security()` anywhere in the project, including
    `Annotated` aliases and `dependencies=[...]`), that has no annotation and
    is not itself a `Depends()`. Reported on the parameter.

    Why:
    FastAPI decides what a parameter is from its annotation. Without one it
    becomes a query parameter whose value is a `str`: `limit=10` receives
    `"50"` when the client sends `?limit=50` (then `rows[:limit]` raises), and
    a forgotten `request` or `db` becomes a query parameter that any client
    can set. Nothing is validated, and the OpenAPI schema says "any".

    Example:
    ```python
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/items/{item_id}")
    async def read_item(item_id, limit=10) -> list[str]:
        return []
    ```

    Use instead:
    ```python
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/items/{item_id}")
    async def read_item(item_id: int, limit: int = 10) -> list[str]:
        return []
    ```

    Not flagged:
    `self` and `cls` (class-based dependencies: `__init__` of a class used as
    `Depends(Class)`, `__call__` of an instance used as `Depends(instance)`);
    parameters whose default is `Depends(...)`, or a name bound to one in
    another module (`user=CurrentUser` with `CurrentUser = Depends(...)`): the
    dependency gives the type; a route's path parameters (`{item_id}` in its
    path or in its router's `prefix=`): FastAPI passes them as strings, which
    is what the URL holds (missed alarm when the author meant a number);
    parameters with a string default (`tag=""`): a string is what the author
    meant and what FastAPI passes; `*args` and `**kwargs`; functions that are
    neither routes nor dependencies (BKL801 covers public functions in
    general). Routes and dependencies declared inside a function (an app
    factory) are not seen as dependencies when only used there (missed alarm).
    Test files and migrations are not linted.

    Fix:
    None: only the author knows the intended type.
    """

    code = "BKL202"
    name = "fastapi-unannotated-param"
    message = (
        "parameter `{param}` of {kind} `{function}` has no type annotation: FastAPI passes "
        "it as an unvalidated string; annotate it"
    )
    markers = ("def ",)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        scope = self.ctx.scope
        route = route_of(self.ctx, node, scope)
        path: frozenset[str] = frozenset()
        if route is not None:
            kind = "route"
            path = path_parameters(self.ctx, route)
        elif is_dependency(self.ctx, node, scope):
            kind = "dependency"
        else:
            return
        params = node.params
        positional = [*params.posonly_params, *params.params]
        if (
            positional
            and scope.kind is ScopeKind.CLASS
            and positional[0].name.value in ("self", "cls")
        ):
            positional = positional[1:]
        function = node.name.value
        if scope.kind is ScopeKind.CLASS and isinstance(scope.node, cst.ClassDef):
            function = f"{scope.node.name.value}.{function}"
        for param in (*positional, *params.kwonly_params):
            if (
                param.annotation is not None
                or param.name.value in path
                or isinstance(param.default, cst.SimpleString | cst.ConcatenatedString)
                or is_depends(self.ctx, param.default, scope)
            ):
                continue
            self.report(param, param=param.name.value, kind=kind, function=function)
