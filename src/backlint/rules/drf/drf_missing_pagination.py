"""BKL404 drf-missing-pagination."""

from __future__ import annotations

import libcst as cst

from backlint.rules.drf import DrfClassRule
from backlint.semantics.django import querysets
from backlint.semantics.drf import (
    lists_configuration_table,
    rest_framework_settings,
    view_pagination,
)
from backlint.semantics.facts import Attr, Call, Const, Local, Ref, Seq, Subscript, Value
from backlint.semantics.sqlalchemy import find_method

# The methods that choose a view's rows.
_ROW_METHODS = ("get_queryset", "filter_queryset")
# Where a request names one object: `self.kwargs[...]`, `self.request.query_params`.
_REQUEST_PARTS = frozenset({"query_params", "GET"})
# One-row lookups whose result is the parent object.
_SELF_LOOKUPS = frozenset({"get_object", "get_parent_object"})


class DrfMissingPagination(DrfClassRule):
    """A DRF list view returns every row: no pagination.

    What it flags:
    On its `class` line, a DRF list view (`ListAPIView`, `ListCreateAPIView`,
    `ModelViewSet`, `ReadOnlyModelViewSet`, anything with `ListModelMixin`;
    a leaf class, one the project does not subclass further) that

    - sets no `pagination_class` (itself or through its project bases) while
      the project's `REST_FRAMEWORK` settings set no
      `DEFAULT_PAGINATION_CLASS` (or set it to None);
    - or sets `pagination_class = None`, whatever the project default
      (unless it is a child list, see below).

    The settings are read as for BKL403: production settings modules, split
    settings included.

    A strict rule (runs only when selected: `--extend-select BKL404`), a
    departure from RULES.md, which puts it in the default selection. Whether
    a list needs paging depends on how many rows a deployment holds, and the
    code rarely says: on 27 real applications it was right on 4 of the 15
    findings that could be judged (the rest were small tables: a device's
    peers, seeded roles, a tenant's webhooks, pushed notices). A team whose
    policy is to page every list selects it.

    Why:
    An unpaginated list endpoint serialises the whole table on every call:
    fast with a hundred rows, a timeout (and a memory spike on the server)
    with a million. Clients cannot ask for less.

    Example:
    ```python
    from django.db import models
    from rest_framework import generics, serializers

    INSTALLED_APPS = ["rest_framework"]

    class Event(models.Model):
        name = models.CharField(max_length=100)

    class EventSerializer(serializers.ModelSerializer):
        class Meta:
            model = Event
            fields = ["id", "name"]

    class EventList(generics.ListAPIView):
        queryset = Event.objects.order_by("id")
        serializer_class = EventSerializer
    ```

    Use instead:
    ```python
    from django.db import models
    from rest_framework import generics, pagination, serializers

    INSTALLED_APPS = ["rest_framework"]

    class Event(models.Model):
        name = models.CharField(max_length=100)

    class EventSerializer(serializers.ModelSerializer):
        class Meta:
            model = Event
            fields = ["id", "name"]

    class EventList(generics.ListAPIView):
        queryset = Event.objects.order_by("id")
        serializer_class = EventSerializer
        pagination_class = pagination.LimitOffsetPagination
    ```

    Not flagged:
    Views whose `list()` is their own (paging by hand, or returning something
    else; a `list()` that only returns `super().list(...)` is not), or that
    override `paginate_queryset()`; child lists, whose `get_queryset()` (or
    `filter_queryset()`, their own or a project base's) returns only the rows
    of one parent object the request names (`filter(project_id=<a query
    parameter>)`, `filter(task_id=self.kwargs["pk"])`,
    `filter(project=self.kwargs["project_id"])` (the field compared with the
    request's `<field>_id`/`<field>_pk`; not `filter(name=self.kwargs["name"])`),
    `filter(shelf=get_object_or_404(...))`, `get_object_or_404(...).items`,
    those lookups in `Q(...)` objects joined by `&`, also when handed to
    `super().filter_queryset(...)`: one project's storages, one task's
    drafts, one example's spans; or, the parent fetched by such a one-row
    lookup, a literal list of objects reached from it, `[ns.namespace]` or
    `[]`, or a function's result given only such objects,
    `get_v3_namespace_owners(ns.namespace)`: galaxy-ng's legacy namespace
    providers and owners; not a helper handed the request's query, nor a
    list that unpacks a queryset), with or without `pagination_class = None`
    (departure from RULES.md, which flags `None` whatever the default: a
    child list fetched whole by the page that shows its parent sets `None` on
    purpose, and is as long as one parent has children; `None` on any other
    list is still flagged); the request user's own rows, the user being the
    parent (`filter(owner=self.request.user)`, `request.user.shelves.all()`,
    `filter(membership__in=request.user.memberships.filter(...))`: their
    memberships, their organizations); while a tenant's rows
    (`filter(project__organization=request.user.organization)`,
    `filter(organization=request.user.active_organization)`,
    `request.user.organization.items.all()`), `Q(...) | Q(...)`, and a filter
    on a field (`filter(status=<a query parameter>)`) are still flagged;
    hand-ordered configuration tables: a model with no ForeignKey, OneToOne
    or generic relation to a parent (not one tenant's, user's or object's
    rows) listed in the order of an integer position field
    (`order = models.PositiveIntegerField()`, `position`, `sort_order`...;
    `order_by("order")` in every queryset the view returns, or the model's
    `Meta.ordering`): rows a person arranges one by one, such as admin-defined
    ranks shown as tabs (a position field on rows of a parent, or an
    integer ordering such as `-year`, is still flagged). Other small
    configuration tables have no such sign in the code (an organization's
    webhooks: rows of a tenant, created through the API; a device's peers
    found on the network, its installed channels, the few users granted
    device rights, notices a server pushed, a lookup table a command seeds:
    `Model.objects.all()` like any large table, small only by what the
    deployment holds) and are still flagged: suppress those with
    `# noqa: BKL404`;
    views that are not list views (a `GenericAPIView` with its own `get()`);
    base classes the project subclasses (their subclasses are judged).
    backlint stays silent when it cannot tell: no production settings module
    in the project (a reusable app), a `REST_FRAMEWORK` it cannot read, a
    base class outside the project and DRF (it may paginate). Test files are
    not checked.

    Fix:
    None: set `pagination_class` on the view, or `DEFAULT_PAGINATION_CLASS`
    (with `PAGE_SIZE`) in the settings.
    """

    code = "BKL404"
    name = "drf-missing-pagination"
    group = "strict"
    message = "`{view}` lists every row {why}: set a `pagination_class`"
    markers = ("class ",)
    views_only = True

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        qualname = self.judged_class(node)
        if qualname is None:
            return
        pagination = view_pagination(self.classes, qualname)
        if pagination is None:
            return
        name = node.name.value
        if pagination.state == "none":
            if self._one_parents_rows(qualname):
                return  # a child list: one parent's rows, fetched whole on purpose
            owner = pagination.owner.rsplit(".", 1)[-1]
            where = "" if pagination.owner == qualname else f" (inherited from `{owner}`)"
            self.report(node, view=name, why=f"(`pagination_class = None`{where})")
        elif pagination.state == "default":
            settings = self.ctx.index.view(rest_framework_settings)
            if (
                settings.pagination_missing()
                and not self._one_parents_rows(qualname)
                and not lists_configuration_table(self.classes, qualname, querysets(self.ctx))
            ):
                self.report(
                    node,
                    view=name,
                    why="(no `pagination_class`, and REST_FRAMEWORK sets no "
                    "`DEFAULT_PAGINATION_CLASS`)",
                )

    def _one_parents_rows(self, qualname: str) -> bool:
        """`get_queryset()` (or `filter_queryset()`) returns only the rows of one
        parent object the request names (`filter(project_id=<query param>)`,
        `filter(task_id=self.kwargs["pk"])`, `get_object_or_404(...).items`): a
        child list, as long as one project's storages or one task's drafts."""
        for name in _ROW_METHODS:
            method = find_method(self.ctx.index, qualname, name)
            if (
                method is not None
                and method.returned
                and all(
                    _of_one_parent(value) or _bounded_by_parent(value) for value in method.returned
                )
            ):
                return True
        return False


