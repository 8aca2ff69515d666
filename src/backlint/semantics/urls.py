"""Django URLconfs: which views each URLconf module routes.

Read from the index: `path()`/`re_path()`/`url()` entries of the module's
lists (`urlpatterns = [...]`, `urlpatterns += [...]`) naming `View.as_view()`,
and DRF router registrations (`router.register("prefix", ViewSet)`) on a
module-level router. A view is routed by the module that names it, whichever
URLconf later `include()`s that module (prefixes are not followed).
"""

from __future__ import annotations

from collections.abc import Iterator

from backlint.semantics.facts import (
    CALLS_OF_INTEREST,
    Attr,
    Call,
    ModuleFacts,
    Ref,
    Seq,
    Value,
    dotted,
)
from backlint.semantics.index import ProjectIndex, data_view

# Django's URL functions, by every path they are imported from.
URL_FUNCTIONS = frozenset(
    {
        "django.urls.path",
        "django.urls.re_path",
        "django.urls.conf.path",
        "django.urls.conf.re_path",
        "django.conf.urls.url",
    }
)
# Packages whose classes are DRF routers (DRF's own, drf-nested-routers):
# `SimpleRouter`, `DefaultRouter`, `NestedSimpleRouter`...
ROUTER_PACKAGES = ("rest_framework.routers.", "rest_framework_nested.routers.")
# `router.register(prefix, viewset)`: kept in `ModuleFacts.calls`.
CALLS_OF_INTEREST.add("register")


def _view_class(value: Value) -> str | None:
    """`View.as_view()`, `csrf_exempt(View.as_view())` -> `View`; else None."""
    for _ in range(8):
        if not isinstance(value, Call):
            return None
        func = value.func
        if isinstance(func, Attr) and func.attr == "as_view":
            return dotted(func.value)
        if not value.args:
            return None
        value = value.args[0]  # a wrapper: `csrf_exempt(view)`, `cache_page(60)(view)`
    return None


def _is_router_class(index: ProjectIndex, name: str) -> bool:
    """A DRF router class, or a project class deriving from one."""
    if name.startswith(ROUTER_PACKAGES):
        return True
    for cls in index.ancestors(name):
        for base in cls.bases:
            based = dotted(base)
            if based and index.canonical(based).startswith(ROUTER_PACKAGES):
                return True
    return False


def _registered(index: ProjectIndex, facts: ModuleFacts) -> Iterator[str]:
    """Viewsets registered on the module's own routers."""
    routers: dict[str, bool] = {}
    for call in facts.calls:
        func = call.func
        if not (isinstance(func, Attr) and func.attr == "register"):
            continue
        receiver = func.value
        if not (isinstance(receiver, Ref) and receiver.name.startswith(facts.module + ".")):
            continue
        name = receiver.name[len(facts.module) + 1 :]
        if name not in routers:
            made = facts.assignments.get(name)
            built = dotted(made.func) if isinstance(made, Call) else None
            routers[name] = built is not None and _is_router_class(index, index.canonical(built))
        if not routers[name]:
            continue
        viewset = call.args[1] if len(call.args) >= 2 else call.kwarg("viewset")
        target = dotted(viewset) if viewset is not None else None
        if target:
            yield index.canonical(target)


def url_entries(index: ProjectIndex, facts: ModuleFacts) -> Iterator[Call]:
    """The `path()`-like entries (a route and a view at least) of the
    module's lists: `urlpatterns = [...]`, `urlpatterns += [...]`."""
    for value in (*facts.assignments.values(), *(v for _, v in facts.rebinds)):
        if not isinstance(value, Seq):
            continue
        for item in value.items:
            if (
                isinstance(item, Call)
                and len(item.args) >= 2
                and index.canonical(dotted(item.func) or "") in URL_FUNCTIONS
            ):
                yield item


def _patterns(index: ProjectIndex, facts: ModuleFacts) -> Iterator[str]:
    """Class views named by `path()`-like entries of the module's lists."""
    for item in url_entries(index, facts):
        target = _view_class(item.args[1])
        if target:
            yield index.canonical(target)


@data_view
def url_routes(index: ProjectIndex) -> dict[str, frozenset[str]]:
    """URLconf module -> the class views it routes (by qualified name)."""
    routes: dict[str, frozenset[str]] = {}
    if not index.uses("django"):
        return routes  # no URLconf without Django
    for module, facts in index.modules.items():
        views = frozenset((*_registered(index, facts), *_patterns(index, facts)))
        if views:
            routes[module] = views
    return routes


__all__ = ["ROUTER_PACKAGES", "URL_FUNCTIONS", "url_entries", "url_routes"]
