"""FastAPI knowledge: app and router instances, routes, dependencies.

A route is a function decorated by `<instance>.get/post/.../api_route(...)`
where the instance is a `FastAPI()` or `APIRouter()` (or a project subclass),
created in the same function, the same module, or another module of the
project (found through the index).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from backlint.semantics.context import Assigned, FileContext, Parameter, Scope
from backlint.semantics.facts import CALLS_OF_INTEREST, Attr, Call, Const, Subscript, dotted
from backlint.semantics.index import ProjectIndex, index_view

APP_CLASSES = frozenset(
    {
        "fastapi.FastAPI",
        "fastapi.applications.FastAPI",
        "fastapi.APIRouter",
        "fastapi.routing.APIRouter",
    }
)
ROUTE_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "options", "head", "trace", "api_route"}
)
DEPENDS = frozenset(
    {"fastapi.Depends", "fastapi.params.Depends", "fastapi.Security", "fastapi.params.Security"}
)
ANNOTATED = frozenset({"typing.Annotated", "typing_extensions.Annotated"})


CALLS_OF_INTEREST.add("include_router")


class FastAPIApps:
    """Module-level FastAPI/APIRouter instances and project subclasses, and
    which of them are hidden from the OpenAPI schema (`include_in_schema=False`
    where they are created or included, or an app with `openapi_url=None`)."""

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self.classes: set[str] = set(APP_CLASSES)
        changed = True
        while changed:  # project subclasses of subclasses
            changed = False
            for _, cls in index.classes():
                if cls.qualname in self.classes:
                    continue
                if any(index.canonical(dotted(b) or "") in self.classes for b in cls.bases):
                    self.classes.add(cls.qualname)
                    changed = True
        self.instances: set[str] = set()
        self.hidden: set[str] = set()
        inclusions: list[tuple[str, str]] = []  # (including, included)
        for facts in index.modules.values():
            for name, value in facts.assignments.items():
                if (
                    isinstance(value, Call)
                    and index.canonical(dotted(value.func) or "") in self.classes
                ):
                    qualname = f"{facts.module}.{name}"
                    self.instances.add(qualname)
                    # No schema for this router, or no schema for this whole app.
                    if value.kwarg("include_in_schema") == Const(False) or value.kwarg(
                        "openapi_url"
                    ) == Const(None):
                        self.hidden.add(qualname)
            for call in facts.calls:
                if not (
                    isinstance(call.func, Attr) and call.func.attr == "include_router" and call.args
                ):
                    continue
                included = index.canonical(dotted(call.args[0]) or "")
                including = index.canonical(dotted(call.func.value) or "")
                if call.kwarg("include_in_schema") == Const(False):
                    self.hidden.add(included)
                inclusions.append((including, included))
        changed = True
        while changed:  # a router included in a hidden one is hidden too
            changed = False
            for including, included in inclusions:
                if including in self.hidden and included not in self.hidden:
                    self.hidden.add(included)
                    changed = True

    def is_instance(self, qualname: str | None) -> bool:
        return qualname is not None and self.index.canonical(qualname) in self.instances

    def is_hidden(self, qualname: str | None) -> bool:
        return qualname is not None and self.index.canonical(qualname) in self.hidden


@index_view
def fastapi_apps(index: ProjectIndex) -> FastAPIApps:
    return FastAPIApps(index)


@dataclass(frozen=True, slots=True)
class Route:
    function: cst.FunctionDef
    decorator: cst.Call
    method: str  # get, post, ..., api_route
    instance: str | None  # qualified name of the app/router, when module-level

    def keyword(self, name: str) -> cst.BaseExpression | None:
        for arg in self.decorator.args:
            if arg.keyword is not None and arg.keyword.value == name:
                return arg.value
        return None


def is_app_instance(ctx: FileContext, expr: cst.BaseExpression, scope: Scope | None = None) -> bool:
    """Whether `expr` is a FastAPI() or APIRouter() instance."""
    apps = ctx.index.view(fastapi_apps)
    scope = scope or ctx.scope
    if isinstance(expr, cst.Name):
        owner, bindings = ctx.bindings(expr.value, scope)
        if owner is not None and bindings and owner.parent is not None:
            # Bound in a function (an app factory): look at what it was bound to.
            return all(
                isinstance(b, Assigned)
                and isinstance(b.value, cst.Call)
                and ctx.index.canonical(ctx.qualified_name(b.value.func, owner) or "")
                in apps.classes
                for b in bindings
            )
    return apps.is_instance(ctx.qualified_name(expr, scope))


def route_of(ctx: FileContext, node: cst.FunctionDef, scope: Scope | None = None) -> Route | None:
    """The route a function is, when a FastAPI route decorator is on it.

    `scope` is the scope the def is in (the walker's current one at visit).
    """
    for decorator in node.decorators:
        call = decorator.decorator
        if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute):
            continue
        method = call.func.attr.value
        if method in ROUTE_METHODS and is_app_instance(ctx, call.func.value, scope):
            return Route(node, call, method, ctx.qualified_name(call.func.value, scope))
    return None


def is_hidden_route(ctx: FileContext, route: Route) -> bool:
    """`include_in_schema=False` on the route, its router, or where it is included."""
    include = route.keyword("include_in_schema")
    if isinstance(include, cst.Name) and include.value == "False":
        return True
    return ctx.index.view(fastapi_apps).is_hidden(route.instance)


# --------------------------------------------------------------------------
# Dependencies and parameter types.


@dataclass(frozen=True, slots=True)
class ParamType:
    """What a route or dependency parameter declares: its type and dependency."""

    annotation: str | None  # qualified name of the (unwrapped) annotation type
    dependency: str | None  # qualified name of the Depends() callable


def _depends_target_cst(ctx: FileContext, call: cst.BaseExpression, scope: Scope) -> str | None:
    if isinstance(call, cst.Call) and ctx.qualified_name(call.func, scope) in DEPENDS and call.args:
        return ctx.qualified_name(call.args[0].value, scope)
    return None


def _annotated_parts_cst(
    ctx: FileContext, annotation: cst.BaseExpression, scope: Scope
) -> tuple[cst.BaseExpression, list[cst.BaseExpression]] | None:
    if (
        isinstance(annotation, cst.Subscript)
        and ctx.qualified_name(annotation.value, scope) in ANNOTATED
    ):
        parts = [el.slice.value for el in annotation.slice if isinstance(el.slice, cst.Index)]
        if parts:
            return parts[0], parts[1:]
    return None


def param_type(ctx: FileContext, param: cst.Param, scope: Scope) -> ParamType:
    """`db: Session = Depends(get_db)`, `db: Annotated[Session, Depends(get_db)]`,
    `db: SessionDep` with `SessionDep = Annotated[...]` here or in another module."""
    annotation: str | None = None
    dependency: str | None = None
    if param.default is not None:
        dependency = _depends_target_cst(ctx, param.default, scope)
    if param.annotation is not None:
        expr = param.annotation.annotation
        parts = _annotated_parts_cst(ctx, expr, scope)
        if parts is not None:
            base, extras = parts
            annotation = ctx.qualified_name(base, scope)
            for extra in extras:
                dependency = dependency or _depends_target_cst(ctx, extra, scope)
        else:
            alias = _alias(ctx, expr, scope)
            if alias is not None:
                annotation = alias.annotation or annotation
                dependency = dependency or alias.dependency
            else:
                annotation = ctx.qualified_name(expr, scope)
    canon = ctx.index.canonical
    return ParamType(
        canon(annotation) if annotation else None,
        canon(dependency) if dependency else None,
    )


def _alias(ctx: FileContext, expr: cst.BaseExpression, scope: Scope) -> ParamType | None:
    """A name bound to `Annotated[T, Depends(f)]` (same module or the index)."""
    if isinstance(expr, cst.Name):
        owner, bindings = ctx.bindings(expr.value, scope)
        if owner is not None and len(bindings) == 1 and isinstance(bindings[0], Assigned):
            value = bindings[0].value
            if value is not None:
                parts = _annotated_parts_cst(ctx, value, owner)
                if parts is not None:
                    base, extras = parts
                    dep = next(
                        (d for d in (_depends_target_cst(ctx, e, owner) for e in extras) if d), None
                    )
                    return ParamType(ctx.qualified_name(base, owner), dep)
            return None
    name = ctx.qualified_name(expr, scope)
    if name is None:
        return None
    return annotated_value(ctx.index, ctx.index.lookup(name))


def annotated_value(index: ProjectIndex, value: object) -> ParamType | None:
    """The same for an alias summarised in the index."""
    if (
        not isinstance(value, Subscript)
        or index.canonical(dotted(value.value) or "") not in ANNOTATED
    ):
        return None
    if not value.index:
        return None
    base = dotted(value.index[0])
    dependency = None
    for extra in value.index[1:]:
        if (
            isinstance(extra, Call)
            and index.canonical(dotted(extra.func) or "") in DEPENDS
            and extra.args
        ):
            dependency = dotted(extra.args[0])
    return ParamType(
        index.canonical(base) if base else None,
        index.canonical(dependency) if dependency else None,
    )


def parameters(node: cst.FunctionDef) -> Iterator[cst.Param]:
    params = node.params
    yield from params.posonly_params
    yield from params.params
    if isinstance(params.star_arg, cst.Param):
        yield params.star_arg
    yield from params.kwonly_params
    if params.star_kwarg is not None:
        yield params.star_kwarg


def param_binding(ctx: FileContext, name: cst.Name, scope: Scope) -> tuple[Scope, cst.Param] | None:
    """The parameter a name refers to, when it is one (and only one) of its scope."""
    owner, bindings = ctx.bindings(name.value, scope)
    if owner is not None and len(bindings) == 1 and isinstance(bindings[0], Parameter):
        return owner, bindings[0].param
    return None
