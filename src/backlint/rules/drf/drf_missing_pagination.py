"""BKL404 drf-missing-pagination."""

from __future__ import annotations

import libcst as cst

from backlint.rules.drf import DrfClassRule
from backlint.semantics.drf import rest_framework_settings, view_pagination


class DrfMissingPagination(DrfClassRule):
    """A DRF list view returns every row: no pagination.

    What it flags:
    On its `class` line, a DRF list view (`ListAPIView`, `ListCreateAPIView`,
    `ModelViewSet`, `ReadOnlyModelViewSet`, anything with `ListModelMixin`;
    a leaf class, one the project does not subclass further) that

    - sets no `pagination_class` (itself or through its project bases) while
      the project's `REST_FRAMEWORK` settings set no
      `DEFAULT_PAGINATION_CLASS` (or set it to None);
    - or sets `pagination_class = None`, whatever the project default.

    The settings are read as for BKL403: production settings modules, split
    settings included.

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
    override `paginate_queryset()`; views that are not list views (a
    `GenericAPIView` with its own `get()`); base classes the project
    subclasses (their subclasses are judged). backlint stays silent when it
    cannot tell: no production settings module in the project (a reusable
    app), a `REST_FRAMEWORK` it cannot read, a base class outside the project
    and DRF (it may paginate). Test files are not checked.

    Fix:
    None: set `pagination_class` on the view, or `DEFAULT_PAGINATION_CLASS`
    (with `PAGE_SIZE`) in the settings.
    """

    code = "BKL404"
    name = "drf-missing-pagination"
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
            owner = pagination.owner.rsplit(".", 1)[-1]
            where = "" if pagination.owner == qualname else f" (inherited from `{owner}`)"
            self.report(node, view=name, why=f"(`pagination_class = None`{where})")
        elif pagination.state == "default":
            settings = self.ctx.index.view(rest_framework_settings)
            if settings.pagination_missing():
                self.report(
                    node,
                    view=name,
                    why="(no `pagination_class`, and REST_FRAMEWORK sets no "
                    "`DEFAULT_PAGINATION_CLASS`)",
                )
