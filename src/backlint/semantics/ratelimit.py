"""Authentication endpoints and rate limiting.

Which routes and views take anonymous credentials (login, token, password
reset), and what limits their rate: slowapi's `@limiter.limit`, rate-limit
dependencies (fastapi-limiter's `RateLimiter`), a limiter middleware
(`SlowAPIMiddleware`), django-ratelimit's `@ratelimit`, DRF
`throttle_classes` or default throttles, django-axes / django-defender.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from backlint.semantics.context import FileContext, Scope
from backlint.semantics.facts import CALLS_OF_INTEREST, Attr, Call, Mapping, Ref, Seq, Value, dotted
from backlint.semantics.index import ProjectIndex, index_view
from backlint.semantics.security import name_words
from backlint.semantics.tree import descendants

CALLS_OF_INTEREST.add("add_middleware")

AuthKind = str  # "login", "token", "password reset"

# Words that make an endpoint something else than an anonymous credential
# check: the logged-in user's own actions, other steps of a flow, OAuth.
NOT_AUTH_WORDS = frozenset(
    {
        "logout",
        "signout",
        "change",
        "refresh",
        "revoke",
        "verify",
        "verification",
        "validate",
        "introspect",
        "blacklist",
        "done",
        "complete",
        "sent",
        "callback",
        "authorize",
        "redirect",
        "oauth",
        "oauth2",
        "sso",
        "saml",
        "openid",
        "oidc",
        "status",
        "tokens",
        "invite",
        "invitation",
        "delete",
    }
)
# With "token": a logged-in user's API tokens, not a credential exchange.
NOT_TOKEN_WORDS = frozenset({"api", "personal", "device", "csrf", "reset", "email", "refresh"})
# With "token": the verbs of obtaining one.
TOKEN_VERBS = frozenset(
    {"obtain", "get", "create", "issue", "access", "auth", "login", "grant", "new", "generate"}
)
RESET_WORDS = frozenset({"reset", "forgot", "forgotten", "recover", "recovery", "lost"})
PASSWORD_WORDS = frozenset({"password", "passwd", "pwd"})
_LIMIT = re.compile(r"limit|throttl|slowapi", re.IGNORECASE)

# Views of Django, DRF and auth libraries that take credentials anonymously.
AUTH_VIEWS: dict[str, AuthKind] = {
    "django.contrib.auth.views.LoginView": "login",
    "django.contrib.auth.views.PasswordResetView": "password reset",
    "django.contrib.auth.views.PasswordResetConfirmView": "password reset",
    "rest_framework.authtoken.views.ObtainAuthToken": "token",
    "rest_framework_simplejwt.views.TokenObtainPairView": "token",
    "rest_framework_simplejwt.views.TokenObtainSlidingView": "token",
    "rest_framework_simplejwt.views.TokenObtainView": "token",
    "dj_rest_auth.views.LoginView": "login",
    "dj_rest_auth.views.PasswordResetView": "password reset",
    "dj_rest_auth.views.PasswordResetConfirmView": "password reset",
    "knox.views.LoginView": "login",
}
# Decorators and bases of views that require a logged-in user: not anonymous.
AUTHENTICATED_DECORATORS = frozenset(
    {
        "django.contrib.auth.decorators.login_required",
        "django.contrib.auth.decorators.permission_required",
        "django.contrib.auth.decorators.user_passes_test",
        "django.contrib.admin.views.decorators.staff_member_required",
    }
)
AUTHENTICATED_BASES = frozenset(
    {
        "django.contrib.auth.mixins.LoginRequiredMixin",
        "django.contrib.auth.mixins.PermissionRequiredMixin",
        "django.contrib.auth.mixins.UserPassesTestMixin",
        # Views about one object (a user's page): staff actions, not sign-in.
        "django.views.generic.detail.SingleObjectMixin",
        "django.views.generic.DetailView",
        "django.views.generic.UpdateView",
        "django.views.generic.edit.UpdateView",
    }
)
RATELIMIT_DECORATORS = frozenset(
    {
        "django_ratelimit.decorators.ratelimit",
        "ratelimit.decorators.ratelimit",
        "rest_framework.decorators.throttle_classes",
    }
)


def auth_kind(*names: str) -> AuthKind | None:
    """What anonymous credential check a name or URL path names, if any:
    `login`, `authenticate`, `/auth/jwt/login`, `login_for_access_token`, `/token`,
    `forgot_password`, `PasswordResetConfirmView`."""
    words: set[str] = set()
    for name in names:
        words |= set(name_words(name))
    if not words or words & NOT_AUTH_WORDS:
        return None
    if (
        words & {"login", "signin", "authenticate"}
        or {"sign", "in"} <= words
        or {"log", "in"} <= words
    ):
        return "login"
    if (words & PASSWORD_WORDS and words & RESET_WORDS) or "forgot" in words:
        return "password reset"
    if (
        "token" in words
        and not words & NOT_TOKEN_WORDS
        and (words & TOKEN_VERBS or words <= {"token", "view", "jwt", "auth"})
    ):
        return "token"
    return None


# Words of a call that takes or checks credentials, sends a reset, or hands
# the request on (`super().post(...)`): without one, a view named `login`
# only renders or redirects (the credentials go to another endpoint).
CREDENTIAL_WORDS = frozenset(
    {
        "authenticate",
        "login",
        "password",
        "passwd",
        "token",
        "form",
        "valid",
        "check",
        "verify",
        "reset",
        "send",
        "mail",
        "otp",
        "auth",
        "credentials",
        "serializer",
        "super",
        "dispatch",
        "view",
    }
)


def takes_credentials(ctx: FileContext, body: cst.CSTNode) -> bool:
    """Whether a view's body calls anything that takes or checks credentials
    (see CREDENTIAL_WORDS); a view that only renders a page, sets a nonce or
    redirects does not."""
    for child in descendants(body, prune=(cst.Lambda, cst.ClassDef)):
        if isinstance(child, cst.Call):
            text = ctx.tree.code_for_node(child.func)
            if set(name_words(text)) & CREDENTIAL_WORDS:
                return True
    return False


# Words of a FastAPI dependency that yields the logged-in user
# (`get_current_user`, `current_active_user`, airflow's `get_user`), not one
# that checks credentials (`get_user_from_grant_request`).
_CURRENT_USER_WORDS = frozenset(
    {"get", "user", "current", "active", "require", "required", "authenticated", "verified"}
)


def is_current_user_dependency(name: str | None) -> bool:
    """The last name of a dependency says it returns the logged-in user."""
    if not name:
        return False
    words = set(name_words(name.rsplit(".", 1)[-1]))
    if "optional" in words or not words & {"user", "superuser", "admin"}:
        return False
    return "current" in words or words <= _CURRENT_USER_WORDS | {"superuser", "admin"}


# drf-access-policy principals that are logged-in users.
_AUTHENTICATED_PRINCIPALS = frozenset({"authenticated", "admin", "staff"})
_AUTHENTICATED_PERMISSIONS = frozenset(
    {
        "rest_framework.permissions.IsAuthenticated",
        "rest_framework.permissions.IsAdminUser",
    }
)


def requires_login(ctx: FileContext, node: cst.ClassDef) -> bool:
    """A class view that lets only logged-in users in: DRF
    `permission_classes` of `IsAuthenticated`/`IsAdminUser`, or a
    drf-access-policy statement list whose principals are all authenticated."""
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
    for stmt in body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if not isinstance(small, cst.Assign) or len(small.targets) != 1:
                continue
            target = small.targets[0].target
            if not isinstance(target, cst.Name):
                continue
            value = small.value
            if target.value == "permission_classes" and isinstance(value, cst.List | cst.Tuple):
                names = [ctx.qualified_name(el.value) for el in value.elements]
                if names and all(n in _AUTHENTICATED_PERMISSIONS for n in names):
                    return True
            if "ACCESS_POLICY" in target.value.upper() and isinstance(value, cst.Dict):
                principals = _principals(value)
                if principals and all(p in _AUTHENTICATED_PRINCIPALS for p in principals):
                    return True
    return False


def _principals(policy: cst.Dict) -> list[str]:
    out: list[str] = []
    for el in policy.elements:
        if not (isinstance(el, cst.DictElement) and _const(el.key) == "statements"):
            continue
        if not isinstance(el.value, cst.List):
            return []
        for statement in el.value.elements:
            if not isinstance(statement.value, cst.Dict):
                return []
            for item in statement.value.elements:
                if isinstance(item, cst.DictElement) and _const(item.key) == "principal":
                    value = item.value
                    items = value.elements if isinstance(value, cst.List) else None
                    texts = (
                        [_const(i.value) for i in items] if items is not None else [_const(value)]
                    )
                    out.extend(t if t is not None else "?" for t in texts)
    return out


def _const(expr: cst.BaseExpression | None) -> str | None:
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None


def mentions_limit(text: str) -> bool:
    """A decorator, dependency or middleware whose name says it limits rates."""
    return bool(_LIMIT.search(text))


def _value_names(value: Value) -> list[str]:
    """Every dotted name inside a summarised value."""
    out: list[str] = []
    stack: list[Value] = [value]
    while stack:
        v = stack.pop()
        name = dotted(v)
        if name is not None:
            out.append(name)
        if isinstance(v, Attr):
            stack.append(v.value)
        elif isinstance(v, Call):
            stack.append(v.func)
            stack.extend(v.args)
            stack.extend(item for _, item in v.kwargs)
        elif isinstance(v, Seq):
            stack.extend(v.items)
        elif isinstance(v, Mapping):
            stack.extend(item for _, item in v.items)
        elif isinstance(v, Ref):
            pass
    return out


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Project-wide rate limiting of FastAPI apps and routers."""

    # A limiter middleware is installed on some app (covers every route).
    global_middleware: bool
    # Apps and routers (qualified names) whose dependencies limit rates,
    # where they are created or where they are included.
    limited_routers: frozenset[str]

    def covers(self, index: ProjectIndex, instance: str | None) -> bool:
        return self.global_middleware or (
            instance is not None and index.canonical(instance) in self.limited_routers
        )


