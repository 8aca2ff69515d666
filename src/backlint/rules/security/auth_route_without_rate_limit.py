"""BKL608 auth-route-without-rate-limit."""

from __future__ import annotations

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import Assigned, Scope, ScopeKind
from backlint.semantics.drf import rest_framework_settings
from backlint.semantics.fastapi import (
    DEPENDS,
    ROUTER_CLASSES,
    Route,
    param_type,
    parameters,
    route_of,
)
from backlint.semantics.flow import literal_value
from backlint.semantics.index import ProjectIndex
from backlint.semantics.python import decorator_names
from backlint.semantics.ratelimit import (
    AUTH_VIEWS,
    AUTHENTICATED_BASES,
    AUTHENTICATED_DECORATORS,
    OAUTH_LOGIN_VIEWS,
    OAUTH_TOKEN_VIEWS,
    RATELIMIT_DECORATORS,
    SIGNED_RESET_VIEWS,
    auth_kind,
    calls_limiter,
    checks_signed_api_key,
    checks_signed_token,
    class_ancestry,
    counts_attempts,
    grants_without_password,
    inherited_form_class,
    is_current_tenant_dependency,
    is_current_user_dependency,
    mentions_limit,
    module_imports_limiter,
    names_password_grant,
    rate_limits,
    redirects_only,
    rejects_anonymous,
    requires_authenticated_scope,
    requires_login,
    routed_views,
    takes_credentials,
    takes_no_password,
)
from backlint.semantics.settings import project_settings
from backlint.semantics.tree import descendants

# Packages whose views are DRF views (throttled by DRF's default throttles).
_DRF_PACKAGES = ("rest_framework", "rest_framework_simplejwt", "dj_rest_auth", "knox", "djoser")
_DRF_FUNCTION_DECORATORS = frozenset({"rest_framework.decorators.api_view"})
# Decorators that make a function a Django view.
_VIEW_DECORATORS = frozenset(
    {
        "rest_framework.decorators.api_view",
        "django.views.decorators.http.require_POST",
        "django.views.decorators.http.require_http_methods",
        "django.views.decorators.debug.sensitive_post_parameters",
        "django.views.decorators.csrf.csrf_protect",
        "django.views.decorators.cache.never_cache",
        "django.contrib.auth.decorators.login_not_required",
    }
)
_FASTAPI_CURE = "slowapi `@limiter.limit(...)`, a rate-limit dependency or a limiter middleware"
_DJANGO_CURE = "django-ratelimit `@ratelimit`, DRF `throttle_classes`, or django-axes"


