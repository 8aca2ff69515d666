"""Framework entry points: the defs whose signatures something outside reads.

A signature matters most where a framework reads it or where the request
handlers of the project call in. This module answers, for a def, which kind of
entry point it is, if any:

- `ROUTE`: a FastAPI route (`semantics.fastapi.route_of`) or websocket route
  (`@app.websocket(...)`); FastAPI reads every parameter's annotation to
  parse the request (an unannotated one is a string query parameter) and the
  return annotation as the response model.
- `DEPENDENCY`: a FastAPI dependency (`semantics.fastapi.is_dependency`: a
  function, or a class's `__init__`/`__call__`, handed to `Depends()` anywhere
  in the project); FastAPI reads its parameters the way it reads a route's.
- `DRF_VIEW`: a function-based DRF view (`@api_view`), or a method of a project
  class that derives from DRF's `APIView` or `BaseSerializer`
  (`semantics.drf.drf_classes`): the handlers, actions and hooks DRF calls
  (`get`, `create`, `get_queryset`, `validate_<field>`, `get_<field>` of a
  `SerializerMethodField`, whose return annotation schema generators read).
- `TASK`: a Celery task (`semantics.celery.is_task`): its arguments cross the
  broker, and callers of `.delay()` see only its signature.
- `SERVICE`: a module-level function, or a method of a module-level class
  whose name does not start with `_`, in a module of the project's service
  layer: a module or package named `services`, `service`, `repositories`,
  `repository`, `repos`, `crud`, `selectors`, `use_cases`, `usecases` or
  `interactors`, or whose name ends in one of them after an underscore
  (`order_services.py`, `user_repository.py`, `wallet_crud.py`). These are the
  names the service-layer and repository patterns give the code that routes,
  views and tasks call into (except under a `models` package: there a
  `repository.py` holds the model of that domain noun; and except Django
  signal receivers, which only the dispatcher calls); a project's
  `utils.py` or `helpers.py` is not part of that contract (a name alone
  cannot tell a helper from an interface, and "called from a route
  somewhere" would need a call graph the index does not keep).

`ROUTE`, `DEPENDENCY` and `TASK` are read by the framework whatever the def
is named and wherever it is defined (a route in an app factory, a dependency
named `_get_db`); `DRF_VIEW` and `SERVICE` are surfaces of a class or module,
whose private members (`_helper`) stay the author's business.
"""

from __future__ import annotations

import enum

import libcst as cst

from backlint.semantics.celery import is_task
from backlint.semantics.context import FileContext, Scope, ScopeKind
from backlint.semantics.drf import drf_classes
from backlint.semantics.fastapi import (
    WEBSOCKET_METHODS,
    app_decorated,
    fastapi_dependencies,
    is_dependency,
    route_of,
)
from backlint.semantics.index import ProjectIndex
from backlint.semantics.python import decorator_names
from backlint.types import SourceFile

# DRF's decorator for function-based views.
API_VIEW_DECORATORS = frozenset({"rest_framework.decorators.api_view"})
# Django signal receivers: called by the dispatcher with `sender, **kwargs`,
# never by the code that calls into the service layer.
SIGNAL_RECEIVERS = frozenset({"django.dispatch.receiver", "django.dispatch.dispatcher.receiver"})
# Names of service-layer modules and packages (also as a `_suffix`).
SERVICE_MODULE_NAMES = frozenset(
    {
        "services",
        "service",
        "repositories",
        "repository",
        "repos",
        "crud",
        "selectors",
        "use_cases",
        "usecases",
        "interactors",
    }
)

# The data layer: a module under `models/` named `repository` or `service`
# holds the model of that domain noun (Pulp's package `Repository`, a network
# `Service`), not the repository or service pattern.
DATA_LAYER_NAMES = frozenset({"models", "model"})


class EntryPoint(enum.Enum):
    ROUTE = "FastAPI route"
    DEPENDENCY = "FastAPI dependency"
    DRF_VIEW = "DRF view or serializer"
    TASK = "Celery task"
    SERVICE = "service function"

    @property
    def read_by_framework(self) -> bool:
        """The framework calls it by reference: its name and nesting do not
        make it private."""
        return self in (EntryPoint.ROUTE, EntryPoint.DEPENDENCY, EntryPoint.TASK)