@index_view
def rate_limits(index: ProjectIndex) -> RateLimits:
    middleware = False
    limited: set[str] = set()
    inclusions: list[tuple[str, str]] = []
    for facts in index.modules.values():
        for call in facts.calls:
            if not isinstance(call.func, Attr):
                continue
            if call.func.attr == "add_middleware" and call.args:
                if any(mentions_limit(n) for n in _value_names(call.args[0])):
                    middleware = True
            elif call.func.attr == "include_router" and call.args:
                included = index.canonical(dotted(call.args[0]) or "")
                including = index.canonical(dotted(call.func.value) or "")
                dependencies = call.kwarg("dependencies")
                if dependencies is not None and any(
                    mentions_limit(n) for n in _value_names(dependencies)
                ):
                    limited.add(included)
                inclusions.append((including, included))
        for name, value in facts.assignments.items():
            if not isinstance(value, Call):
                continue
            for key in ("dependencies", "middleware"):
                item = value.kwarg(key)
                if item is not None and any(mentions_limit(n) for n in _value_names(item)):
                    if key == "middleware":
                        middleware = True
                    else:
                        limited.add(f"{facts.module}.{name}")
    changed = True
    while changed:  # a router included in a limited one is limited too
        changed = False
        for including, included in inclusions:
            if including in limited and included not in limited:
                limited.add(included)
                changed = True
    return RateLimits(middleware, frozenset(limited))