class AuthRouteWithoutRateLimit(Rule):
    """A login, token or password-reset endpoint with no rate limit.

    What it flags:
    An endpoint that checks credentials for anonymous callers, by its name
    or URL path: login/sign-in, token issuing (`/token`,
    `login_for_access_token`, `TokenObtainPairView`) and password reset
    (request and confirmation), with nothing limiting its rate. Endpoints
    are FastAPI POST routes, Django view functions (in a views module, or
    with a view decorator) and class-based views (by name, or subclasses of
    Django's `LoginView`/`PasswordResetView`, DRF's `ObtainAuthToken`,
    simplejwt's `TokenObtainPairView`...). Rate limits: slowapi's
    `@limiter.limit`, any decorator or `Depends()` dependency named like a
    limiter or throttle (on the route, its router, or where the router is
    included), a limiter middleware (`SlowAPIMiddleware`) on the app,
    django-ratelimit's `@ratelimit` (also through `method_decorator`), DRF
    `throttle_classes` or the project's `DEFAULT_THROTTLE_CLASSES` (DRF views
    only), django-axes or django-defender in the settings. Reported at the
    `def` line of routes and functions, the `class` line of views.

    Why:
    Without a limit, an attacker tries passwords, leaked credential lists or
    reset codes as fast as the server answers, and floods users with reset
    emails.

    Example:
    ```python
    from fastapi import APIRouter
    from pydantic import BaseModel

    router = APIRouter()

    class Credentials(BaseModel):
        email: str
        password: str

    @router.post("/auth/login")
    async def login(credentials: Credentials) -> dict[str, str]:
        return {"token": await authenticate(credentials)}
    ```

    Use instead:
    ```python
    from fastapi import APIRouter, Request
    from pydantic import BaseModel
    from slowapi import Limiter
    from slowapi.util import get_remote_address

    limiter = Limiter(key_func=get_remote_address)
    router = APIRouter()

    class Credentials(BaseModel):
        email: str
        password: str

    @router.post("/auth/login")
    @limiter.limit("5/minute")
    async def login(request: Request, credentials: Credentials) -> dict[str, str]:
        return {"token": await authenticate(credentials)}
    ```

    Not flagged:
    Logout, password change and other endpoints of logged-in users
    (`@login_required`, `LoginRequiredMixin`, views about one object, DRF
    `permission_classes = [IsAuthenticated]`, a drf-access-policy whose
    principals are all `authenticated`, also one whose statements a
    module-level dict keeps under the policy class's `NAME`, as galaxy-ng's
    (`NAME = "TokenView"`, `STATEMENTS = {"TokenView": [{"principal":
    "authenticated", ...}]}`; every list under that key must be literal and
    let only `authenticated`, `admin` or `staff` in), Starlette's
    `@requires("authenticated")`, FastAPI routes with a dependency that
    returns the logged-in user (`user: CurrentUser`,
    `Depends(get_current_user)`) or the caller's current organisation or
    tenant found from its credentials (a project dependency named so that
    takes an `authorization`, `token` or `api_key` parameter:
    `Depends(get_current_org_for_credential_routes)`; not
    `get_current_org_or_none`, nor fief's `get_current_tenant(request)`,
    a tenant found by the path), or with a path parameter such as
    `/users/{id}/access-token`, function views and routes whose body first
    turns anonymous callers away: an `if not request.user.is_authenticated:`
    (or `is_anonymous`, `not is_staff`) that returns or raises, before any
    call that takes credentials; `if request.user.is_authenticated: return
    redirect(...)`, a login page's shortcut, is no such guard, nor is
    `has_perm` alone, which a backend may grant anonymous users); views named
    `login` that take no credentials (they render a page, set a nonce or
    redirect, and call nothing that authenticates, validates a form or sends
    mail), and FastAPI routes likewise: taking only the `Request` (no body,
    form, query parameter or route `dependencies=`), reading none of its
    content and returning only redirects
    (`oauth.google.authorize_redirect(...)`); logins by a signed or keyed
    token only (see the reset confirmations below), with no password, one-time
    code, form or serializer; views that make a form or serializer of a module
    importing the project's limiter (its `clean()` checks the rate), or a
    form whose `clean()` counts attempts in Django's cache and refuses past a
    threshold (`cache.incr(key)` in `clean()` or in a method of the form it
    calls on `self`, and a `cache.get(key)` compared with `>`, `>=`, `<` or
    `<=`: pretalx's `UserForm`, counting failed `authenticate()` calls per
    client address), also as the `form_class` a view inherits from a project
    base in another module (pretalx's `LoginView(GenericLoginView)`) and as
    a base of the form (a form counting without refusing, or a subclass with
    a `clean()` of its own, is flagged: whether that calls `super()` is not
    read); token
    refresh, verification and revocation; OAuth redirects and callbacks
    (dj-rest-auth's `SocialLoginView`/`SocialConnectView`, which exchange a
    provider's code or access token); reset "done"/"complete" pages; FastAPI
    GET routes; private helpers; views and routes that call a limiter
    themselves (`check_rate_limit(...)` or
    `signin_rate_limiter.is_limited(...)` in the body, a method of an instance
    made by a limiter class: `guard = RateLimiter(...)`, then
    `guard.hit(key)`; not a query's `.limit(1)`), or make a form class from a
    module that imports one; OAuth/OIDC token endpoints that grant only by
    code, refresh token or client credentials (the endpoint or a dependency of
    it takes `grant_type`, or it names such a grant, and nothing names a
    `"password"` grant, `OAuth2PasswordRequestForm` or a `username`/`password`
    parameter; django-oauth-toolkit's `TokenView` unless some class or module
    value names `GRANT_PASSWORD`), and token endpoints that take no password
    and exchange a signed API key (a parameter `api_key`/`x_api_key` handed
    to `jwt.decode` or to a function of a project module that imports a
    signing library, as skyvern's UI-session exchange): the secrets they
    check are generated, not chosen; password reset confirmations whose
    token is signed or a keyed hash (Django's `PasswordResetConfirmView`,
    `default_token_generator.check_token`, the `check_token` of an instance of
    a project subclass of `PasswordResetTokenGenerator`, `signing.loads`,
    `jwt.decode` of the token, or a project function or method, given the
    token, from a module that imports a signing library or hashes with
    `django.conf.settings`): guessing it is infeasible. A short reset code
    (OTP, PIN) checked elsewhere stays flagged, but a code checked by a module
    that also signs is a missed alarm. Projects with a global limiter (as
    listed above); routes of an `APIRouter()` made and returned by a function
    (a library's router factory: the code including it may add a limiter
    dependency); Django views of a project that deploys no site (no production
    settings module setting `ROOT_URLCONF`, `INSTALLED_APPS` or `MIDDLEWARE`:
    Django itself, a reusable app or CMS), where limiting is the installing
    site's choice. When the project has URLconfs, a Django view counts only if
    a `urlpatterns` list routes it (not wrapped in a limiter): views routed by
    code backlint cannot read (an app's `get_urls()`) are missed alarms, as
    are library views wired directly in a URLconf (`path("login/",
    LoginView.as_view())`). Limits applied by a reverse proxy are not seen:
    add a `# noqa`.

    Fix:
    None: add a rate limit (per client address and per account).
    """

    code = "BKL608"
    name = "auth-route-without-rate-limit"
    message = "{kind} endpoint `{name}` has no rate limit: add {cure}"
    markers = (
        "login",
        "Login",
        "token",
        "Token",
        "password",
        "Password",
        "signin",
        "SignIn",
        "forgot",
    )
    skip_tests = True
    skip_migrations = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        ctx = self.ctx
        scope = ctx.scope
        if ctx.index.uses("fastapi"):
            route = route_of(ctx, node, scope)
            if route is not None:
                self._route(node, route, scope)
                return
        if scope.kind is ScopeKind.MODULE and self._deploys_django():
            self._function_view(node, scope)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        ctx = self.ctx
        if not node.bases or not self._deploys_django():
            return
        if not self._routed(node.name.value):
            return
        ancestry = class_ancestry(ctx, node, ctx.scope)
        if ancestry & (AUTHENTICATED_BASES | OAUTH_LOGIN_VIEWS) or requires_login(ctx, node):
            return
        kind = next((AUTH_VIEWS[a] for a in ancestry if a in AUTH_VIEWS), None)
        looks_like_view = any(a.rsplit(".", 1)[-1].endswith(("View", "ViewSet")) for a in ancestry)
        if kind is None and looks_like_view:
            kind = auth_kind(node.name.value)
            if kind is not None and _plain_view(ancestry) and not takes_credentials(ctx, node):
                return  # a plain `View` that renders or redirects only
        if kind is None:
            return
        if self._not_guessable(node, kind, ctx.scope, ancestry):
            return
        drf = any(a.startswith(_DRF_PACKAGES) for a in ancestry)
        if self._class_limited(node, drf):
            return
        self.report(node, kind=kind.capitalize(), name=node.name.value, cure=_DJANGO_CURE)

    def _deploys_django(self) -> bool:
        index = self.ctx.index
        return index.uses("django") and index.view(project_settings).deploys_django

    def _routed(self, name: str) -> bool:
        """A view a URLconf of the project routes (any view, when no URLconf
        could be read); one routed through a limiter wrapper is not reported."""
        routes = self.ctx.index.view(routed_views)
        if not routes.has_urlconf:
            return not name.startswith("_")
        qualname = self.ctx.index.canonical(f"{self.ctx.module}.{name}")
        return routes.find(routes.routed, qualname) and not routes.find(routes.limited, qualname)

    # FastAPI -------------------------------------------------------------------

    def _route(self, node: cst.FunctionDef, route: Route, scope: Scope) -> None:
        if route.method not in ("post", "api_route"):
            return
        path = ""
        if route.decorator.args and route.decorator.args[0].keyword is None:
            const = literal_value(route.decorator.args[0].value)
            path = const.value if const is not None and isinstance(const.value, str) else ""
        kind = auth_kind(node.name.value, path)
        if kind is None or "{" in path:
            return  # `/users/{id}/access-token`: an action on a resource, by its owner
        ctx = self.ctx
        if self._factory_router(route, scope):
            return
        if requires_authenticated_scope(ctx, node, scope) or rejects_anonymous(ctx, node):
            return  # only logged-in users get in
        if route.keyword("dependencies") is None and redirects_only(ctx, node, scope):
            return  # starts a sign-in elsewhere (an OAuth redirect): takes no credentials
        if self._not_guessable(node, kind, scope) or calls_limiter(ctx, node.body, scope):
            return
        if ctx.index.view(rate_limits).covers(ctx.index, route.instance):
            return
        for decorator in node.decorators:
            if decorator.decorator is route.decorator:
                dependencies = route.keyword("dependencies")
                if dependencies is not None and mentions_limit(
                    ctx.tree.code_for_node(dependencies)
                ):
                    return
            elif mentions_limit(ctx.tree.code_for_node(decorator.decorator)):
                return
        for param in parameters(node):
            for part in (param.default, param.annotation):
                if part is not None and self._limit_dependency(part, scope):
                    return
            dependency = param_type(ctx, param, scope).dependency
            if is_current_user_dependency(dependency) or is_current_tenant_dependency(
                ctx.index, dependency
            ):
                return  # a logged-in caller (`user: CurrentUser`, `Depends(get_current_org)`)
        self.report(node, kind=kind.capitalize(), name=node.name.value, cure=_FASTAPI_CURE)

    def _factory_router(self, route: Route, scope: Scope) -> bool:
        """A route of an `APIRouter()` made inside a function (a library's
        router factory): the code that includes the returned router may give
        it a limiter (`include_router(..., dependencies=[...])`)."""
        func = route.decorator.func
        if route.instance is not None or not isinstance(func, cst.Attribute):
            return False
        if not isinstance(func.value, cst.Name) or scope.kind is not ScopeKind.FUNCTION:
            return False
        owner, bindings = self.ctx.bindings(func.value.value, scope)
        return owner is scope and any(
            isinstance(b, Assigned)
            and isinstance(b.value, cst.Call)
            and self.ctx.qualified_name(b.value.func, scope) in ROUTER_CLASSES
            for b in bindings
        )

    def _limit_dependency(self, node: cst.CSTNode, scope: Scope) -> bool:
        for child in (node, *descendants(node)):
            if (
                isinstance(child, cst.Call)
                and self.ctx.qualified_name(child.func, scope) in DEPENDS
                and mentions_limit(self.ctx.tree.code_for_node(child))
            ):
                return True
        return False

    # Django --------------------------------------------------------------------

    def _function_view(self, node: cst.FunctionDef, scope: Scope) -> None:
        params = list(parameters(node))
        if not params or params[0].name.value not in ("request", "req"):
            return
        ctx = self.ctx
        decorators = set(decorator_names(ctx, node))
        if decorators & AUTHENTICATED_DECORATORS:
            return
        parts = ctx.module.split(".")
        if not (decorators & _VIEW_DECORATORS or any("view" in p or p == "api" for p in parts)):
            return
        kind = auth_kind(node.name.value)
        if kind is None or not self._routed(node.name.value):
            return
        settings = ctx.index.view(project_settings)
        if settings.django_login_limiter or decorators & RATELIMIT_DECORATORS:
            return
        if any(mentions_limit(ctx.tree.code_for_node(d.decorator)) for d in node.decorators):
            return
        if decorators & _DRF_FUNCTION_DECORATORS and _drf_default_throttles(ctx.index):
            return
        if calls_limiter(ctx, node.body, scope) or self._uses_limited_class(node.body):
            return
        if self._not_guessable(node, kind, scope):
            return
        if rejects_anonymous(ctx, node):
            return  # turns anonymous callers away first: a logged-in user's action
        if not takes_credentials(ctx, node.body):
            return  # renders or redirects only: the credentials go elsewhere
        self.report(node, kind=kind.capitalize(), name=node.name.value, cure=_DJANGO_CURE)

    def _uses_limited_class(self, body: cst.CSTNode) -> bool:
        """A form or serializer of a module that imports the project's
        limiter, made in the view (its `clean()`/`validate()` checks the rate)."""
        for child in descendants(body, prune=(cst.Lambda, cst.ClassDef)):
            if isinstance(child, cst.Call) and self._limited_form(child.func):
                return True
        return False

    def _not_guessable(
        self,
        node: cst.FunctionDef | cst.ClassDef,
        kind: str,
        scope: Scope,
        ancestry: set[str] | None = None,
    ) -> bool:
        """Nothing to try by brute force: an OAuth token endpoint granting by
        code, refresh token or client credentials only (no password grant),
        or a reset confirmation whose token is signed (Django's token
        generator, a JWT, `signing.loads`)."""
        ctx = self.ctx
        ancestry = ancestry or set()
        if kind == "token":
            if ancestry & OAUTH_TOKEN_VIEWS and not ctx.index.view(names_password_grant):
                return True
            # An OAuth grant by code, or a token exchanged for a signed API key.
            return grants_without_password(ctx, node, scope) or (
                takes_no_password(ctx, node) and checks_signed_api_key(ctx, node, scope)
            )
        if kind == "password reset":
            return bool(ancestry & SIGNED_RESET_VIEWS) or checks_signed_token(ctx, node, scope)
        # A login by a signed or keyed token only (kolibri's merged-user login,
        # a magic link): no password or one-time code to try.
        return takes_no_password(ctx, node) and checks_signed_token(ctx, node, scope)

    def _class_limited(self, node: cst.ClassDef, drf: bool) -> bool:
        ctx = self.ctx
        settings = ctx.index.view(project_settings)
        if settings.django_login_limiter:
            return True
        if any(mentions_limit(ctx.tree.code_for_node(d.decorator)) for d in node.decorators):
            return True
        throttles: cst.BaseExpression | None = None
        form_class = False
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
        for stmt in body:
            if isinstance(stmt, cst.FunctionDef):
                if any(
                    mentions_limit(ctx.tree.code_for_node(d.decorator)) for d in stmt.decorators
                ):
                    return True
                if stmt.name.value in ("get_throttles", "throttle"):
                    return True
                if calls_limiter(ctx, stmt.body, self.ctx.scope):
                    return True
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign | cst.AnnAssign):
                        target = (
                            small.targets[0].target
                            if isinstance(small, cst.Assign)
                            else small.target
                        )
                        if isinstance(target, cst.Name) and target.value == "throttle_scope":
                            return True
                        if isinstance(target, cst.Name) and target.value == "throttle_classes":
                            throttles = small.value
                        if (
                            isinstance(target, cst.Name)
                            and target.value == "form_class"
                            and small.value is not None
                        ):
                            form_class = True
                            if self._limited_form(small.value):
                                return True
        if not form_class and self._inherits_limited_form(node):
            return True
        if throttles is not None:
            return not (isinstance(throttles, cst.List | cst.Tuple) and not throttles.elements)
        return drf and _drf_default_throttles(ctx.index)

    def _limited_form(self, expr: cst.BaseExpression) -> bool:
        """A form class from a module that imports rate-limit helpers (the
        form's `clean()` checks the rate, as Weblate's login form does), or
        one whose `clean()` counts attempts in Django's cache (pretalx's)."""
        name = self.ctx.qualified_name(expr)
        if name is None:
            return False
        return self._limited_form_name(self.ctx.index.canonical(name))

    def _limited_form_name(self, qualname: str) -> bool:
        index = self.ctx.index
        module = qualname.rpartition(".")[0]
        return module_imports_limiter(index, module) or counts_attempts(index, qualname)

    def _inherits_limited_form(self, node: cst.ClassDef) -> bool:
        """The view inherits its `form_class` from a project base, and that
        form limits its rate (pretalx's `LoginView(GenericLoginView)`, whose
        base sets `form_class = UserForm`)."""
        ctx = self.ctx
        bases = [
            ctx.index.canonical(name)
            for name in (ctx.qualified_name(b.value, ctx.scope) for b in node.bases)
            if name is not None
        ]
        form = inherited_form_class(ctx.index, bases)
        return form is not None and self._limited_form_name(form)


# Django's generic bases that take no credentials by themselves.
_PLAIN_VIEWS = frozenset(
    {"django.views.View", "django.views.generic.View", "django.views.generic.base.View"}
)


def _plain_view(ancestry: set[str]) -> bool:
    """Built on Django's `View` alone (not on a form, DRF or auth view)."""
    return bool(ancestry & _PLAIN_VIEWS) and not any(
        a.startswith(("django.views.generic.edit", "django.contrib.", *_DRF_PACKAGES))
        or a.endswith(("FormView", "APIView", "ViewSet"))
        for a in ancestry
    )


def _drf_default_throttles(index: ProjectIndex) -> bool:
    """REST_FRAMEWORK sets default throttles (they cover every DRF view)."""
    return index.view(rest_framework_settings).has_defaults("DEFAULT_THROTTLE_CLASSES")