def entry_point(ctx: FileContext, node: cst.FunctionDef, scope: Scope) -> EntryPoint | None:
    """The kind of entry point a def is (`scope`: the scope the def is in)."""
    key = ("entry_points.entry_point", id(node))
    if key not in ctx.cache:  # BKL801 and BKL802 both ask about every def
        ctx.cache[key] = _entry_point(ctx, node, scope)
    found: EntryPoint | None = ctx.cache[key]
    return found


def _entry_point(ctx: FileContext, node: cst.FunctionDef, scope: Scope) -> EntryPoint | None:
    if node.decorators:
        if route_of(ctx, node, scope) is not None or app_decorated(
            ctx, node, scope, WEBSOCKET_METHODS
        ):
            return EntryPoint.ROUTE
        if is_task(ctx, node, scope):
            return EntryPoint.TASK
        if any(name in API_VIEW_DECORATORS for name in decorator_names(ctx, node)):
            return EntryPoint.DRF_VIEW
    if ctx.index.uses("fastapi") and is_dependency(ctx, node, scope):
        return EntryPoint.DEPENDENCY
    owner = _module_class(scope)
    if owner is not None and ctx.index.uses("rest_framework"):
        classes = ctx.index.view(drf_classes)
        qualname = ctx.index.canonical(f"{ctx.module}.{owner.name.value}")
        if classes.is_view(qualname) or classes.is_serializer(qualname):
            return EntryPoint.DRF_VIEW
    if (
        is_service_module(ctx.module, ctx.path)
        and _is_module_member(scope)
        and not any(name in SIGNAL_RECEIVERS for name in decorator_names(ctx, node))
    ):
        return EntryPoint.SERVICE
    return None


def _module_class(scope: Scope) -> cst.ClassDef | None:
    """The class a def is a method of, when that class is at module level."""
    if (
        scope.kind is ScopeKind.CLASS
        and isinstance(scope.node, cst.ClassDef)
        and scope.parent is not None
        and scope.parent.kind is ScopeKind.MODULE
    ):
        return scope.node
    return None


def _is_module_member(scope: Scope) -> bool:
    """A module-level def, or a method of a public class (at module level, or
    nested in one: `Meta`), none of them inside a function."""
    s: Scope | None = scope
    while s is not None and s.kind is ScopeKind.CLASS:
        if isinstance(s.node, cst.ClassDef) and s.node.name.value.startswith("_"):
            return False
        s = s.parent
    return s is not None and s.kind is ScopeKind.MODULE


def may_define_entry_points(index: ProjectIndex, file: SourceFile, source: str) -> bool:
    """Before parsing: False when the module certainly defines no entry point
    (BKL801/BKL802 then need not parse it), True when it may. Routes and
    tasks are decorated defs, wherever they are (`@` and, for a task, `task`
    in the source); dependencies, DRF views and serializers are looked up in
    the index by the module's own names."""
    if is_service_module(file.module, file.display):
        return True
    facts = index.modules.get(file.module)
    if facts is None or facts.path != str(file.path):
        return True  # not in the index as this file: parse and see
    if "@" in source and (
        index.uses("fastapi")
        or (index.uses("celery") and "task" in source)
        or (index.uses("rest_framework") and "api_view" in source)
    ):
        return True
    prefix = file.module + "."
    if index.uses("fastapi"):
        deps = index.view(fastapi_dependencies)
        if any(name.startswith(prefix) for name in (*deps.callables, *deps.instances)):
            return True
    if index.uses("rest_framework"):
        classes = index.view(drf_classes)
        for name in facts.classes:
            if classes.is_view(prefix + name) or classes.is_serializer(prefix + name):
                return True
    return False


def is_service_module(module: str, path: str = "") -> bool:
    """A module of the service layer: one of its packages or its own name is a
    service-layer name, or ends in `_<name>`. `path` (the file as shown, when
    relative) covers directories that are not packages."""
    parts: list[str] = module.split(".")
    if path and not path.startswith("/"):
        parts += path.removesuffix(".py").split("/")
    if not DATA_LAYER_NAMES.isdisjoint(parts):
        return False
    return any(_is_service_name(part) for part in parts)


def _is_service_name(part: str) -> bool:
    if part in SERVICE_MODULE_NAMES:
        return True
    _, sep, tail = part.rpartition("_")
    return bool(sep) and (tail in SERVICE_MODULE_NAMES or _two_words(part) in SERVICE_MODULE_NAMES)


def _two_words(part: str) -> str:
    """`order_use_cases` -> `use_cases`."""
    return "_".join(part.split("_")[-2:])