def class_ancestry(ctx: FileContext, node: cst.ClassDef, scope: Scope) -> set[str]:
    """Qualified names of every base class of a class, through the project's
    own classes (found in the index) to the library classes they build on."""
    index = ctx.index
    pending: list[str] = []
    for base in node.bases:
        name = ctx.qualified_name(base.value, scope)
        if name is not None:
            pending.append(index.canonical(name))
    found: set[str] = set()
    while pending and len(found) < 64:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        cls = index.find_class(name)
        if cls is not None:
            pending.extend(index.canonical(b) for b in map(dotted, cls.bases) if b is not None)
    return found


# --------------------------------------------------------------------------
# Django URLconfs: which views are routed, and which are wrapped in a limiter.

URL_FUNCTIONS = frozenset(
    {
        "django.urls.path",
        "django.urls.re_path",
        "django.urls.conf.path",
        "django.urls.conf.re_path",
        "django.conf.urls.url",
    }
)


@dataclass(frozen=True, slots=True)
class RoutedViews:
    """Views named in the project's `urlpatterns` lists."""

    has_urlconf: bool
    routed: frozenset[str]
    # Routed through a wrapper named like a limiter (`ratelimit(...)(view)`).
    limited: frozenset[str]

    def find(self, names: frozenset[str], qualname: str) -> bool:
        """`qualname` in `names`, also when a URLconf imports the views module
        by a shorter path (`from users import views` in `label_studio/users`)."""
        return qualname in names or any(qualname.endswith("." + name) for name in names)


def _view_target(value: Value, limited: list[bool]) -> str | None:
    """`views.login`, `LoginView.as_view()`, `ratelimit(...)(view)` -> the view."""
    for _ in range(8):
        if isinstance(value, Call):
            func = value.func
            if isinstance(func, Attr) and func.attr == "as_view":
                return dotted(func.value)
            if value.args:  # a wrapper: `csrf_exempt(view)`, `ratelimit(...)(view)`
                if any(mentions_limit(n) for n in _value_names(func)):
                    limited.append(True)
                value = value.args[0]
                continue
            return None
        return dotted(value)
    return None


@index_view
def routed_views(index: ProjectIndex) -> RoutedViews:
    has_urlconf = False
    routed: set[str] = set()
    limited: set[str] = set()
    for facts in index.modules.values():
        if "urlpatterns" in facts.assignments:
            has_urlconf = True
        values = [*facts.assignments.values(), *(v for _, v in facts.rebinds)]
        for value in values:
            if not isinstance(value, Seq):
                continue
            for item in value.items:
                if not (
                    isinstance(item, Call)
                    and len(item.args) >= 2
                    and index.canonical(dotted(item.func) or "") in URL_FUNCTIONS
                ):
                    continue
                wrapped: list[bool] = []
                target = _view_target(item.args[1], wrapped)
                if target is None:
                    continue
                target = index.canonical(target)
                routed.add(target)
                if wrapped:
                    limited.add(target)
    return RoutedViews(has_urlconf, frozenset(routed), frozenset(limited))


def module_imports_limiter(index: ProjectIndex, module: str) -> bool:
    """A module that imports rate-limit helpers (`check_rate_limit`)."""
    facts = index.modules.get(module)
    return facts is not None and any(
        mentions_limit(local) or mentions_limit(qualified)
        for local, qualified in facts.imports.items()
    )
