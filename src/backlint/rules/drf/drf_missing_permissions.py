"""BKL403 drf-missing-permissions."""

from __future__ import annotations

import libcst as cst

from backlint.rules.drf import DrfClassRule
from backlint.semantics.drf import (
    CREATE_MIXIN,
    DESTROY_MIXIN,
    UPDATE_MIXIN,
    WRITE_MIXINS,
    DrfClasses,
    checks_caller_in_methods,
    checks_request_credentials,
    in_open_public_module,
    is_account_flow_view,
    is_anonymous_view,
    rest_framework_settings,
    routed_publicly,
    serves_public_rows,
    takes_no_credentials,
    view_permissions,
)

# The handler through which each write mixin persists, and what it calls to.
_MIXIN_HANDLERS = {CREATE_MIXIN: "create", UPDATE_MIXIN: "update", DESTROY_MIXIN: "destroy"}
# Calls that persist, or hand over to code that does.
_PERSISTING = frozenset(
    {
        "save",
        "delete",
        "create",
        "update",
        "destroy",
        "partial_update",
        "bulk_create",
        "bulk_update",
        "get_or_create",
        "update_or_create",
        "perform_create",
        "perform_update",
        "perform_destroy",
    }
)
_WRITE_WORDS = frozenset(
    {"save", "create", "update", "delete", "destroy", "bulk", "import", "add", "remove", "set"}
)
# Handlers a view may define that only dispatch to the mixin handlers.
_DISPATCH = {"post": "create", "put": "update", "patch": "partial_update", "delete": "destroy"}


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
    Read-only views with an explicit `AllowAny` (a public catalogue); a view
    whose only writes are DRF's mixins and that overrides each mixin's
    `create()`/`update()`/`destroy()` with code that persists nothing (no
    `save()`, `perform_create()`, `super().create()`...: a POST that validates
    input and answers), its `post()`/`put()`... only dispatching; views
    whose name says they serve anonymous callers (login, signup, register,
    token, password reset, verify/confirm, webhook, OAuth callback...) with
    `AllowAny`; with no `permission_classes` at all (departure from
    RULES.md, which flags every view left to an open default: a project may
    leave public views to the default instead of writing `AllowAny`, as
    Kolibri does), views that are steps of logging in or signing up, which
    must be public whatever the project writes: a name with login, signin,
    signup or password, the caller's own session (`SessionViewSet`,
    `SessionView`: create logs in; not `ChatSessionViewSet`), a username or
    email availability check (`UsernameAvailableView`), none of them a list
    view (a `LoginAttemptList` lists rows, and `TokenViewSet` or
    `WebhookViewSet` may manage the user's own tokens or hooks: still
    flagged), and the read-only views of a module declared public (a
    `public` package or a `public_api`/`public_views` module, the project's
    top-level package aside) none of whose views sets permissions (an
    anonymous API for peers by design, judged as if it wrote `AllowAny`:
    its views that write are flagged as `AllowAny` writes; a public module
    one of whose views sets `permission_classes` is an authenticated stable
    API, and a view there that sets none is flagged), the read-only views
    an open public URLconf routes (a URLconf module declared public, by
    `router.register(...)` or `path(..., View.as_view())`, whose views from
    declared public modules all come from open ones: Kolibri's
    `core/public/api_urls.py` registering `auth/api.py`'s
    `PublicFacilityViewSet`; its views that write are judged as `AllowAny`
    writes, and a view there that sets permissions keeps them), the
    read-only views whose rows (`get_queryset()`, or DRF's with their
    `queryset`) come from a project mixin that a read-only view public by
    design builds on (one of an open public module or URLconf, or with an
    explicit `AllowAny`): Kolibri's learner `ChannelMetadataViewSet` and the
    anonymous `PublicChannelMetadataViewSet` share `BaseChannelMetadataMixin`,
    the same data served to anyone already; views with
    `get_permissions()`/`check_permissions()` of their own, or a class
    decorator about login or permissions; views that check the caller in
    their own methods (raise `PermissionDenied` or
    `NotAuthenticated`, call `permission_denied()`, `has_perm()`,
    `check_object_permissions()` or a project check named like a permission
    check, test `request.user.is_authenticated`/`is_staff` in an `if`, or
    test in an `if` a check of a credential the request carries, named so
    and given `request`: `if valid_app_key_on_request(self.request):`);
    views whose `filter_backends` (or the project's
    `DEFAULT_FILTER_BACKENDS`) hold an object-permission filter, which
    restricts every queryset to the rows the caller may see; `AllowAny` on a
    view with `authentication_classes = ()` (no session or token at all: a
    credential in the body, by design); base classes the
    project subclasses (their subclasses are judged); function views
    (`@api_view`). Read-only views left open by omission are flagged
    otherwise, including a catalogue meant for guests whose rows are its
    own (Kolibri's `FileViewset`, and `ContentNodeGranularViewset`, a
    device-management endpoint whose retrieve fetches from peers and
    drives: nothing in the code tells them from a view that forgot its
    permission, or from a leak; say so with `AllowAny`). A URLconf is
    public by its module name only: a `public/` prefix in the URLconf that
    `include()`s it is not followed, nor is a router defined in another
    module. backlint stays silent when it cannot tell: no production
    settings module in the project (a reusable app: the settings of the
    projects that install it decide), production settings that leave
    `REST_FRAMEWORK` out while the project's dev settings set the key (the
    deployed settings are not in the tree), a `REST_FRAMEWORK` it cannot
    read, a computed `permission_classes`, a base class outside the project and DRF
    (it may set permissions). Test files are not checked.

    Fix:
    None: set `permission_classes` (or `DEFAULT_PERMISSION_CLASSES` in the
    settings); write `[AllowAny]` explicitly on views meant to be public.
    """

    code = "BKL403"
    name = "drf-missing-permissions"
    message = "`{view}` {problem}: set `permission_classes`"
    markers = ("class ",)
    views_only = True

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        qualname = self.judged_class(node)
        if qualname is None:
            return
        classes = self.classes
        permissions = view_permissions(classes, qualname)
        if permissions is None:
            return
        name = node.name.value
        if checks_caller_in_methods(node) or checks_request_credentials(node):
            return  # the view decides who may call it in its own code
        if permissions.state == "default":
            settings = self.ctx.index.view(rest_framework_settings)
            if not settings.permissions_open(self.ctx.index):
                return
            if is_account_flow_view(name) and not classes.is_list_view(qualname):
                return  # login, signup, session: public whatever the project writes
            if _public_by_design(classes, qualname, self.ctx.module) and not _open_writes(
                classes, qualname, node
            ):
                return  # declared public (module, URLconf, rows): judged as `AllowAny`
            self.report(
                node,
                view=name,
                problem=(
                    "has no `permission_classes` and the project's REST_FRAMEWORK "
                    "sets no `DEFAULT_PERMISSION_CLASSES` (DRF allows anyone)"
                ),
            )
        elif permissions.state == "allow_any" and _open_writes(classes, qualname, node):
            self.report(node, view=name, problem="lets anyone write (`AllowAny`)")


def _public_by_design(classes: DrfClasses, qualname: str, module: str) -> bool:
    """A view the project declares public though it writes no `AllowAny`:
    defined in an open public module, routed by an open public URLconf, or
    serving the rows of a view public by design."""
    return (
        in_open_public_module(classes, module)
        or routed_publicly(classes, qualname)
        or serves_public_rows(classes, qualname)
    )


def _open_writes(classes: DrfClasses, qualname: str, node: cst.ClassDef) -> bool:
    """Whether a view open to anyone lets anyone write: it accepts writes, and
    neither its name (login, webhook...), `authentication_classes = ()` nor
    handlers that persist nothing say that is its design."""
    name = node.name.value
    return (
        classes.allows_writes(qualname)
        and not is_anonymous_view(name)
        and not is_account_flow_view(name)
        and not takes_no_credentials(classes, qualname)
        and not _writes_defeated(classes, qualname, node)
    )


def _writes_defeated(classes: DrfClasses, qualname: str, node: cst.ClassDef) -> bool:
    """A view whose writes come only from DRF's mixins, each of whose handlers
    (`create`...) the class overrides with code that persists nothing: a POST
    that validates input and answers (`LabelConfigValidateAPI(CreateAPIView)`
    overriding `create()` to run `is_valid()` only). Its other write handlers
    (`post`...) may only dispatch to those."""
    mro = classes.mro(qualname)
    mixins = WRITE_MIXINS.intersection(mro)
    if not mixins or any(classes.facts(c) is not None for c in mro[1:]):
        return False  # project bases may write: judged as writing
    methods = {
        stmt.name.value: stmt
        for stmt in node.body.body
        if isinstance(stmt, cst.FunctionDef) and not stmt.decorators
    }
    if any(isinstance(stmt, cst.FunctionDef) and stmt.decorators for stmt in node.body.body):
        return False  # actions and decorated handlers: not followed
    handlers = {_MIXIN_HANDLERS[m] for m in mixins}
    if not handlers <= methods.keys():
        return False
    for name, function in methods.items():
        if name in handlers:
            if any(_persists(call) for call in _calls(function)):
                return False
        elif name in _DISPATCH:
            if not _calls(function) <= {name, _DISPATCH[name]} or _DISPATCH[name] not in handlers:
                return False
        elif name in ("update", "partial_update", "destroy", "create"):
            return False
    return True


def _persists(name: str) -> bool:
    """`save()`, `perform_create()`, or a helper named like a write
    (`create_note()`, `import_rows()`)."""
    return name in _PERSISTING or name.split("_", 1)[0] in _WRITE_WORDS


def _calls(function: cst.FunctionDef) -> set[str]:
    """The attribute or function names the body calls."""
    names: set[str] = set()

    class _Calls(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            func = call.func
            if isinstance(func, cst.Attribute):
                names.add(func.attr.value)
            elif isinstance(func, cst.Name) and func.value != "super":
                names.add(func.value)

    function.body.visit(_Calls())
    return names