def _of_one_parent(value: Value) -> bool:
    """A queryset chain filtered on a direct relation to an object named by the
    request, or reached from such an object."""
    current: Value = value
    while True:
        if isinstance(current, Call):
            func = current.func
            if _narrows_further(current):
                # `super().filter_queryset(queryset.filter(project=...))`: DRF's
                # filter backends only narrow the rows they are given.
                current = current.args[0]
                continue
            if (
                isinstance(func, Attr)
                and func.attr == "filter"
                and any(_parent_lookup(key, arg) for key, arg in _lookups(current))
            ) or _one_row(current):
                return True
            current = func
        elif isinstance(current, Attr | Subscript):
            if isinstance(current, Attr) and _request_user(current.value):
                # `self.request.user.organizations.all()`: the user's own rows,
                # one hop from the user (not `user.organization.tasks`).
                return _called_above(value, current)
            current = current.value
        else:
            return False


def _bounded_by_parent(value: Value) -> bool:
    """A literal list of objects reached from one fetched parent (`[]`,
    `[ns.namespace]`), or a function's result given only such objects
    (`get_v3_namespace_owners(ns.namespace)`), where the parent is fetched by
    a one-row lookup (`ns = get_object_or_404(LegacyNamespace,
    pk=self.kwargs["pk"])`): galaxy-ng's legacy namespace owners and
    providers, a child list of the one parent the URL names. A helper handed
    the request's query, or a list unpacking a queryset, is not."""
    if isinstance(value, Seq):
        return all(_from_fetched(item) for item in value.items)
    if not (isinstance(value, Call) and isinstance(value.func, Ref)):
        return False
    args = [*value.args, *(v for _, v in value.kwargs)]
    return bool(args) and all(_from_fetched(arg) for arg in args)


