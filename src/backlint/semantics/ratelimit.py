"""Authentication endpoints and rate limiting.

Which routes and views take anonymous credentials (login, token, password
reset), and what limits their rate: slowapi's `@limiter.limit`, rate-limit
dependencies (fastapi-limiter's `RateLimiter`), a limiter middleware
(`SlowAPIMiddleware`), django-ratelimit's `@ratelimit`, DRF
`throttle_classes` or default throttles, django-axes / django-defender.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import libcst as cst

from backlint.semantics.context import Assigned, FileContext, Scope
from backlint.semantics.facts import (
    CALLS_OF_INTEREST,
    Attr,
    Call,
    Const,
    Mapping,
    Ref,
    Seq,
    Value,
    dotted,
)
from backlint.semantics.fastapi import (
    BACKGROUND_TASKS,
    DEPENDS,
    REQUEST_CLASSES,
    is_response_class,
    param_type,
    parameters,
)
from backlint.semantics.index import ProjectIndex, data_view
from backlint.semantics.security import name_words
from backlint.semantics.tree import descendants
from backlint.semantics.urls import url_entries

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
# dj-rest-auth's social login views: the OAuth callback that exchanges a
# provider's code or access token (generated, not chosen) for a session.
OAUTH_LOGIN_VIEWS = frozenset(
    {
        "dj_rest_auth.registration.views.SocialLoginView",
        "dj_rest_auth.registration.views.SocialConnectView",
        "rest_auth.registration.views.SocialLoginView",
        "rest_auth.registration.views.SocialConnectView",
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


# With "current": a dependency returning the caller's organisation or tenant
# (skyvern's `get_current_org_for_credential_routes`): logged-in callers.
_TENANT_WORDS = frozenset({"org", "organization", "organisation", "tenant", "workspace"})


# Parameters of a dependency that reads the caller's credentials.
_CREDENTIAL_PARAM_WORDS = frozenset({"authorization", "token", "bearer", "credentials"})


def is_current_tenant_dependency(index: ProjectIndex, name: str | None) -> bool:
    """A project dependency that returns the current organisation or tenant
    of the caller, found from the caller's credentials: its last name says
    so (`get_current_org`, `current_workspace`; not `get_current_org_or_none`,
    `optional_org`), and it takes a credential (a parameter `authorization`,
    `token`, `credentials`, `api_key`/`x_api_key`: skyvern's
    `get_current_org_for_credential_routes`). Not a tenant found by the path
    or host (fief's `get_current_tenant(request, repository)`), which lets
    anonymous callers through."""
    if not name:
        return False
    words = set(name_words(name.rsplit(".", 1)[-1]))
    if words & {"optional", "none", "maybe"}:
        return False
    if "current" not in words or not words & _TENANT_WORDS:
        return False
    found = index.find_function(index.canonical(name))
    if found is None:
        return False
    for param, _, _ in found.params:
        param_words = set(name_words(param))
        if param_words & _CREDENTIAL_PARAM_WORDS or {"api", "key"} <= param_words:
            return True
    return False


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
                if names and all(
                    n in _AUTHENTICATED_PERMISSIONS
                    or (n is not None and named_policy_requires_login(ctx.index, n))
                    for n in names
                ):
                    return True
            if "ACCESS_POLICY" in target.value.upper() and isinstance(value, cst.Dict):
                principals = _principals(value)
                if principals and all(p in _AUTHENTICATED_PRINCIPALS for p in principals):
                    return True
    return False


# drf-access-policy bases (pulpcore's reads a policy of the database, by view).
ACCESS_POLICY_BASES = frozenset(
    {
        "rest_access_policy.AccessPolicy",
        "rest_access_policy.access_policy.AccessPolicy",
        "pulpcore.plugin.access_policy.AccessPolicyFromDB",
        "pulpcore.app.access_policy.AccessPolicyFromDB",
    }
)


def named_policy_requires_login(index: ProjectIndex, qualname: str) -> bool:
    """A project drf-access-policy class whose statements are found by its
    `NAME` (own or inherited, a string) in module-level dicts of statement
    lists (galaxy-ng's `TokenAccessPolicy`, `NAME = "TokenView"`, and
    `STANDALONE_STATEMENTS = {"TokenView": [{"principal": "authenticated",
    ...}]}`), every list under that name letting only logged-in principals
    in. Unknown when no dict has the name, or a principal is not a literal."""
    qualname = index.canonical(qualname)
    if not ancestry_of(index, [qualname]) & ACCESS_POLICY_BASES:
        return False
    name: str | None = None
    for cls in index.ancestors(qualname):
        value = dict(cls.attributes).get("NAME")
        if value is not None:
            if isinstance(value, Const) and isinstance(value.value, str):
                name = value.value
            break
    if name is None:
        return False
    found = index.view(named_policy_statements).get(name, [])
    return bool(found) and all(
        principals is not None
        and bool(principals)
        and all(p in _AUTHENTICATED_PRINCIPALS for p in principals)
        for principals in found
    )


@data_view
def named_policy_statements(index: ProjectIndex) -> dict[str, list[list[str] | None]]:
    """The principals of each drf-access-policy statement list that a
    module-level dict keeps under a literal key (`{"TokenView": [{"action":
    ["*"], "principal": "authenticated", "effect": "allow"}]}`, the list
    written there or a module-level name), by key; None for a list whose
    principals are not all literals. Lists that are not of statements
    (no `principal` or `effect` keys) are left out."""
    out: dict[str, list[list[str] | None]] = {}
    for facts in index.modules.values():
        entries: list[tuple[Value, Value]] = []
        for value in (*facts.assignments.values(), *(v for _, v in facts.rebinds)):
            if isinstance(value, Mapping):
                entries.extend(value.items)
        entries.extend((key, value) for _, key, value in facts.item_assignments)
        for key, value in entries:
            if not (isinstance(key, Const) and isinstance(key.value, str)):
                continue
            if isinstance(value, Ref):
                found = index.lookup(value.name)
                value = found if isinstance(found, Seq) else value
            if not isinstance(value, Seq):
                continue
            statements, principals = _statement_principals(value)
            if statements:
                out.setdefault(key.value, []).append(principals or None)
    return out


def _statement_principals(statements: Seq) -> tuple[bool, list[str] | None]:
    """Whether a list is one of statements, and their principals (None when
    one is not a literal)."""
    principals: list[str] = []
    known = True
    for statement in statements.items:
        if not isinstance(statement, Mapping):
            return False, None
        fields = {k.value: v for k, v in statement.items if isinstance(k, Const)}
        if "principal" not in fields and "effect" not in fields:
            return False, None
        value = fields.get("principal")
        items = value.items if isinstance(value, Seq) else (value,)
        for item in items:
            if isinstance(item, Const) and isinstance(item.value, str):
                principals.append(item.value)
            else:
                known = False
    return True, (principals if known else None)


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


@data_view
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
    return ancestry_of(index, pending)


def ancestry_of(index: ProjectIndex, names: list[str]) -> set[str]:
    """The classes `names` (canonical qualified names) and all their bases,
    through the project's classes to the library classes they build on."""
    pending = list(names)
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


@data_view
def routed_views(index: ProjectIndex) -> RoutedViews:
    has_urlconf = False
    routed: set[str] = set()
    limited: set[str] = set()
    for facts in index.modules.values():
        if "urlpatterns" in facts.assignments:
            has_urlconf = True
        for item in url_entries(index, facts):
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


def counts_attempts(index: ProjectIndex, qualname: str) -> bool:
    """A form class whose `clean()` limits its own rate: it counts attempts
    in Django's cache and refuses past a threshold (`ModuleFacts.cache_counters`:
    pretalx's `UserForm`, which counts failed `authenticate()` calls per
    client address). A subclass inherits it unless it, or a class between
    them, defines a `clean()` of its own (whether that calls `super()` is not
    known)."""
    for cls in index.ancestors(index.canonical(qualname)):
        module, _, name = cls.qualname.rpartition(".")
        facts = index.modules.get(module)
        if facts is not None and name in facts.cache_counters:
            return True
        if cls.method("clean") is not None:
            return False
    return False


def inherited_form_class(index: ProjectIndex, bases: list[str]) -> str | None:
    """The `form_class` a class-based view inherits from the project classes
    `bases` (canonical qualified names, in order): the nearest one's, as a
    qualified name (`GenericLoginView.form_class = UserForm`)."""
    for base in bases:
        for cls in index.ancestors(base):
            value = cls.attribute("form_class")
            if value is not None:
                name = dotted(value)
                return index.canonical(name) if name else None
    return None


# --------------------------------------------------------------------------
# Limiters called in a view's body.

_LIMITER_WORDS = frozenset({"limiter", "ratelimit", "ratelimiter", "throttle", "throttled"})


def _callee_segments(func: cst.BaseExpression) -> list[str]:
    """`select(User).where(x).limit` -> ["select", "where", "limit"];
    `signin_rate_limiter.is_limited` -> ["signin_rate_limiter", "is_limited"]."""
    out: list[str] = []
    expr: cst.BaseExpression = func
    for _ in range(16):
        if isinstance(expr, cst.Attribute):
            out.append(expr.attr.value)
            expr = expr.value
        elif isinstance(expr, cst.Call):
            expr = expr.func
        elif isinstance(expr, cst.Subscript):
            expr = expr.value
        else:
            break
    if isinstance(expr, cst.Name):
        out.append(expr.value)
    return list(reversed(out))


def is_limiter_call(ctx: FileContext, call: cst.Call, scope: Scope) -> bool:
    """A call that checks a rate: named for it (`check_rate_limit(...)`,
    `signin_rate_limiter.is_limited(...)`, `request.app.state.limiter.hit(...)`),
    or a method of a module-level limiter instance (`guard = RateLimiter(...)`,
    then `guard.hit(key)`). A query's `.limit(n)` is not one."""
    segments = _callee_segments(call.func)
    if not segments:
        return False
    *receivers, last = segments
    if any(mentions_limit(r) for r in receivers):
        return True
    if mentions_limit(last) and last.lower() not in ("limit", "limits"):
        return True
    if not receivers or not isinstance(call.func, cst.Attribute):
        return False
    root = call.func.value
    while isinstance(root, cst.Attribute):
        root = root.value
    if not isinstance(root, cst.Name):
        return False
    owner, bindings = ctx.bindings(root.value, scope)
    return owner is not None and any(
        isinstance(b, Assigned)
        and isinstance(b.value, cst.Call)
        and any(
            set(name_words(s)) & _LIMITER_WORDS or mentions_limit(s)
            for s in _callee_segments(b.value.func)
        )
        for b in bindings
    )


def calls_limiter(ctx: FileContext, body: cst.CSTNode, scope: Scope) -> bool:
    """A limiter called anywhere in a body (see `is_limiter_call`)."""
    return any(
        isinstance(child, cst.Call) and is_limiter_call(ctx, child, scope)
        for child in descendants(body, prune=(cst.Lambda, cst.ClassDef))
    )


# --------------------------------------------------------------------------
# OAuth token endpoints without a password grant.

# Grants of an OAuth/OIDC token endpoint that take no user password.
GRANT_TYPES = frozenset(
    {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }
)
# django-oauth-toolkit's token endpoint: the grants are the registered
# applications' (`authorization_grant_type`).
OAUTH_TOKEN_VIEWS = frozenset(
    {"oauth2_provider.views.TokenView", "oauth2_provider.views.base.TokenView"}
)
_CREDENTIAL_FIELDS = frozenset({"username", "password", "email", "passwd"})


def _strings(node: cst.CSTNode) -> set[str]:
    out: set[str] = set()
    for child in descendants(node):
        if isinstance(child, cst.SimpleString):
            value = child.evaluated_value
            if isinstance(value, str):
                out.add(value.lower())
    return out


def _function_params(node: cst.CSTNode) -> Iterator[cst.Param]:
    for child in (node, *descendants(node, prune=(cst.Lambda,))):
        if isinstance(child, cst.FunctionDef):
            params = child.params
            yield from (*params.posonly_params, *params.params, *params.kwonly_params)


def grants_without_password(
    ctx: FileContext, node: cst.FunctionDef | cst.ClassDef, scope: Scope
) -> bool:
    """An OAuth/OIDC token endpoint that grants only by code, refresh token or
    client credentials: it names a grant type (`grant_type`, a
    `"authorization_code"` literal, a parameter or dependency taking
    `grant_type`) and takes no password grant (no `"password"`/`"username"`
    literal, no `OAuth2PasswordRequestForm`, no `username`/`password`
    parameter here or in a dependency)."""
    code = ctx.tree.code_for_node(node)
    if "PasswordRequestForm" in code or "GRANT_PASSWORD" in code:
        return False
    strings = _strings(node)
    if strings & {"password", "username"}:
        return False
    evidence = bool(strings & GRANT_TYPES) or "grant_type" in strings
    for param in _function_params(node):
        name = param.name.value
        if name in _CREDENTIAL_FIELDS:
            return False
        evidence = evidence or name == "grant_type"
        dependency = _dependency_params(ctx, param, scope)
        if dependency & _CREDENTIAL_FIELDS:
            return False
        evidence = evidence or "grant_type" in dependency
    return evidence


def _dependency_params(ctx: FileContext, param: cst.Param, scope: Scope) -> set[str]:
    """Parameter names of the project function of a `Depends(f)` default."""
    default = param.default
    if not (isinstance(default, cst.Call) and default.args):
        return set()
    if ctx.qualified_name(default.func, scope) not in DEPENDS:
        return set()
    name = ctx.qualified_name(default.args[0].value, scope)
    found = ctx.index.find_function(name) if name is not None else None
    return {p[0] for p in found.params} if found is not None else set()


@data_view
def names_password_grant(index: ProjectIndex) -> bool:
    """Some module- or class-level value names django-oauth-toolkit's
    password grant (`Application.GRANT_PASSWORD`)."""
    for facts in index.modules.values():
        values = [*facts.assignments.values()]
        for cls in facts.classes.values():
            values.extend(v for _, v in cls.attributes)
        for value in values:
            if any(n.endswith("GRANT_PASSWORD") for n in _value_names(value)):
                return True
    return False


# --------------------------------------------------------------------------
# Password reset confirmations by a signed token.

# Reset confirmation views of libraries that check Django's
# `default_token_generator` (an HMAC of the user's state and SECRET_KEY).
SIGNED_RESET_VIEWS = frozenset(
    {
        "django.contrib.auth.views.PasswordResetConfirmView",
        "dj_rest_auth.views.PasswordResetConfirmView",
    }
)
# Packages of signatures and keyed hashes: a token they check is unguessable.
SIGNING_PACKAGES = (
    "jwt",
    "jose",
    "jwcrypto",
    "authlib.jose",
    "itsdangerous",
    "django.core.signing",
    "django.contrib.auth.tokens",
    "hmac",
)


def _signing_module(index: ProjectIndex, module: str) -> bool:
    """A project module that imports a signing package, or hashes with the
    project's SECRET_KEY (`hashlib` and `django.conf.settings`)."""
    facts = index.modules.get(module)
    if facts is None:
        return False
    imported = set(facts.imports.values())
    if any(q == p or q.startswith(p + ".") for q in imported for p in SIGNING_PACKAGES):
        return True
    return any(q.startswith("hashlib") for q in imported) and "django.conf.settings" in imported


def checks_signed_token(
    ctx: FileContext, node: cst.FunctionDef | cst.ClassDef, scope: Scope
) -> bool:
    """A reset confirmation (it receives a token: a parameter or request
    field named for it, and makes none) that checks its token by a
    signature or keyed hash: a call given the token (an argument named for it: `token`,
    `form.token.data`) that is a signing library's (`jwt.decode`,
    `signing.loads`, `default_token_generator.check_token`, a signer's
    `unsign`), or a function or method of a project module that imports
    one (`is_password_change_token_valid`, `user_manager.reset_password`
    with `user_manager: UserManager`)."""
    index = ctx.index
    params = [p.name.value for p in _function_params(node)]
    received = any("token" in name_words(p) for p in params) or "token" in _strings(node)
    if not received or "make_token" in ctx.tree.code_for_node(node):
        return False  # not a confirmation: it makes the token (and mails it)
    annotations: dict[str, str] = {}
    for param in _function_params(node):
        if param.annotation is not None:
            annotated = ctx.qualified_name(param.annotation.annotation, scope)
            if annotated is not None:
                annotations[param.name.value] = index.canonical(annotated)
    for child in descendants(node, prune=(cst.Lambda,)):
        if not isinstance(child, cst.Call):
            continue
        if not any("token" in name_words(ctx.tree.code_for_node(a.value)) for a in child.args):
            continue
        segments = _callee_segments(child.func)
        if not segments:
            continue
        last = segments[-1]
        receivers = {w for s in segments[:-1] for w in name_words(s)}
        if last == "check_token" and "generator" in receivers:
            return True
        if (
            last == "check_token"
            and isinstance(child.func, cst.Attribute)
            and is_token_generator(ctx, child.func.value, scope)
        ):
            return True
        if last in ("unsign", "unsign_object", "loads") and receivers & {
            "signer",
            "signing",
            "serializer",
        }:
            return True
        name = ctx.qualified_name(child.func, scope)
        module = None
        if name is not None:
            name = index.canonical(name)
            if any(name == p or name.startswith(p + ".") for p in SIGNING_PACKAGES):
                return True
            module = name.rpartition(".")[0]
        elif isinstance(child.func, cst.Attribute) and isinstance(child.func.value, cst.Name):
            owner = annotations.get(child.func.value.value)
            module = owner.rpartition(".")[0] if owner is not None else None
        if module is not None and _signing_module(index, module):
            return True
    return False


def checks_signed_api_key(
    ctx: FileContext, node: cst.FunctionDef | cst.ClassDef, scope: Scope
) -> bool:
    """A token exchange for an API key (a parameter named for one: `api_key`,
    `x_api_key`) that hands the key to a signing library's function
    (`jwt.decode(api_key, ...)`) or to a function of a project module that
    imports one (skyvern's `resolve_org_from_api_key(x_api_key, ...)`, which
    `jwt.decode`s it with the server's secret): a signed key, generated, not
    chosen, so guessing it is infeasible."""
    index = ctx.index
    keys = {
        p.name.value
        for p in _function_params(node)
        if {"api", "key"} <= set(name_words(p.name.value))
    }
    if not keys:
        return False
    for child in descendants(node, prune=(cst.Lambda,)):
        if not isinstance(child, cst.Call):
            continue
        if not any(isinstance(a.value, cst.Name) and a.value.value in keys for a in child.args):
            continue
        name = ctx.qualified_name(child.func, scope)
        if name is None:
            continue
        name = index.canonical(name)
        if any(name == p or name.startswith(p + ".") for p in SIGNING_PACKAGES):
            return True
        if index.find_function(name) is not None and _signing_module(
            index, name.rpartition(".")[0]
        ):
            return True
    return False


# Django's token generator: `check_token` compares an HMAC of the user's state,
# a timestamp and SECRET_KEY.
TOKEN_GENERATORS = frozenset({"django.contrib.auth.tokens.PasswordResetTokenGenerator"})


def is_token_generator(ctx: FileContext, expr: cst.BaseExpression, scope: Scope) -> bool:
    """An instance of Django's `PasswordResetTokenGenerator` or of a project
    subclass of it (by the index's class ancestry, whatever its name): made
    on the spot (`TokenGenerator().check_token(...)`, kolibri) or a
    module-level instance (`account_activation_token = TokenGenerator()`,
    here or imported)."""
    index = ctx.index
    made: str | None = None
    if isinstance(expr, cst.Call):
        made = ctx.qualified_name(expr.func, scope)
    else:
        name = ctx.qualified_name(expr, scope)
        value = index.lookup(index.canonical(name)) if name is not None else None
        if isinstance(value, Call):
            made = dotted(value.func)
    if made is None:
        return False
    return bool(ancestry_of(index, [index.canonical(made)]) & TOKEN_GENERATORS)


# Words of a parameter, literal or call that takes a chosen secret (a
# password, a one-time code) or hands the credentials to something that may
# check one (a form, a serializer, the parent view).
_PASSWORD_WORDS = frozenset({"password", "passwd", "pwd", "passcode", "otp", "totp", "pin"})
_PASSWORD_CALL_WORDS = _PASSWORD_WORDS | {"authenticate", "form", "serializer", "super"}


def takes_no_password(ctx: FileContext, node: cst.FunctionDef | cst.ClassDef) -> bool:
    """A login endpoint that takes no chosen secret: no parameter named for a
    password or one-time code, no such request field (`request.data["password"]`),
    no `OAuth2PasswordRequestForm`, and no call that authenticates or
    validates a form or serializer (`authenticate(...)`, `form.is_valid()`,
    `super().post(...)`)."""
    if "PasswordRequestForm" in ctx.tree.code_for_node(node):
        return False
    for param in _function_params(node):
        if set(name_words(param.name.value)) & _PASSWORD_WORDS:
            return False
    if _strings(node) & _PASSWORD_WORDS:
        return False
    for child in descendants(node, prune=(cst.Lambda,)):
        if isinstance(child, cst.Call):
            words = set(name_words(ctx.tree.code_for_node(child.func)))
            if words & _PASSWORD_CALL_WORDS:
                return False
    return True


# --------------------------------------------------------------------------
# Endpoints only logged-in users reach, by a guard of the endpoint itself.

STARLETTE_REQUIRES = frozenset({"starlette.authentication.requires"})


def requires_authenticated_scope(ctx: FileContext, node: cst.FunctionDef, scope: Scope) -> bool:
    """Starlette's `@requires("authenticated")` / `@requires(["authenticated",
    ...])`: the authentication middleware gives an anonymous request no
    scopes, so the endpoint answers it with 403 (or a redirect) before it runs."""
    for decorator in node.decorators:
        call = decorator.decorator
        if not isinstance(call, cst.Call):
            continue
        name = ctx.qualified_name(call.func, scope)
        if name is None or ctx.index.canonical(name) not in STARLETTE_REQUIRES:
            continue
        scopes = next(
            (a.value for a in call.args if a.keyword is None or a.keyword.value == "scopes"),
            None,
        )
        if scopes is None:
            continue
        items = (
            [e.value for e in scopes.elements]
            if isinstance(scopes, cst.List | cst.Tuple)
            else [scopes]
        )
        if any(_const(item) == "authenticated" for item in items):
            return True
    return False


# Attributes of a user that are false for Django's AnonymousUser.
_LOGGED_IN_FLAGS = frozenset({"is_authenticated", "is_staff", "is_superuser"})


def _user_flag(expr: cst.BaseExpression, flags: frozenset[str]) -> bool:
    """`request.user.is_authenticated` (or called, as in old Django), on a
    name or attribute that names a user (`request.user`, `user`)."""
    if isinstance(expr, cst.Call) and not expr.args:
        expr = expr.func
    if not (isinstance(expr, cst.Attribute) and expr.attr.value in flags):
        return False
    owner = expr.value
    last = owner.attr.value if isinstance(owner, cst.Attribute) else None
    if isinstance(owner, cst.Name):
        last = owner.value
    return last is not None and "user" in name_words(last)


def _false_for_anonymous(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.BooleanOperation):
        if isinstance(expr.operator, cst.And):
            return _false_for_anonymous(expr.left) or _false_for_anonymous(expr.right)
        return _false_for_anonymous(expr.left) and _false_for_anonymous(expr.right)
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        return _true_for_anonymous(expr.expression)
    return _user_flag(expr, _LOGGED_IN_FLAGS)


def _true_for_anonymous(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.BooleanOperation):
        if isinstance(expr.operator, cst.Or):
            return _true_for_anonymous(expr.left) or _true_for_anonymous(expr.right)
        return _true_for_anonymous(expr.left) and _true_for_anonymous(expr.right)
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        return _false_for_anonymous(expr.expression)
    return _user_flag(expr, frozenset({"is_anonymous"}))


def _exits(block: cst.BaseSuite) -> bool:
    """A block whose last statement returns or raises."""
    if isinstance(block, cst.IndentedBlock):
        if not block.body:
            return False
        last = block.body[-1]
        if not isinstance(last, cst.SimpleStatementLine):
            return False
        small: Sequence[cst.BaseSmallStatement] = last.body
    else:
        assert isinstance(block, cst.SimpleStatementSuite)
        small = block.body
    return bool(small) and isinstance(small[-1], cst.Return | cst.Raise)


def rejects_anonymous(ctx: FileContext, node: cst.FunctionDef) -> bool:
    """The endpoint turns anonymous callers away before it takes or checks
    anything: a statement of its body (not nested in a loop or `try`), before
    any call that takes credentials (`CREDENTIAL_WORDS`), is an `if` whose
    test holds for every anonymous user (`not request.user.is_authenticated`,
    `user.is_anonymous`, `not user.is_staff`, alone or in an `or`) and whose
    block returns or raises (wger's staff action resetting a member's
    password). `if request.user.is_authenticated: return redirect(...)`, the
    login page's shortcut for users already signed in, is no guard; nor is
    `has_perm` alone (a backend such as django-guardian may grant
    permissions to anonymous users)."""
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
    for stmt in body:
        if isinstance(stmt, cst.If) and _true_for_anonymous(stmt.test) and _exits(stmt.body):
            return True
        if takes_credentials(ctx, stmt):
            return False
    return False


# --------------------------------------------------------------------------
# FastAPI sign-in routes that only send the browser elsewhere.

# Request content an endpoint could take credentials from.
_REQUEST_CONTENT = frozenset(
    {"form", "json", "body", "stream", "query_params", "headers", "cookies", "path_params"}
)


def redirects_only(ctx: FileContext, node: cst.FunctionDef, scope: Scope) -> bool:
    """A route that takes nothing but the connection (`request: Request`,
    `response: Response`, `BackgroundTasks`), reads none of the request's
    content (`.form()`, `.json()`, `.query_params`, `.headers`...), calls
    nothing that takes or checks credentials (`CREDENTIAL_WORDS`) and
    returns only redirects (`oauth.google.authorize_redirect(...)`,
    `RedirectResponse(...)`): a sign-in that starts elsewhere (khoj's `POST
    /login`, which sends the browser to Google)."""
    for param in parameters(node):
        annotation = param_type(ctx, param, scope).annotation
        if not (
            annotation in REQUEST_CLASSES
            or annotation in BACKGROUND_TASKS
            or is_response_class(annotation, ctx.index)
        ):
            return False
    returned: list[cst.BaseExpression | None] = []
    for child in descendants(node.body, prune=(cst.Lambda, cst.FunctionDef, cst.ClassDef)):
        if isinstance(child, cst.Attribute) and child.attr.value in _REQUEST_CONTENT:
            return False
        if isinstance(child, cst.Return):
            returned.append(child.value)
        elif isinstance(child, cst.Yield):
            return False
    if not returned:
        return False
    for value in returned:
        if isinstance(value, cst.Await):
            value = value.expression
        if not isinstance(value, cst.Call):
            return False
        segments = _callee_segments(value.func)
        if not segments or "redirect" not in name_words(segments[-1]):
            return False
    return not takes_credentials(ctx, node.body)
