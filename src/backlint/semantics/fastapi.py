"""FastAPI knowledge: app and router instances, routes, dependencies.

A route is a function decorated by `<instance>.get/post/.../api_route(...)`
where the instance is a `FastAPI()` or `APIRouter()` (or a project subclass),
created in the same function, the same module, or another module of the
project (found through the index).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import libcst as cst

from backlint.semantics.context import (
    Assigned,
    FileContext,
    Parameter,
    Scope,
    ScopeKind,
    WithTarget,
)
from backlint.semantics.facts import (
    CALLS_OF_INTEREST,
    Attr,
    Await,
    Call,
    Const,
    FunctionFacts,
    Local,
    Mapping,
    Seq,
    Subscript,
    Value,
    const_str,
    dotted,
)
from backlint.semantics.index import ProjectIndex, TrackedView, tracked_view
from backlint.semantics.python import body_statements

ROUTER_CLASSES = frozenset({"fastapi.APIRouter", "fastapi.routing.APIRouter"})
APP_CLASSES = frozenset({"fastapi.FastAPI", "fastapi.applications.FastAPI"}) | ROUTER_CLASSES
ROUTE_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "options", "head", "trace", "api_route"}
)
DEPENDS = frozenset(
    {"fastapi.Depends", "fastapi.params.Depends", "fastapi.Security", "fastapi.params.Security"}
)
ANNOTATED = frozenset({"typing.Annotated", "typing_extensions.Annotated"})


CALLS_OF_INTEREST.add("include_router")


class FastAPIApps(TrackedView):
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
        # Path templates prefixed to an instance's routes (`APIRouter(prefix=...)`,
        # `include_router(router, prefix=...)`): their `{params}` are path parameters.
        self.prefixes: dict[str, list[str]] = {}
        inclusions: list[tuple[str, str]] = []  # (including, included)
        for facts in index.modules.values():
            for name, value in facts.assignments.items():
                if (
                    isinstance(value, Call)
                    and index.canonical(dotted(value.func) or "") in self.classes
                ):
                    qualname = f"{facts.module}.{name}"
                    self.instances.add(qualname)
                    self._prefix(qualname, value.kwarg("prefix"))
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
                self._prefix(included, call.kwarg("prefix"))
                inclusions.append((including, included))
        changed = True
        while changed:  # a router included in a hidden one is hidden too
            changed = False
            for including, included in inclusions:
                if including in self.hidden and included not in self.hidden:
                    self.hidden.add(included)
                    changed = True

    def _prefix(self, qualname: str, value: Value | None) -> None:
        text = const_str(value) if value is not None else None
        if text:
            self.prefixes.setdefault(qualname, []).append(text)

    def is_instance(self, qualname: str | None) -> bool:
        return qualname is not None and self.index.canonical(qualname) in self.instances

    def is_hidden(self, qualname: str | None) -> bool:
        return qualname is not None and self.index.canonical(qualname) in self.hidden


@tracked_view
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
    key = ("fastapi.route_of", id(node))
    if key not in ctx.cache:  # several rules ask about every def
        ctx.cache[key] = _route_of(ctx, node, scope)
    route: Route | None = ctx.cache[key]
    return route


def _route_of(ctx: FileContext, node: cst.FunctionDef, scope: Scope | None) -> Route | None:
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
    bound = depends_constant(ctx, call, scope)
    if bound is not None and bound.args:
        return dotted(bound.args[0])
    return None


def is_depends(ctx: FileContext, expr: cst.BaseExpression | None, scope: Scope) -> bool:
    """A `Depends(...)`/`Security(...)` call, or a name bound to one elsewhere
    (`CurrentUser = Depends(get_current_user)` in a `deps` module, imported):
    either way FastAPI resolves a dependency, not a query parameter."""
    if expr is None:
        return False
    if isinstance(expr, cst.Call):
        name = ctx.qualified_name(expr.func, scope)
        return ctx.index.canonical(name or "") in DEPENDS
    return depends_constant(ctx, expr, scope) is not None


def depends_constant(ctx: FileContext, expr: cst.BaseExpression, scope: Scope) -> Call | None:
    """The `Depends(...)` call a module-level name (here or imported) is bound to."""
    if not isinstance(expr, cst.Name | cst.Attribute):
        return None
    name = ctx.qualified_name(expr, scope)
    if name is None:
        return None
    value = ctx.index.lookup(ctx.index.canonical(name))
    if isinstance(value, Call) and ctx.index.canonical(dotted(value.func) or "") in DEPENDS:
        return value
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


_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?\}")


def path_parameters(ctx: FileContext, route: Route) -> frozenset[str]:
    """The names in the route's path template (`"/items/{item_id}"`,
    `"/files/{path:path}"`) and in its router's prefix (`APIRouter(prefix=
    "/dags/{dag_id}")`, `include_router(router, prefix=...)`); only literal
    templates are read."""
    templates: list[str] = []
    path: cst.BaseExpression | None = route.keyword("path")
    if path is None and route.decorator.args and route.decorator.args[0].keyword is None:
        path = route.decorator.args[0].value
    if isinstance(path, cst.SimpleString | cst.ConcatenatedString):
        text = path.evaluated_value
        if isinstance(text, str):
            templates.append(text)
    if route.instance is not None:
        apps = ctx.index.view(fastapi_apps)
        templates += apps.prefixes.get(ctx.index.canonical(route.instance), [])
    return frozenset(name for text in templates for name in _PATH_PARAM.findall(text))


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


# --------------------------------------------------------------------------
# Dependencies, lifespan handlers and per-request code.

REQUEST_CLASSES = frozenset(
    {
        "fastapi.Request",
        "fastapi.requests.Request",
        "starlette.requests.Request",
    }
)
BACKGROUND_TASKS = frozenset(
    {
        "fastapi.BackgroundTasks",
        "fastapi.background.BackgroundTasks",
        "starlette.background.BackgroundTasks",
    }
)
BACKGROUND_TASK = frozenset({"starlette.background.BackgroundTask"})
MIDDLEWARE_BASES = frozenset(
    {"starlette.middleware.base.BaseHTTPMiddleware", "fastapi.middleware.base.BaseHTTPMiddleware"}
)
# `FastAPI(...)`/`APIRouter(...)` keywords naming startup/shutdown code.
LIFESPAN_KEYWORDS = ("lifespan", "on_startup", "on_shutdown")

CALLS_OF_INTEREST.add("add_event_handler")


class FastAPIDependencies(TrackedView):
    """What runs per request through `Depends()`/`Security()` anywhere in the
    project (function parameters, `Annotated` aliases, `dependencies=[...]` of
    routes, routers and apps), and what runs at startup or shutdown."""

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        # Functions and classes called per request (a class: its `__init__`).
        self.callables: set[str] = set()
        # Classes whose instances are dependencies (their `__call__`).
        self.instances: set[str] = set()
        # Lifespan functions, startup and shutdown handlers.
        self.lifespan: set[str] = set()
        if not index.uses("fastapi"):
            return
        targets: list[Value] = []
        for facts in index.modules.values():
            functions = [(f"{facts.module}.{f.name}", f) for f in facts.functions.values()]
            for cls in facts.classes.values():
                functions += [(f"{cls.qualname}.{m.name}", m) for m in cls.methods]
            for qualname, fn in functions:
                for returned in fn.returned:  # `app = FastAPI(lifespan=...)` in a factory
                    if isinstance(returned, Call):
                        for key in LIFESPAN_KEYWORDS:
                            self._lifespan(returned.kwarg(key))
                for _, annotation, default in fn.params:
                    targets += _depends_in(default, annotation)
                    targets += _depends_in(annotation, None)
                for decorator in fn.decorators:
                    targets += _depends_in(decorator, None)
                    if (
                        isinstance(decorator, Call)
                        and isinstance(decorator.func, Attr)
                        and decorator.func.attr == "on_event"
                    ):
                        self.lifespan.add(qualname)
            for value in facts.assignments.values():
                targets += _depends_in(value, None)
                if isinstance(value, Call):
                    for key in LIFESPAN_KEYWORDS:
                        self._lifespan(value.kwarg(key))
            for call in facts.calls:
                targets += _depends_in(call, None)
                if isinstance(call.func, Attr) and call.func.attr == "add_event_handler":
                    self._lifespan(call.args[1] if len(call.args) > 1 else call.kwarg("func"))
        for target in targets:
            self._add(target)

    def _lifespan(self, value: Value | None) -> None:
        items = value.items if isinstance(value, Seq) else (value,) if value is not None else ()
        for item in items:
            name = dotted(item)
            if name:
                self.lifespan.add(self.index.canonical(name))

    def _add(self, target: Value) -> None:
        if isinstance(target, Call):  # `Depends(RoleChecker("admin"))`
            name = dotted(target.func)
            if name and self.index.find_class(name) is not None:
                self.instances.add(self.index.canonical(name))
            return
        name = dotted(target)
        if not name:
            return
        canonical = self.index.canonical(name)
        found = self.index.lookup(canonical)
        if isinstance(found, Call):  # `checker = RoleChecker("admin")`, `Depends(checker)`
            cls = dotted(found.func)
            if cls and self.index.find_class(cls) is not None:
                self.instances.add(self.index.canonical(cls))
            return
        self.callables.add(canonical)


def _depends_in(value: Value | None, annotation: Value | None) -> list[Value]:
    """Targets of the `Depends(...)` calls in a summarised value; `Depends()`
    without one depends on the annotation's class (or `Annotated`'s type)."""
    out: list[Value] = []
    stack: list[tuple[Value, Value | None]] = [(value, annotation)] if value is not None else []
    while stack:
        current, declared = stack.pop()
        if isinstance(current, Call):
            if dotted(current.func) in DEPENDS:
                target = current.args[0] if current.args else current.kwarg("dependency")
                if target is not None:
                    out.append(target)
                elif declared is not None:
                    out.append(declared)
            stack.append((current.func, None))
            stack.extend((a, None) for a in current.args)
            stack.extend((v, None) for _, v in current.kwargs)
        elif isinstance(current, Subscript):
            first = current.index[0] if current.index else None
            stack.extend((item, first) for item in current.index[1:])
            stack.extend((item, None) for item in current.index[:1])
        elif isinstance(current, Seq):
            stack.extend((item, None) for item in current.items)
        elif isinstance(current, Mapping):
            stack.extend((v, None) for _, v in current.items)
    return out


@tracked_view
def fastapi_dependencies(index: ProjectIndex) -> FastAPIDependencies:
    return FastAPIDependencies(index)


def function_qualname(ctx: FileContext, node: cst.FunctionDef, scope: Scope) -> str | None:
    """`module.func` or `module.Class.method` for a module-level def or a method
    of a module-level class (`scope`: the scope the def is in); else None."""
    if scope.kind is ScopeKind.MODULE:
        return f"{ctx.module}.{node.name.value}"
    if (
        scope.kind is ScopeKind.CLASS
        and isinstance(scope.node, cst.ClassDef)
        and scope.parent is not None
        and scope.parent.kind is ScopeKind.MODULE
    ):
        return f"{ctx.module}.{scope.node.name.value}.{node.name.value}"
    return None


def is_dependency(ctx: FileContext, node: cst.FunctionDef, scope: Scope) -> bool:
    """A function called per request through `Depends()` (or the `__init__` /
    `__call__` of a class dependency)."""
    qualname = function_qualname(ctx, node, scope)
    if qualname is None:
        return False
    deps = ctx.index.view(fastapi_dependencies)
    canonical = ctx.index.canonical(qualname)
    if canonical in deps.callables:
        return True
    owner, _, method = canonical.rpartition(".")
    if method == "__init__":
        return owner in deps.callables
    return method == "__call__" and owner in deps.instances


def is_lifespan_handler(ctx: FileContext, node: cst.FunctionDef, scope: Scope) -> bool:
    """A `lifespan=` function, or a startup/shutdown handler (`on_startup=[...]`,
    `@app.on_event("startup")`, `app.add_event_handler("startup", f)`)."""
    qualname = function_qualname(ctx, node, scope)
    if qualname is None:
        return False
    return ctx.index.canonical(qualname) in ctx.index.view(fastapi_dependencies).lifespan


# FastAPI/Starlette decorators of an app or router instance that make a
# websocket endpoint (`ROUTE_METHODS` holds the HTTP ones).
WEBSOCKET_METHODS = frozenset({"websocket", "websocket_route"})


def app_decorated(
    ctx: FileContext, node: cst.FunctionDef, scope: Scope, methods: frozenset[str]
) -> bool:
    """A decorator `@<app or router>.<one of methods>(...)` on `node`."""
    for decorator in node.decorators:
        call = decorator.decorator
        if (
            isinstance(call, cst.Call)
            and isinstance(call.func, cst.Attribute)
            and call.func.attr.value in methods
            and is_app_instance(ctx, call.func.value, scope)
        ):
            return True
    return False


def is_middleware(ctx: FileContext, node: cst.FunctionDef, scope: Scope) -> bool:
    """`@app.middleware("http")`, or `dispatch` of a `BaseHTTPMiddleware` subclass."""
    if app_decorated(ctx, node, scope, frozenset({"middleware"})):
        return True
    if node.name.value != "dispatch" or scope.kind is not ScopeKind.CLASS:
        return False
    cls = scope.node
    assert isinstance(cls, cst.ClassDef)
    return any(
        ctx.index.canonical(ctx.qualified_name(base.value, scope.parent) or "") in MIDDLEWARE_BASES
        for base in cls.bases
    )


def http_methods(route: Route) -> frozenset[str]:
    """The HTTP methods a route answers (`api_route` without `methods=`: GET)."""
    if route.method != "api_route":
        return frozenset({route.method.upper()})
    methods = route.keyword("methods")
    if methods is None:
        return frozenset({"GET"})
    if not isinstance(methods, cst.List | cst.Tuple | cst.Set):
        return frozenset()
    found: set[str] = set()
    for element in methods.elements:
        value = element.value
        if not isinstance(value, cst.SimpleString):
            return frozenset()
        text = value.evaluated_value
        if isinstance(text, str):
            found.add(text.upper())
    return frozenset(found)


def route_path(route: Route) -> str | None:
    """The path template a route's decorator gives (`"/services/register"`)."""
    path = route.keyword("path")
    if path is None and route.decorator.args and route.decorator.args[0].keyword is None:
        path = route.decorator.args[0].value
    if not isinstance(path, cst.SimpleString):
        return None
    text = path.evaluated_value
    return text if isinstance(text, str) else None


# Last path segments of an RPC-style API's non-creating routes: a REST API
# says these with its methods (`DELETE /x/{id}`, `GET /x`), an RPC-style one
# names them in a POST's path (`POST /services/{run}/unregister`, `/runs/list`).
RPC_VERBS = frozenset(
    {"delete", "remove", "unregister", "get", "list", "update", "stop", "cancel", "set", "info"}
)
_SEGMENT_WORD = re.compile(r"[a-z]+")


def _rpc_verb(path: str | None) -> bool:
    """The path's last segment starts with a non-creating verb (`/unregister`,
    `/set_id`, `/list`); a `{param}` is no verb."""
    if not path:
        return False
    last = path.rstrip("/").rpartition("/")[2].lower()
    word = _SEGMENT_WORD.match(last)
    return word is not None and word.group(0) in RPC_VERBS


def _websocket_of(ctx: FileContext, node: cst.FunctionDef, instance: str) -> bool:
    """`node` is a websocket route of the app or router `instance`."""
    return any(
        isinstance(call := d.decorator, cst.Call)
        and isinstance(call.func, cst.Attribute)
        and call.func.attr.value in WEBSOCKET_METHODS
        and ctx.qualified_name(call.func.value, ctx.module_scope) == instance
        for d in node.decorators
    )


def is_rpc_style_router(ctx: FileContext, route: Route) -> bool:
    """The module's routes on this route's router (top-level defs decorated
    by the same module-level name) are all POSTs, at least three, and another
    of them names a non-creating verb in its path (`POST .../unregister`,
    `POST .../list`): an RPC-style API (dstack's server and gateway APIs),
    which answers every call, creations included, with 200."""
    if route.instance is None:
        return False  # a router made in a function: its routes are not all here
    key = (f"fastapi.router_routes:{route.instance}", 0)
    routes = ctx.cache.get(key)
    if routes is None:
        routes = []
        for node in ctx.tree.body:
            other = (
                route_of(ctx, node, ctx.module_scope) if isinstance(node, cst.FunctionDef) else None
            )
            if other is not None and other.instance == route.instance:
                routes.append((node, http_methods(other) == {"POST"}, _rpc_verb(route_path(other))))
            elif isinstance(node, cst.FunctionDef) and _websocket_of(ctx, node, route.instance):
                routes.append((node, False, False))  # a websocket: not an RPC call
        ctx.cache[key] = routes
    return (
        len(routes) >= 3
        and all(post for _, post, _ in routes)
        and any(verb for node, _, verb in routes if node is not route.function)
    )


# Routes that forward a request they do not own, by name (`forward_post`,
# `proxy`): the body and the response are another service's.
FORWARDING_WORDS = frozenset({"forward", "proxy", "passthrough", "relay"})


def is_forwarding_route(node: cst.FunctionDef) -> bool:
    """`forward_get`, `proxy`, `openai_passthrough`: a route that relays."""
    return bool(FORWARDING_WORDS & set(node.name.value.lower().split("_")))


def function_scope(node: cst.FunctionDef, enclosing: Scope) -> Scope:
    """The scope of a def's body, before the walker enters it."""
    return Scope(node, ScopeKind.FUNCTION, node.asynchronous is not None, enclosing)


# Response classes: a route returning one of these sends it as is.
_RESPONSE_MODULES = ("fastapi.responses.", "starlette.responses.")
_RESPONSE_CLASSES = frozenset(
    {"fastapi.Response", "fastapi.responses.Response", "starlette.responses.Response"}
)

# Response classes whose body is JSON: declaring one says nothing of the status.
JSON_RESPONSES = frozenset(
    f"{module}{name}"
    for module in _RESPONSE_MODULES
    for name in ("JSONResponse", "ORJSONResponse", "UJSONResponse")
)


def is_response_class(name: str | None, index: ProjectIndex | None = None) -> bool:
    """A Response class of FastAPI/Starlette, or (given the index) a project
    subclass of one (`class CustomJSONResponse(JSONResponse)`)."""
    if name is None:
        return False
    if name in _RESPONSE_CLASSES or name.startswith(_RESPONSE_MODULES):
        return True
    seen: set[str] = set()
    pending = [name]
    while index is not None and pending and len(seen) < 16:
        cls = index.find_class(pending.pop())
        if cls is None or cls.qualname in seen:
            continue
        seen.add(cls.qualname)
        for base in cls.bases:
            base_name = index.canonical(dotted(base) or "")
            if base_name in _RESPONSE_CLASSES or base_name.startswith(_RESPONSE_MODULES):
                return True
            pending.append(base_name)
    return False


def returns_response(ctx: FileContext, node: cst.FunctionDef, scope: Scope) -> bool:
    """The def is annotated to return a Response, or some `return` hands back a
    Response object (`RedirectResponse(...)`, `templates.TemplateResponse(...)`,
    a project function declared to return one, or a local name bound to one)."""
    if declares_response(ctx, node, scope):
        return True
    inner = function_scope(node, scope)
    return any(
        isinstance(stmt, cst.Return)
        and stmt.value is not None
        and is_response_value(ctx, stmt.value, inner)
        for stmt in body_statements(node)
    )


def declares_response(ctx: FileContext, node: cst.FunctionDef, scope: Scope) -> bool:
    """The def's return annotation is a Response class."""
    if node.returns is None:
        return False
    declared = ctx.qualified_name(node.returns.annotation, scope)
    return is_response_class(ctx.index.canonical(declared) if declared else None, ctx.index)


# Methods of libraries whose result is a Response: Jinja2Templates'
# `TemplateResponse(...)` (an HTML page), Authlib's Starlette client
# `authorize_redirect(...)` (a RedirectResponse to the provider).
RESPONSE_METHODS = frozenset({"TemplateResponse", "authorize_redirect"})
# How many project functions deep a returned call is followed.
_HELPER_DEPTH = 3


def _bound_only_to(
    ctx: FileContext,
    name: cst.Name,
    scope: Scope,
    test: Callable[[cst.BaseExpression], bool],
) -> bool:
    """`name` is a local of `scope` assigned only values that pass `test`
    (`response = StreamingResponse(...)`, `data = r.json()`)."""
    owner, bindings = ctx.bindings(name.value, scope)
    return (
        owner is scope
        and bool(bindings)
        and all(isinstance(b, Assigned) and b.value is not None and test(b.value) for b in bindings)
    )


def is_response_value(
    ctx: FileContext, value: cst.BaseExpression, scope: Scope, depth: int = 0
) -> bool:
    """`value` (returned from a def whose body scope is `scope`) is a Response
    object: a Response class (or a project subclass) called, a Jinja2
    `TemplateResponse(...)`, a call of a project function or method (of a
    parameter, `backend.login(...)` with `backend: AuthenticationBackend`, or
    of a module-level instance, `manager.handle_callback(...)` with
    `manager = OAuthManager(app)`) that returns one (`returns_response_facts`),
    or a local name bound only to such values."""
    if isinstance(value, cst.Await):
        value = value.expression
    index = ctx.index
    if isinstance(value, cst.Call):
        func = value.func
        if isinstance(func, cst.Attribute) and func.attr.value in RESPONSE_METHODS:
            return True
        name = ctx.qualified_name(func, scope)
        if name is not None:
            name = index.canonical(name)
            if is_response_class(name, index):
                return True
        fn = _project_callee(index, name) if name else _parameter_method(ctx, func, scope)
        return fn is not None and returns_response_facts(index, fn)
    if isinstance(value, cst.Name) and depth < 3:
        return _bound_only_to(
            ctx, value, scope, lambda v: is_response_value(ctx, v, scope, depth + 1)
        )
    return False


def returns_response_facts(index: ProjectIndex, fn: FunctionFacts, depth: int = 0) -> bool:
    """A project function hands back a Response: its return annotation is a
    Response class, or (unannotated) some value it returns is one: a Response
    class called, `TemplateResponse(...)`, or a call of a project function that
    returns one, followed `_HELPER_DEPTH` deep (`send_request(...)` returning a
    `StreamingResponse` of the upstream's answer on one path)."""
    if fn.returns is not None:
        returns = dotted(fn.returns)
        return is_response_class(index.canonical(returns) if returns else None, index)
    return depth < _HELPER_DEPTH and any(
        _is_response_fact(index, value, depth) for value in fn.returned
    )


def _is_response_fact(index: ProjectIndex, value: Value, depth: int) -> bool:
    if isinstance(value, Await):
        value = value.value
    if not isinstance(value, Call):
        return False
    if isinstance(value.func, Attr) and value.func.attr in RESPONSE_METHODS:
        return True
    name = dotted(value.func)
    if name is None:
        return False
    name = index.canonical(name)
    if is_response_class(name, index):
        return True
    fn = _project_callee(index, name)
    return fn is not None and returns_response_facts(index, fn, depth + 1)


def _project_callee(index: ProjectIndex, name: str) -> FunctionFacts | None:
    """The project function `name` calls: a function, a class's method, or the
    method of a module-level instance (`manager.handle` with
    `manager = Manager(app)` at module level), its class's bases included."""
    fn = index.find_function(name)
    if fn is not None:
        return fn
    owner, _, method = name.rpartition(".")
    instance = index.lookup(owner) if owner else None
    if not isinstance(instance, Call):
        return None
    cls_name = dotted(instance.func)
    if cls_name is None:
        return None
    for cls in index.ancestors(cls_name):
        found = cls.method(method)
        if found is not None:
            return found
    return None


def _parameter_method(
    ctx: FileContext, func: cst.BaseExpression, scope: Scope
) -> FunctionFacts | None:
    """`backend.login` where `backend: AuthenticationBackend` is a parameter."""
    if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
        return None
    owner, bindings = ctx.bindings(func.value.value, scope)
    if owner is None or len(bindings) != 1 or not isinstance(bindings[0], Parameter):
        return None
    annotation = bindings[0].param.annotation
    if annotation is None:
        return None
    declared = annotation.annotation
    if isinstance(declared, cst.Subscript):  # `Backend[UserT, IdT]`
        declared = declared.value
    cls_name = ctx.qualified_name(declared, owner)
    cls = ctx.index.find_class(cls_name) if cls_name else None
    return cls.method(func.attr.value) if cls is not None else None


# --------------------------------------------------------------------------
# What a route returns: typed data, another service's JSON.

# Pydantic's model classes (SQLModel's are Pydantic models too).
PYDANTIC_BASES = frozenset(
    {"pydantic.BaseModel", "pydantic.main.BaseModel", "sqlmodel.SQLModel", "sqlmodel.main.SQLModel"}
)


def is_pydantic_model(index: ProjectIndex, name: str | None) -> bool:
    """`name` is Pydantic's `BaseModel` or a project class deriving from it
    (through project classes)."""
    if not name:
        return False
    name = index.canonical(name)
    if name in PYDANTIC_BASES:
        return True
    return any(
        index.canonical(dotted(base) or "") in PYDANTIC_BASES
        for cls in index.ancestors(name)
        for base in cls.bases
    )


# Methods of HTTP clients (httpx, requests, aiohttp) that send a request and
# return its response: `client.get(url)`, `session.post(...)`, `client.send(req)`.
HTTP_SEND_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "request", "send", "fetch"}
)


def _unwrap_await(expr: cst.BaseExpression) -> cst.BaseExpression:
    return expr.expression if isinstance(expr, cst.Await) else expr


def _is_send_call(expr: cst.BaseExpression | None) -> bool:
    """`client.get(url)`, `await session.post(...)`, `requests.get(url)`."""
    if expr is None:
        return False
    expr = _unwrap_await(expr)
    return (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value in HTTP_SEND_METHODS
        and bool(expr.args)
    )


def is_outgoing_response(ctx: FileContext, expr: cst.BaseExpression, scope: Scope) -> bool:
    """`expr` is the response of an outgoing HTTP request: a send call itself,
    or a local name bound only to one (`resp = await client.get(url)`, `async
    with session.get(url) as resp`)."""
    expr = _unwrap_await(expr)
    if _is_send_call(expr):
        return True
    if not isinstance(expr, cst.Name):
        return False
    owner, bindings = ctx.bindings(expr.value, scope)
    if owner is not scope or not bindings:
        return False
    sends = [
        b
        for b in bindings
        if (isinstance(b, Assigned) and _is_send_call(b.value))
        or (isinstance(b, WithTarget) and _is_send_call(b.item.item))
    ]
    # `response = None` before the `async with ... as response` is no other value.
    return bool(sends) and all(
        b in sends
        or (isinstance(b, Assigned) and isinstance(b.value, cst.Name) and b.value.value == "None")
        for b in bindings
    )


def is_relayed_json(
    ctx: FileContext, value: cst.BaseExpression, scope: Scope, depth: int = 0
) -> bool:
    """`value` (returned from a def whose body scope is `scope`) is the JSON of
    another service's answer: `resp.json()` / `await resp.json()` of an
    outgoing request, a local name bound only to that, `{**data}` of it, or a
    call of a project function some of whose returns are such a `.json()`."""
    value = _unwrap_await(value)
    if isinstance(value, cst.Call):
        func = value.func
        if isinstance(func, cst.Attribute) and func.attr.value == "json" and not value.args:
            return is_outgoing_response(ctx, func.value, scope)
        name = ctx.qualified_name(func, scope)
        fn = _project_callee(ctx.index, ctx.index.canonical(name)) if name else None
        return fn is not None and _relays_json_facts(ctx.index, fn, 0)
    if isinstance(value, cst.Dict) and len(value.elements) == 1:
        element = value.elements[0]
        return isinstance(element, cst.StarredDictElement) and is_relayed_json(
            ctx, element.value, scope, depth + 1
        )
    if isinstance(value, cst.Name) and depth < 3:
        return _bound_only_to(
            ctx, value, scope, lambda v: is_relayed_json(ctx, v, scope, depth + 1)
        )
    return False


def _relays_json_facts(index: ProjectIndex, fn: FunctionFacts, depth: int) -> bool:
    """Some value a project function returns is `.json()` of an outgoing
    request (`resp = await client.get(url)` followed), or a call of a project
    function that does, `_HELPER_DEPTH` deep."""
    params = {name for name, _, _ in fn.params}
    for value in fn.returned:
        if isinstance(value, Await):
            value = value.value
        if not isinstance(value, Call):
            continue
        func = value.func
        if isinstance(func, Attr) and func.attr == "json" and not value.args:
            receiver = func.value.value if isinstance(func.value, Await) else func.value
            if isinstance(receiver, Call) and isinstance(receiver.func, Attr):
                if receiver.func.attr in HTTP_SEND_METHODS and receiver.args:
                    return True
            elif isinstance(receiver, Local) and receiver.name not in params:
                return True  # a response bound where the index does not follow it
            continue
        name = dotted(func)
        callee = _project_callee(index, index.canonical(name)) if name else None
        if (
            callee is not None
            and depth < _HELPER_DEPTH
            and _relays_json_facts(index, callee, depth + 1)
        ):
            return True
    return False


def is_runtime_relay(
    ctx: FileContext, value: cst.BaseExpression, scope: Scope, depth: int = 0
) -> bool:
    """`value` (returned from a def whose body scope is `scope`) is what code
    loaded at run time returned: a call of a project function (or of a
    method of a module-level instance) some of whose returns are the result
    of a callable resolved at run time (`FunctionFacts.relays_runtime_call`:
    a plugin module's hook, `action = module.action` called after
    `inspect.signature(action)`), or of a project function returning such a
    call, `_HELPER_DEPTH` deep; or a local name bound only to one."""
    value = _unwrap_await(value)
    if isinstance(value, cst.Call):
        name = ctx.qualified_name(value.func, scope)
        fn = _project_callee(ctx.index, ctx.index.canonical(name)) if name else None
        return fn is not None and _relays_runtime_facts(ctx.index, fn, 0)
    if isinstance(value, cst.Name) and depth < 3:
        return _bound_only_to(
            ctx, value, scope, lambda v: is_runtime_relay(ctx, v, scope, depth + 1)
        )
    return False


def _relays_runtime_facts(index: ProjectIndex, fn: FunctionFacts, depth: int) -> bool:
    if fn.relays_runtime_call:
        return True
    if depth >= _HELPER_DEPTH:
        return False
    for value in fn.returned:
        if isinstance(value, Await):
            value = value.value
        name = dotted(value.func) if isinstance(value, Call) else None
        callee = _project_callee(index, index.canonical(name)) if name else None
        if callee is not None and _relays_runtime_facts(index, callee, depth + 1):
            return True
    return False


def is_model_dump(ctx: FileContext, value: cst.BaseExpression, scope: Scope) -> bool:
    """`x.model_dump(...)` (Pydantic v2's own method), or `x.dict(...)` of a
    name known to hold a Pydantic model: a parameter annotated with one, or a
    local bound to `Model(...)` / `Model.model_validate(...)`."""
    value = _unwrap_await(value)
    if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)):
        return False
    method = value.func.attr.value
    if method == "model_dump":
        return True
    if method != "dict":
        return False
    receiver = value.func.value
    if not isinstance(receiver, cst.Name):
        return False
    owner, bindings = ctx.bindings(receiver.value, scope)
    if owner is None or not bindings:
        return False
    index = ctx.index
    for binding in bindings:
        if isinstance(binding, Parameter):
            declared = binding.param.annotation
            if declared is None or not is_pydantic_model(
                index, ctx.qualified_name(declared.annotation, owner.parent or owner)
            ):
                return False
        elif isinstance(binding, Assigned) and isinstance(binding.value, cst.Call):
            func = binding.value.func
            if isinstance(func, cst.Attribute) and func.attr.value in (
                "model_validate",
                "parse_obj",
            ):
                func = func.value
            if not is_pydantic_model(index, ctx.qualified_name(func, owner)):
                return False
        else:
            return False
    return True
