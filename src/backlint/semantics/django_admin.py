"""Django's admin: the views an admin class routes behind the admin's gate.

`AdminSite.admin_view(view)` wraps a view in the check of every admin page
(`AdminSite.has_permission`: an active staff user, else the admin's login
page), the same gate as `@staff_member_required`. A `ModelAdmin` registers
its extra pages through it in `get_urls()`:
`path("preview/", self.admin_site.admin_view(self.preview_view))`
(openwisp-controller's config admin); an `AdminSite` subclass calls its own
`self.admin_view(self.stats)`.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from backlint.semantics.context import FileContext, Scope, ScopeKind
from backlint.semantics.facts import dotted
from backlint.semantics.tree import descendants

# The packages of Django's admin classes (`ModelAdmin`, `TabularInline`,
# `AdminSite`, and GeoDjango's `GISModelAdmin`): `self.admin_site` and
# `self.admin_view` are theirs.
ADMIN_PACKAGES = ("django.contrib.admin.", "django.contrib.gis.admin.")
# `AdminSite.admin_view`: the wrapper that lets only active staff in.
ADMIN_VIEW = "admin_view"
# How far the bases of a class are followed in its own module.
_MAX_BASES = 16


def _module_classes(ctx: FileContext) -> dict[str, cst.ClassDef]:
    return {stmt.name.value: stmt for stmt in ctx.tree.body if isinstance(stmt, cst.ClassDef)}


def _base_names(ctx: FileContext, node: cst.ClassDef, scope: Scope | None) -> Iterator[str]:
    for base in node.bases:
        name = ctx.qualified_name(base.value, scope)
        if name is not None:
            yield ctx.index.canonical(name)


def builds_on_admin(ctx: FileContext, node: cst.ClassDef, scope: Scope | None) -> bool:
    """A class built on one of Django's admin classes, directly or through
    the project's classes (`BaseConfigAdmin(BaseAdmin)`, `BaseAdmin(ModelAdmin)`).
    A base outside the project and Django ends the walk on its side."""
    index = ctx.index
    for name in _base_names(ctx, node, scope):
        if name.startswith(ADMIN_PACKAGES):
            return True
        for cls in index.ancestors(name):
            for base in cls.bases:
                qualified = dotted(base)
                if qualified is not None and index.canonical(qualified).startswith(ADMIN_PACKAGES):
                    return True
    return False


def _wrapped_methods(node: cst.ClassDef) -> set[str]:
    """The methods a class's own methods hand to `admin_view`:
    `self.admin_site.admin_view(self.<name>)` (a `ModelAdmin`), or
    `self.admin_view(self.<name>)` (an `AdminSite`), `self` being the
    method's first parameter."""
    found: set[str] = set()
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
    for stmt in body:
        if not isinstance(stmt, cst.FunctionDef) or not stmt.params.params:
            continue
        me = stmt.params.params[0].name.value
        for child in descendants(stmt.body, prune=(cst.ClassDef,)):
            if not (
                isinstance(child, cst.Call)
                and isinstance(child.func, cst.Attribute)
                and child.func.attr.value == ADMIN_VIEW
                and child.args
                and child.args[0].keyword is None
                and child.args[0].star == ""
            ):
                continue
            receiver = child.func.value
            if isinstance(receiver, cst.Attribute) and receiver.attr.value == "admin_site":
                receiver = receiver.value
            view = child.args[0].value
            if (
                isinstance(receiver, cst.Name)
                and receiver.value == me
                and isinstance(view, cst.Attribute)
                and isinstance(view.value, cst.Name)
                and view.value.value == me
            ):
                found.add(view.attr.value)
    return found


def admin_site_views(ctx: FileContext, node: cst.ClassDef, scope: Scope | None) -> frozenset[str]:
    """The methods of an admin class (see `builds_on_admin`) that it, or a
    base of it defined in the same module, routes through
    `self.admin_site.admin_view(self.<method>)` (in `get_urls()`, or any
    method): pages only active staff reach. A subclass's override of such a
    method is routed the same way (`self.<method>` is the subclass's). A
    base in another module is not read (its `get_urls()` is not in the
    index): an override of a method it routes is a false alarm left."""
    if not builds_on_admin(ctx, node, scope):
        return frozenset()
    found = _wrapped_methods(node)
    classes: dict[str, cst.ClassDef] | None = None
    pending = list(_base_names(ctx, node, scope))
    seen: set[str] = set()
    prefix = f"{ctx.module}."
    while pending and len(seen) < _MAX_BASES:
        name = pending.pop(0)
        if name in seen or not name.startswith(prefix) or "." in name[len(prefix) :]:
            continue
        seen.add(name)
        if classes is None:
            classes = _module_classes(ctx)
        base = classes.get(name[len(prefix) :])
        if base is not None:
            found |= _wrapped_methods(base)
            pending += _base_names(ctx, base, None)
    return frozenset(found)


def admin_site_view(ctx: FileContext, node: cst.FunctionDef, scope: Scope) -> bool:
    """A method that its admin class routes through `admin_view` (see
    `admin_site_views`): only active staff reach it."""
    owner = scope.parent
    return (
        owner is not None
        and owner.kind is ScopeKind.CLASS
        and isinstance(owner.node, cst.ClassDef)
        and node.name.value in admin_site_views(ctx, owner.node, owner.parent)
    )