def _from_fetched(value: Value) -> bool:
    """An object fetched by a one-row lookup (`get_object_or_404(...)`,
    `self.get_object()`, `self.parent_object`), or reached from it by
    attributes and method calls (`ns.namespace`, `shelf.items.all()`)."""
    current: Value = value
    for _ in range(32):
        if isinstance(current, Call):
            if _one_row(current):
                return True
            if not isinstance(current.func, Attr):
                return False
            current = current.func.value
        elif isinstance(current, Attr):
            if current.attr == "parent_object" and current.value == Local("self"):
                return True
            current = current.value
        elif isinstance(current, Subscript):
            current = current.value
        else:
            return False
    return False


def _lookups(call: Call) -> list[tuple[str, Value]]:
    """The keyword lookups of a `filter()` call, those of its `Q(...)`
    arguments joined by `&` included (`filter(Q(task=t) & Q(done=False))`)."""
    found = list(call.kwargs)
    todo = list(call.args)
    while todo:
        arg = todo.pop()
        if not isinstance(arg, Call) or not isinstance(arg.func, Ref):
            continue
        name = arg.func.name
        if name == "operator.and_":
            todo += arg.args
        elif name.rsplit(".", 1)[-1] == "Q":
            found += arg.kwargs
    return found


def _request_user(value: Value) -> bool:
    """`self.request.user`, or `request.user` (a handler's parameter)."""
    if not (isinstance(value, Attr) and value.attr == "user"):
        return False
    owner = value.value
    return owner == Local("request") or (
        isinstance(owner, Attr) and owner.attr == "request" and owner.value == Local("self")
    )


def _called_above(value: Value, relation: Attr) -> bool:
    """Whether every attribute of the chain `value` above `relation` is a
    method call (`.all()`, `.filter(...)`), not a further relation."""
    current: Value = value
    while current is not relation:
        if isinstance(current, Call):
            if not isinstance(current.func, Attr):
                return False
            current = current.func.value
        elif isinstance(current, Subscript):
            current = current.value
        else:
            return False  # an attribute read, not called: another hop
    return True


