"""BKL403 drf-missing-permissions."""

from __future__ import annotations

import libcst as cst

from backlint.rules.drf import DrfClassRule
from backlint.semantics.drf import is_anonymous_view, rest_framework_settings, view_permissions


class DrfMissingPermissions(DrfClassRule):
    """A DRF view anyone may call: no permissions, or `AllowAny` on writes.

    What it flags:
    On its `class` line, a DRF `APIView`, generic view or viewset (a leaf
    class: one the project does not subclass further) that

    - sets no `permission_classes` and defines no `get_permissions()` (itself
      or through its project bases) while the project's `REST_FRAMEWORK`
      settings set no `DEFAULT_PERMISSION_CLASSES`, or set only `AllowAny`;
    - or sets `permission_classes = [AllowAny]` (or `[]`) and accepts writes:
      a create/update/destroy mixin (`ModelViewSet`, `CreateAPIView`...), a
      `post`/`put`/`patch`/`delete` handler, a `create`/`update`/`destroy`
      action, an `@action(methods=["post"])`.

    The settings are read from the project's production settings modules
    (assigning `INSTALLED_APPS`, `DATABASES`... or `REST_FRAMEWORK`; not
    `dev`, `local` or `test` ones), split settings included: a key set in
    `settings/base.py` counts for `settings/production.py` that star-imports
    it; `REST_FRAMEWORK["KEY"] = ...` and `REST_FRAMEWORK.update(...)` count.

    Why:
    DRF's default permission is `AllowAny`: a view that forgets its
    permissions is public, and nothing fails until someone outside finds it.
    `AllowAny` on a view that writes lets anonymous callers change data.

    Example:
    ```python
    from django.db import models
    from rest_framework import serializers, viewsets

    INSTALLED_APPS = ["rest_framework"]

    class Invoice(models.Model):
        total = models.IntegerField()

    class InvoiceSerializer(serializers.ModelSerializer):
        class Meta:
            model = Invoice
            fields = ["id", "total"]

    class InvoiceViewSet(viewsets.ModelViewSet):
        queryset = Invoice.objects.all()
        serializer_class = InvoiceSerializer
    ```

    Use instead:
    ```python
    from django.db import models
    from rest_framework import permissions, serializers, viewsets

    INSTALLED_APPS = ["rest_framework"]

    class Invoice(models.Model):
        total = models.IntegerField()

    class InvoiceSerializer(serializers.ModelSerializer):
        class Meta:
            model = Invoice
            fields = ["id", "total"]

    class InvoiceViewSet(viewsets.ModelViewSet):
        queryset = Invoice.objects.all()
        serializer_class = InvoiceSerializer
        permission_classes = [permissions.IsAuthenticated]
    ```

    Not flagged:
    Read-only views with an explicit `AllowAny` (a public catalogue); views
    whose name says they serve anonymous callers (login, signup, register,
    token, password reset, verify/confirm, webhook, OAuth callback...) with
    `AllowAny`; views with `get_permissions()`/`check_permissions()` of their
    own, or a class decorator about login or permissions; base classes the
    project subclasses (their subclasses are judged); function views
    (`@api_view`). backlint stays silent when it cannot tell: no production
    settings module in the project (a reusable app: the settings of the
    projects that install it decide), a `REST_FRAMEWORK` it cannot read, a
    computed `permission_classes`, a base class outside the project and DRF
    (it may set permissions). Test files are not checked.

    Fix:
    None: set `permission_classes` (or `DEFAULT_PERMISSION_CLASSES` in the
    settings); write `[AllowAny]` explicitly on views meant to be public.
    """

    code = "BKL403"
    name = "drf-missing-permissions"
    message = "`{view}` {problem}: set `permission_classes`"
    markers = ("class ",)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        qualname = self.module_class(node)
        if qualname is None:
            return
        classes = self.classes
        if classes.facts(qualname) is None or not classes.is_leaf(qualname):
            return
        permissions = view_permissions(classes, qualname)
        if permissions is None:
            return
        name = node.name.value
        if permissions.state == "default":
            settings = self.ctx.index.view(rest_framework_settings)
            if settings.permissions_open(self.ctx.index):
                self.report(
                    node,
                    view=name,
                    problem=(
                        "has no `permission_classes` and the project's REST_FRAMEWORK "
                        "sets no `DEFAULT_PERMISSION_CLASSES` (DRF allows anyone)"
                    ),
                )
        elif (
            permissions.state == "allow_any"
            and classes.allows_writes(qualname)
            and not is_anonymous_view(name)
        ):
            self.report(node, view=name, problem="lets anyone write (`AllowAny`)")
