"""BKL606 csrf-exempt-view."""

from __future__ import annotations

from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import FileContext, ScopeKind
from backlint.semantics.drf import csrf_exempt_by_drf, drf_classes
from backlint.semantics.entry_points import API_VIEW_DECORATORS
from backlint.semantics.security import (
    CSRF_EXEMPT,
    METHOD_DECORATOR,
    SAFE_HTTP_METHODS,
    answers_no_form_post,
    authenticates_posted_credentials,
    handlers_use_no_browser_credentials,
    is_inert_view,
    marks_webhook,
    uses_no_browser_credentials,
)
from backlint.semantics.tree import descendants


class CsrfExemptView(Rule):
    """A Django view exempted from CSRF protection.

    What it flags:
    `@csrf_exempt` on a Django view function or method,
    `@method_decorator(csrf_exempt, name="dispatch")` on a class-based view,
    and `csrf_exempt(view)` calls (in a URLconf, for instance). Reported at
    the `def`/`class` line, or at the call.

    Why:
    CSRF protection is what stops another site from making a logged-in
    user's browser post to yours: change their email, transfer money, delete
    data. An exempt view that relies on the session cookie can be driven by
    any page the user visits.

    Example:
    ```python
    from django.http import HttpRequest, JsonResponse
    from django.views.decorators.csrf import csrf_exempt

    @csrf_exempt
    def update_profile(request: HttpRequest) -> JsonResponse:
        request.user.email = request.POST["email"]
        request.user.save()
        return JsonResponse({"ok": True})
    ```

    Use instead:
    ```python
    from django.http import HttpRequest, JsonResponse

    def update_profile(request: HttpRequest) -> JsonResponse:
        request.user.email = request.POST["email"]
        request.user.save()
        return JsonResponse({"ok": True})
    ```

    Not flagged:
    Webhooks, which other servers call without a browser session and which
    check a signature instead: a view, class or module whose name holds
    `webhook`/`hook`/`ipn` (`stripe_webhook`, `payments/webhooks.py`) or
    both `silent` and `post` (`silent_post`: the payment gateways' name of
    the URL their server posts a transaction's result to), or a
    URL pattern whose path does; identity-provider callbacks (OAuth, SAML,
    OIDC: `oauth_callback`, `saml_acs`, `social_complete`, or a view under
    such a decorator: `@social_auth_view`, python-social-auth's `@psa`);
    views that read the `Authorization` header themselves (HTTP Basic, API
    tokens), or sit under a decorator defined in the same module that does
    (hyperkitty's `key_and_ip_auth`; a decorator imported from another
    module is not read: the index keeps no text of its body); view
    functions that change nothing, whatever they read and whatever their
    decorators (another site cannot read the answer of a request it
    forges): every call is a response, a template render,
    `get_object_or_404`, a log call, a read of a value or a queryset
    (`filter`, `count`, `values_list`...), a question (a function or method
    named `get_*`, `is_*`, `has_*`, `can_*`: `form.is_valid()`, `has_perm()`),
    a Django form class of the project (also as a parameter's default,
    `form_class=DiscountForm`) and Django's rendering of a local bound to
    one (`form.as_p()`, `form.non_field_errors()`), `Q()`, a paginator, a
    response class of the project (a base under `django.http` and no method
    but `__init__`: tendenci's `JSONResponse`; what its `__init__` does is
    not read), a helper of the
    project that only handles what it is given (tendenci's `is_ajax(request)`),
    or an exception raised, and nothing is assigned to an attribute or an
    item but a local's (CSP and error report sinks, a metrics no-op, a status
    poll, a JSON lookup, a price check; a helper of another kind,
    `current_user(request)`, or a `save()` keeps it flagged: a question that
    writes, `get_or_set` of a cache, is a missed alarm); the same functions exempt by a call,
    `spell_check = csrf_exempt(spell_check)`; class-based
    views that answer no POST: Django's CSRF check never applies to the safe
    methods, and another site cannot make a browser send a `PUT`, `PATCH` or
    `DELETE` without a CORS preflight the server must grant (BKL607 reports
    a project that grants it to every origin with credentials): an exempt
    `get()`; a view, exempt by its `dispatch` or in a URLconf as
    `csrf_exempt(View.as_view())`, whose project classes define no `post`
    (as a method or by assignment), whose other bases are Django's
    `View`/`TemplateView`/`DetailView`/`ListView` or auth mixins, and whose
    own `dispatch` only returns `super().dispatch(...)`, whatever it does
    before (that runs for a GET too, which no CSRF check covers); bases
    re-exported by a package's `from .base import *` are followed; or whose
    `http_method_names` lists no `post`); view functions that never
    use the browser's credentials (a secret posted in the body looked up in
    the database, `Subscription.objects.filter(secret=request.POST["token"])`,
    and a change to that row): they read of the request only what the
    sender wrote (`request.POST`, `GET`, `body`, `FILES`, `method`, `path`,
    ...; not `user`, `session`, `COOKIES`, `META` or `headers`), hand the
    request itself to nothing, set no cookie, and have no decorator but
    `csrf_exempt` and Django's decorators that filter the method or shape
    the answer (`@require_POST`, `@never_cache`, `@gzip_page`, `@vary_on_*`,
    `@sensitive_post_parameters`) or limit its rate (django-ratelimit):
    a forged post from another site can do nothing a direct post cannot
    (missed alarm: a helper that reaches the session without being given
    the request, a thread-local current user such as django-crum's
    `get_current_user()`); class-based views whose write handlers are all
    such (arches' `GetClientIdView`, which checks posted credentials with
    `authenticate()` and answers; its `Validator`, which validates the
    posted body): every `post`/`put`/`patch`/`delete` is defined in the
    class itself, takes the request second and reads of it only what the
    sender wrote, uses `self` only for class attributes and for helper
    methods of the same class that read no `self.request` either, the class
    and its handlers carry only such decorators (`method_decorator(...)`
    unwrapped), and its other classes are the project's (no write handler,
    a `dispatch` that only returns `super().dispatch(...)`) on Django's
    plain `View` alone; Django REST Framework views (an `APIView` or
    viewset class exempt by its `dispatch`, any method or a class decorator,
    an `@api_view` function, `csrf_exempt(SomeAPIView.as_view())`): DRF's
    `as_view()` returns `csrf_exempt(view)` already, and its
    `SessionAuthentication` checks CSRF itself for session-authenticated
    requests, calling Django's check with no view, so no marker is read:
    the exemption changes nothing, whatever the view's
    `authentication_classes` (a custom authentication that reads the
    session cookie and skips `enforce_csrf` leaves the view open with or
    without the decorator; that is the authentication class's fault, not
    seen here). A DRF view whose project base defines its own `as_view`
    stays flagged; view functions that replace the session user by the
    user of credentials posted in the body before they act
    (django-helpdesk's API: `request.user = authenticate(request=request,
    username=request.POST.get("user"), password=request.POST.get("password"))`
    as a statement of the body, every statement before it changing nothing
    as read above, a guard's answer possibly built by a project function
    that returns only Django responses), and that call no `login()`, read
    no `request.session` or `COOKIES` and set no cookie: a forged request
    without the password acts as no one (missed alarm: a helper handed the
    request that reaches the session itself, a response builder that
    writes). Test files.
    Still flagged: a rebinding that keeps the session user
    (`authenticate(...) or request.user`), or that comes after a write;
    a view that checks a posted secret and then writes to
    the browser's session (pretix's `EventAuth`, a cross-domain session
    handoff) or sets a cookie: the attacker can post their own valid secret
    and the victim's browser is then signed in as the attacker (login CSRF,
    what Django's CSRF check on its login view prevents); a Django class-based
    view whose handler uses the session user (arches' `UserProfileView`
    falls back to `request.user`) or `self.request`, or that has a mixin or
    a project base with a handler of its own, or a method of another module
    it calls through `self` (its mixins and other handlers may use the
    session). An
    unguessable part of the URL (a widget's random cart namespace,
    pretix's `w/<16 characters>/cart/add`) is not seen as a defence: a
    fixed-length URL capture (`[a-zA-Z0-9]{16}`) is as often a public
    identifier as a secret, and whether the exempt URL's state is apart
    from the user's (a cart namespace of its own) is the view's design, not
    its code's shape. Such views are flagged: add a `# noqa` with the
    reason.

    Fix:
    None: remove the exemption and send the CSRF token (Django's
    `{% csrf_token %}`, the `X-CSRFToken` header), or authenticate the
    endpoint by a signature or token instead of the session.
    """

    code = "BKL606"
    name = "csrf-exempt-view"
    message = (
        "`{view}` is exempt from CSRF protection: remove `csrf_exempt` "
        "or authenticate it by signature"
    )
    frameworks = frozenset({"django"})
    markers = ("csrf_exempt",)
    skip_tests = True
    skip_migrations = True

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        self._webhook_module = marks_webhook(ctx.module)
        self._calls = "csrf_exempt(" in ctx.source

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if (
            self._exempted(node)
            and not self._webhook(node.name.value)
            and not self._marked_by_decorators(node)
            and not _reads_authorization(node)
            and not self._decorated_by_authorization(node)
            and not (node.name.value != "dispatch" and is_inert_view(self.ctx, node))
            and not self._safe_method(node)
            and not self._credential_free(node)
            and not self._authenticates_posted(node)
            and not self._drf_function(node)
            and not self._drf_method()
        ):
            self.report(node, view=node.name.value)

    def _drf_function(self, node: cst.FunctionDef) -> bool:
        """An `@api_view` function: DRF makes it a view by its `as_view()`,
        which exempts it already (`csrf_exempt_by_drf`), above or below."""
        return any(
            self.ctx.qualified_name(
                d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
            )
            in API_VIEW_DECORATORS
            for d in node.decorators
        )

    def _drf_method(self) -> bool:
        """A method (`dispatch`, `post`) of a DRF view class."""
        owner = self.ctx.scope.node
        return isinstance(owner, cst.ClassDef) and self._drf_class(self._owner_name(owner))

    def _drf_class(self, qualname: str | None) -> bool:
        """A DRF view class (`APIView`, a viewset): `csrf_exempt` on it, its
        `dispatch` or its `as_view()` changes nothing (`csrf_exempt_by_drf`)."""
        return qualname is not None and csrf_exempt_by_drf(
            self.ctx.index.view(drf_classes), qualname
        )

    def _credential_free(self, node: cst.FunctionDef) -> bool:
        """A view function that reads only what the sender wrote and hands
        the request to nothing (`uses_no_browser_credentials`): a forged
        request from another site carries no authority a direct one lacks.
        A method: its class-based view's write handlers are all such
        (`handlers_use_no_browser_credentials`)."""
        owner = self.ctx.scope.node
        if isinstance(owner, cst.ClassDef):
            return self._credential_free_class(owner, self._owner_name(owner))
        return uses_no_browser_credentials(self.ctx, node)

    def _authenticates_posted(self, node: cst.FunctionDef) -> bool:
        """A view function that replaces the session user by the user of
        posted credentials before it acts (`authenticates_posted_credentials`):
        a forged request without the password acts as no one."""
        owner = self.ctx.scope.node
        return not isinstance(owner, cst.ClassDef) and authenticates_posted_credentials(
            self.ctx, node
        )

    def _credential_free_class(self, node: cst.ClassDef, qualname: str | None) -> bool:
        return qualname is not None and handlers_use_no_browser_credentials(
            self.ctx, self.ctx.index, node, qualname
        )

    def _decorated_by_authorization(self, node: cst.FunctionDef) -> bool:
        """A decorator defined in this module reads the `Authorization`
        header (hyperkitty's `key_and_ip_auth` around the Mailman archiver
        endpoint): it authenticates each request before the view runs. A
        decorator of another module is not read (the index keeps no string
        of a function's body)."""
        local = {
            stmt.name.value: stmt
            for stmt in self.ctx.tree.body
            if isinstance(stmt, cst.FunctionDef)
        }
        for decorator in node.decorators:
            expr = decorator.decorator
            target = expr.func if isinstance(expr, cst.Call) else expr
            if (
                isinstance(target, cst.Name)
                and target.value in local
                and self.ctx.qualified_name(target) == f"{self.ctx.module}.{target.value}"
                and _reads_authorization(local[target.value])
            ):
                return True
        return False

    def _marked_by_decorators(self, node: cst.FunctionDef) -> bool:
        """Another decorator names the protocol (`@social_auth_view`, `@psa(...)`)."""
        for decorator in node.decorators:
            expr = decorator.decorator
            target = expr.func if isinstance(expr, cst.Call) else expr
            name = target.attr.value if isinstance(target, cst.Attribute) else None
            name = target.value if isinstance(target, cst.Name) else name
            if name is not None and (marks_webhook(name) or name == "psa"):
                return True
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if (
            self._exempted(node)
            and not self._webhook(node.name.value)
            and not self._safe_class(self._class_name(node))
            and not self._drf_class(self._class_name(node))
            and not self._credential_free_class(node, self._class_name(node))
        ):
            self.report(node, view=node.name.value)

    def _class_name(self, node: cst.ClassDef) -> str | None:
        """The qualified name of a module-level class."""
        if self.ctx.scope.kind is not ScopeKind.MODULE:
            return None
        return f"{self.ctx.module}.{node.name.value}"

    def _safe_class(self, qualname: str | None) -> bool:
        """A class-based view that answers no POST: Django's CSRF check never
        applies to its safe methods, and no other site can make a browser
        send it a PUT, PATCH or DELETE without a CORS preflight."""
        return qualname is not None and answers_no_form_post(self.ctx.index, qualname)

    def _noop_class(self, qualname: str | None) -> bool:
        """`csrf_exempt(View.as_view())` changes nothing: the view answers
        only safe methods, or DRF's `as_view()` exempted it already."""
        return self._safe_class(qualname) or self._drf_class(qualname)

    def _safe_method(self, node: cst.FunctionDef) -> bool:
        """An exempt `get()` (CSRF never checks a safe method), or an exempt
        `dispatch` of a view that answers only safe methods."""
        owner = self.ctx.scope.node
        if not isinstance(owner, cst.ClassDef):
            return False
        if node.name.value in SAFE_HTTP_METHODS:
            return True
        return node.name.value == "dispatch" and self._safe_class(self._owner_name(owner))

    def _owner_name(self, owner: cst.ClassDef) -> str | None:
        parent = self.ctx.scope.parent
        if parent is not None and parent.kind is ScopeKind.MODULE:
            return f"{self.ctx.module}.{owner.name.value}"
        return None

    def _as_view_class(self, expr: cst.BaseExpression) -> str | None:
        """`views.CartCreate.as_view(...)` -> the qualified name of the class."""
        if (
            isinstance(expr, cst.Call)
            and isinstance(expr.func, cst.Attribute)
            and expr.func.attr.value == "as_view"
        ):
            return self.ctx.qualified_name(expr.func.value)
        return None

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if not self._calls or self._webhook_module:
            return
        seen: set[int] = set()
        for child in descendants(node, prune=(cst.Lambda,)):
            if not isinstance(child, cst.Call) or id(child) in seen:
                continue
            inner = [
                arg.value
                for arg in child.args
                if isinstance(arg.value, cst.Call) and self._is_csrf_exempt(arg.value.func)
            ]
            if inner:
                # A URL pattern: `path("hooks/stripe/", csrf_exempt(view))`.
                strings = [_text(self.ctx, a.value) for a in child.args]
                for call in inner:
                    seen.add(id(call))
                    if call.args and (
                        self._noop_class(self._as_view_class(call.args[0].value))
                        or self._harmless_function(call.args[0].value)
                    ):
                        continue
                    if not any(self._webhook(s) for s in strings):
                        self.report(
                            call, view=_text(self.ctx, call.args[0].value) if call.args else "view"
                        )
            elif self._is_csrf_exempt(child.func) and child.args:
                view = _text(self.ctx, child.args[0].value)
                if (
                    not self._webhook(view)
                    and not self._noop_class(self._as_view_class(child.args[0].value))
                    and not self._harmless_function(child.args[0].value)
                ):
                    self.report(child, view=view)

    def _harmless_function(self, expr: cst.BaseExpression) -> bool:
        """`csrf_exempt(spell_check)` of a view function of this module that
        the decorator form would leave alone: it changes nothing, or uses no
        browser credentials (its decorators are read as they are written)."""
        if not isinstance(expr, cst.Name):
            return False
        for stmt in self.ctx.tree.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == expr.value:
                return (
                    is_inert_view(self.ctx, stmt)
                    or uses_no_browser_credentials(self.ctx, stmt)
                    or authenticates_posted_credentials(self.ctx, stmt)
                )
        return False

    # ------------------------------------------------------------------

    def _is_csrf_exempt(self, expr: cst.BaseExpression) -> bool:
        return self.ctx.qualified_name(expr) in CSRF_EXEMPT

    def _exempted(self, node: cst.FunctionDef | cst.ClassDef) -> bool:
        for decorator in node.decorators:
            expr = decorator.decorator
            if self._is_csrf_exempt(expr):
                return True
            if (
                isinstance(expr, cst.Call)
                and self.ctx.qualified_name(expr.func) in METHOD_DECORATOR
                and expr.args
                and self._is_csrf_exempt(expr.args[0].value)
            ):
                return True
        return False

    def _webhook(self, name: str) -> bool:
        if self._webhook_module or marks_webhook(name):
            return True
        # A method: the class it belongs to may be the webhook.
        scope = self.ctx.scope
        node = scope.node
        return isinstance(node, cst.ClassDef) and marks_webhook(node.name.value)


def _text(ctx: FileContext, expr: cst.BaseExpression) -> str:
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        return value if isinstance(value, str) else ""
    return ctx.tree.code_for_node(expr)


def _reads_authorization(node: cst.FunctionDef) -> bool:
    """A view that reads the `Authorization` header authenticates each request
    itself (HTTP Basic for git, an API token), not by the session cookie."""
    for child in descendants(node.body, prune=(cst.Lambda, cst.ClassDef)):
        if isinstance(child, cst.SimpleString):
            value = child.evaluated_value
            if isinstance(value, str) and value.lower() in ("authorization", "http_authorization"):
                return True
    return False