def _parent_lookup(key: str, value: Value) -> bool:
    """`project_id=<named by the request>`, `task__pk=...`, or
    `project=<an object fetched by one-row lookup>`: one hop to one parent.
    Not `project__organization=...` (a tenant's rows, as many as it has) nor
    `status=<query param>` (a filter on a field, not a parent)."""
    parts = key.split("__")
    if len(parts) == 2 and parts[1] in ("id", "pk"):
        return _names_one_object(value)
    if len(parts) == 2 and parts[1] == "in":
        # `organizationmember__in=self.request.user.memberships.filter(...)`:
        # the rows of the user's own memberships.
        return _of_one_parent(value) and _rooted_at_user(value)
    if len(parts) != 1:
        return False
    if key.endswith("_id"):
        return _names_one_object(value)
    return _fetched_object(value) or _request_user(value) or _parent_key(key, value)


def _narrows_further(call: Call) -> bool:
    """`super().filter_queryset(<queryset>)`: DRF's own `filter_queryset()`
    runs the filter backends over the queryset it is given, never widening it."""
    func = call.func
    return (
        isinstance(func, Attr)
        and func.attr == "filter_queryset"
        and isinstance(func.value, Call)
        and isinstance(func.value.func, Ref)
        and func.value.func.name == "builtins.super"
        and len(call.args) == 1
    )


def _parent_key(key: str, value: Value) -> bool:
    """`project=self.kwargs["project_id"]`: the field is compared with the
    request's own name for that parent's key (`<field>_id`, `<field>_pk`), so
    the field is the relation to it; not `status=self.kwargs["status"]`."""
    name = _request_key(value)
    return name is not None and name in (f"{key}_id", f"{key}_pk")


def _request_key(value: Value) -> str | None:
    """The literal name under which `value` is read from the request's path
    or query (`self.kwargs["project_id"]`, `request.query_params.get("shelf_id")`)."""
    if isinstance(value, Subscript) and len(value.index) == 1:
        source, key = value.value, value.index[0]
    elif (
        isinstance(value, Call)
        and isinstance(value.func, Attr)
        and value.func.attr == "get"
        and value.args
    ):
        source, key = value.func.value, value.args[0]
    else:
        return None
    if not (isinstance(key, Const) and isinstance(key.value, str)):
        return None
    if not isinstance(source, Attr):
        return None
    from_path = source.attr == "kwargs" and source.value == Local("self")
    from_query = source.attr in _REQUEST_PARTS and (
        source.value == Local("request")
        or (isinstance(source.value, Attr) and source.value.attr == "request")
    )
    return key.value if from_path or from_query else None


def _rooted_at_user(value: Value) -> bool:
    current: Value = value
    while isinstance(current, Call | Attr | Subscript):
        if _request_user(current):
            return True
        current = current.func if isinstance(current, Call) else current.value
    return False


def _fetched_object(value: Value) -> bool:
    """`get_object_or_404(...)`, `self.get_object()`, `self.parent_object`."""
    if isinstance(value, Call):
        return _one_row(value)
    return (
        isinstance(value, Attr) and value.attr == "parent_object" and value.value == Local("self")
    )


def _one_row(call: Call) -> bool:
    """`get_object_or_404(...)`, `self.get_object()`, `self.get_parent_object()`."""
    func = call.func
    if isinstance(func, Ref):
        return func.name.rsplit(".", 1)[-1] == "get_object_or_404"
    if not isinstance(func, Attr):
        return False
    return func.attr == "get_object_or_404" or (
        func.attr in _SELF_LOOKUPS and func.value == Local("self")
    )


def _names_one_object(value: Value) -> bool:
    """A value taken from the request's path or query (`self.kwargs["pk"]`,
    `self.request.query_params.get("project")`), or an object fetched by it."""
    if isinstance(value, Attr):
        if value.attr == "kwargs" and value.value == Local("self"):
            return True
        if (
            value.attr in _REQUEST_PARTS
            and isinstance(value.value, Attr)
            and value.value.attr == "request"
        ):
            return True
        if value.attr == "parent_object" and value.value == Local("self"):
            return True  # `self.parent_object`
        return _names_one_object(value.value)
    if isinstance(value, Subscript):
        return _names_one_object(value.value)
    if isinstance(value, Call):
        return _one_row(value) or _names_one_object(value.func)
    return False
