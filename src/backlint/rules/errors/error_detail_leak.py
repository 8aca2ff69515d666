"""BKL701 error-detail-leak."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from itertools import pairwise
from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import FileContext, Scope, ScopeKind
from backlint.semantics.django_admin import admin_site_view
from backlint.semantics.errors import ExceptionText, in_debug_branch, is_response
from backlint.semantics.fastapi import Route, route_of
from backlint.semantics.flow import caught_types
from backlint.semantics.security import name_words
from backlint.semantics.tree import descendants
from backlint.types import SourceFile

_SINK_WORDS = ("Response", "HTTPException", "rest_framework")


@dataclass(frozen=True, slots=True)
class ErrorDetailLeakOptions:
    # Also report the text sent in a client-error (4xx) response, where the
    # code hands it to the client as the reason its request failed.
    client_errors: bool = False


class ErrorDetailLeak(Rule):
    """An exception's text or traceback sent to the client.

    What it flags:
    The text of a caught exception (`str(e)`, `repr(e)`, `f"{e}"`,
    `"%s" % e`, `e.args`, the exception object itself in a response body)
    or a traceback (`traceback.format_exc()`, `format_exception()`), directly
    or through local variables (also a local dict or list filled item by
    item: `body["detail"] = str(e)`, `errors.append(str(e))`), in what goes
    to the HTTP client:
    `HTTPException(detail=...)` of FastAPI/Starlette, their `JSONResponse`,
    `PlainTextResponse` and other responses, DRF's `Response(...)` and
    exceptions (`ValidationError(...)`, `APIException(...)`), Django's
    `JsonResponse`/`HttpResponse*`, and the value a FastAPI route returns.
    `e` is the name bound by an enclosing `except ... as e` of a broad,
    system or third-party exception (`Exception`, `OSError`, database,
    parsing and network errors). Reported at the response call or the
    `return`.

    By default a client-error response (a 4xx `status_code=`/`status=`,
    `HTTPException(400, ...)`, `HTTPStatus.BAD_REQUEST`,
    `status.HTTP_409_CONFLICT`, DRF's `ValidationError`, `ParseError`,
    `NotFound`..., Django's `HttpResponseBadRequest`) is reported only when an
    enclosing `except` names a database error (`IntegrityError`,
    `SQLAlchemyError`, `OperationalError`, anything of `django.db`,
    `psycopg`, `asyncpg`...): its text carries SQL and parameters whatever
    the status (only the `except` clauses around the response call are
    read: a text kept in a variable and sent with a 4xx after the `try` is
    not reported by default). With a 4xx the code tells the client its request is at fault
    and gives the text as the reason; in the applications read that text was
    mostly the project's own message, a library's complaint about the posted
    data or file, or the error of a resource the client configured itself.
    `client-errors = true` (in `[tool.backlint.error-detail-leak]`) reports
    those as well (a broad catch around the project's database work, sent
    as a 400, is then found too). Server errors (5xx), responses with no
    status or a computed one, and the value a route returns are always read.
    This departs from RULES.md, which reads every `HTTPException(detail=...)`
    whatever its status.

    Why:
    Exception messages are written for developers: they carry SQL and table
    names, file paths, hostnames, library versions and internal values, and
    tell an attacker which input broke what. The client needs a stable
    message and an id to quote; the details belong in the log.

    Example:
    ```python
    from fastapi import APIRouter, HTTPException

    router = APIRouter()

    @router.post("/imports")
    async def start_import(url: str) -> dict[str, str]:
        try:
            job = await importer.start(url)
        except Exception as e:
            raise HTTPException(status_code=500, detail=f"import failed: {e}")
        return {"job": job.id}
    ```

    Use instead:
    ```python
    import logging

    from fastapi import APIRouter, HTTPException

    logger = logging.getLogger(__name__)
    router = APIRouter()

    @router.post("/imports")
    async def start_import(url: str) -> dict[str, str]:
        try:
            job = await importer.start(url)
        except Exception:
            logger.exception("import of %s failed", url)
            raise HTTPException(status_code=500, detail="import failed")
        return {"job": job.id}
    ```

    Not flagged:
    Logging the exception; counting failures (`len(errors)`, `bool(errors)`
    of a list of exception texts: a number carries none of them);
    exceptions whose text is written for clients:
    the project's own exception classes, validation errors (pydantic,
    Django, DRF, marshmallow, and any library class named `*Validation*`),
    `HTTPException` and `Http404`; Django's `FieldError` and
    `FieldDoesNotExist` caught by name (nautobot's `queryset.get(**params)`
    of the client's keys: the text names the model's fields and the keyword
    asked for, never a value, SQL, path or host; `except Exception` around
    the same lookup, or with a `DatabaseError`, is flagged); builtins that
    applications raise with messages for the caller (`ValueError`, `KeyError`, `TypeError`,
    `PermissionError`, `AssertionError`); library errors about malformed
    input (`etree.ParseError`, `netaddr.AddrFormatError`,
    `json.JSONDecodeError`, `*Invalid*`) or an unreadable file (pypdf's
    `PdfReadError`, `zipfile.BadZipFile`, Pillow's `UnidentifiedImageError`)
    raised by a `try` body that awaits nothing but the request's own body or
    an `UploadFile` parameter's `read()`: they describe the input the code
    was given, the client's own (parsing the answer of an awaited remote
    call is flagged; a connection's `ReadError` is not a file's); any error of a
    `try` whose one statement builds a Pydantic model of the project from the
    client's data (`Form(**data)`, `Form.model_validate(data)`: the error is
    about that data); any error, even caught as `Exception`, of a `try`
    that only converts values it was given: it awaits nothing but the
    request's body or an upload, enters no `with`, converts something, and
    calls only builtin conversions (`int(value)`), string and dict methods,
    responses, standard-library conversions that reach no file, socket or
    process (`uuid.UUID`, `decimal.Decimal`, `datetime.fromisoformat`,
    `ipaddress.ip_address`, `json.loads`, `base64.b64decode`,
    `urllib.parse.urlparse`...; not `json.load`, `socket`, `os` or
    `subprocess`), functions named for parsing (`json.loads`, `bolt11.decode`,
    `SpanQuery.from_dict`, `cast_bool_from_str`, phoenix's `unflatten` of
    dotted keys; a name with `get`, `load`,
    `read`, `fetch`, `lookup`... reaches elsewhere and is flagged),
    constructors of the project's data classes (an enum, a named tuple, a
    `@dataclass` or a Pydantic model, with project bases of the same kind
    and no `__init__`, `__new__`, `__post_init__` or metaclass: phoenix's
    `SpanKind(value)`), project helpers that only handle data (lnbits'
    `filter_dict_keys`: a short sync body that awaits, enters and yields
    nothing and calls only builtins, methods of its own values, the
    standard-library conversions above and other such helpers; lnbits'
    `to_valid_user_id`, building a `uuid.UUID` from a path parameter,
    converts; one that calls another library, `socket.gethostname` or
    `os.path.realpath`, a module-level object or a
    function named for I/O is flagged, and so is a longer helper, whose body
    the index does not summarise), and sync helpers defined in the enclosing
    function (phoenix's `convert_api_span_for_insertion` in its bulk span
    route), whose body is read as the `try` body is: one that awaits, enters
    a `with`, yields, or calls a session's or another object's method is
    flagged; a
    library class (not a builtin) caught around a `try` that is one call of
    a project function or method which raises that class itself (mayan's
    `MetadataParser.get_class` raising `ImproperlyConfigured` with a
    translated "Invalid parser" message: the text is the project's own);
    a library class caught (with `ValueError` or the project's own classes
    at most) around a `try` of several calls, when the project functions it
    calls raise that library's exceptions themselves, only with constant
    texts (lnbits' `handle()`, which wraps httpx, DNS and pydantic errors
    into `LnurlResponseException("LNURL request failed.")`), every other
    project function it calls is defined in a module that does not import
    that library (lnbits' `check_callback_url`), and the `try` calls nothing
    of that library itself nor a method of an object of unknown type (a
    callee whose text is built from a value, `LnurlResponseException(str(exc))`,
    that re-raises a caught name, or a project wrapper of the library that
    raises nothing itself is flagged; a bare `raise` in a callee, a library
    call two project calls deep, and a library class raised by the project
    taken for a subclass of the caught one because it comes from the same
    package, are not seen);
    errors caught in the `parse()` method of a DRF parser class (DRF's own design:
    what a parser raises describes the request's body, as `ParseError`);
    `str(e) if isinstance(e, ValueError) else "..."` and responses inside
    `if isinstance(e, AppError):`; details shown under `settings.DEBUG`
    only, or under a setting named for them (`expose_stacktrace`, `SHOW_TRACEBACKS`), also
    through a local given the text only in that branch; views and routes
    only site administrators reach, who hold the configuration and the logs
    the text talks about: a FastAPI dependency named for them
    (`user=Depends(get_admin_user)`, `dependencies=[Depends(get_current_active_superuser)]`;
    not a name with `key`, `token`, `owner` or `or`: lnbits' wallet
    `require_admin_key`), `@staff_member_required`,
    `@user_passes_test(lambda u: u.is_superuser)`, DRF's `IsAdminUser` in
    `permission_classes`, a class-based view whose base gates on them
    (`AdministratorPermissionRequiredMixin`, `SuperuserRequiredMixin`; a
    mixin of an admin UI that gates nothing, such as `AdminTemplateMixin`,
    does not count, nor does an OAuth scope, `Security(verify_oauth_client,
    scopes=[DATABASE_RESET])`, whose name does not say who holds it), pages
    of Django's admin: a method of a class built on `ModelAdmin` (or an
    inline, or `AdminSite`; through the project's classes) that the class,
    or a base of it in the same module, routes through
    `self.admin_site.admin_view(self.<method>)` (`self.admin_view(...)` in
    an `AdminSite`), the staff gate of `@staff_member_required`
    (openwisp-controller's config `preview_view`, registered in
    `get_urls()`; a method routed there without `admin_view`, or by a class
    that is no admin class, is flagged; an override of a method that a base
    in another module routes is a false alarm left), and
    FastAPI routes whose path starts with a segment named for them (fides'
    `@ADMIN_ROUTER.post("/admin/db/{action}")`, gated by that scope: the
    API's admin area; `admin` after a path parameter,
    `/projects/{id}/admin/sync`, is a project's own page and is flagged;
    a router's `prefix=` is not read); client-error responses (see above);
    exception names
    backlint cannot resolve; test files. Text passed through a function of
    the project before reaching the response is not followed.

    Fix:
    None: log the exception (`logger.exception`) and send a generic message,
    with an error id when support needs to find the log entry.
    """

    code = "BKL701"
    name = "error-detail-leak"
    message = "{what} is sent to the client: log it and return a generic message"
    skip_tests = True
    skip_migrations = True
    Options = ErrorDetailLeakOptions

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        if file.is_test or file.is_migration:
            return False
        if not ("except" in source or "format_exc" in source):
            return False
        return any(word in source for word in _SINK_WORDS) or "fastapi" in packages

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        self._routes: dict[int, bool] = {}
        self._admin: dict[int, bool] = {}
        self._fastapi = ctx.index.uses("fastapi")

    # Statement-level visits only: a response is made in a `return`, a
    # `raise`, an assignment or an expression statement, and the walker then
    # never has to descend into every expression of the file.

    def visit_Raise(self, node: cst.Raise) -> None:
        if node.exc is not None:
            self._check_sink(node, node.exc)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._check_sink(node, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._check_sink(node, node.value)

    def visit_Expr(self, node: cst.Expr) -> None:
        self._check_sink(node, node.value)

    def visit_Return(self, node: cst.Return) -> None:
        value = node.value
        if value is None:
            return
        if self._check_sink(node, value):
            return
        if not self._fastapi or self._sink(value) is not None:
            return
        scope = self.ctx.scope
        if scope.kind is not ScopeKind.FUNCTION or not isinstance(scope.node, cst.FunctionDef):
            return
        function = scope.node
        key = id(function)
        if key not in self._routes:
            self._routes[key] = (
                scope.parent is not None and route_of(self.ctx, function, scope.parent) is not None
            )
        if (
            self._routes[key]
            and ExceptionText(self.ctx, node).leaks(value, scope)
            and not self._for_admins()
        ):
            self.report(node, what="the exception's text, returned by a route,")

    def _sink(self, value: cst.BaseExpression) -> cst.Call | None:
        """The response call a statement's value is (`await` looked through)."""
        if isinstance(value, cst.Await):
            value = value.expression
        if isinstance(value, cst.Call) and is_response(
            self.ctx, self.ctx.qualified_name(value.func)
        ):
            return value
        return None

    def _check_sink(self, statement: cst.CSTNode, value: cst.BaseExpression) -> bool:
        """Report a response call whose arguments carry exception text."""
        call = self._sink(value)
        if call is None:
            return False
        ctx = self.ctx
        text = ExceptionText(ctx, statement)
        for arg in call.args:
            if arg.star == "" and text.leaks(arg.value, ctx.scope):
                if (
                    not self._in_debug_branch(statement)
                    and not self._for_admins()
                    and not self._client_error_skipped(statement, call)
                ):
                    self.report(call, what="the exception's text")
                return True
        return True

    def _client_error_skipped(self, statement: cst.CSTNode, call: cst.Call) -> bool:
        """A client-error (4xx) response, reported only with `client-errors`,
        unless an enclosing `except` names a database error: its text carries
        SQL and parameters whatever the status says."""
        if self.options.client_errors or not client_error_response(self.ctx, call):
            return False
        for ancestor in self.ctx.ancestors(statement):
            if (
                isinstance(ancestor, cst.ExceptHandler)
                and ancestor.type is not None
                and any(
                    _database_error(self.ctx.qualified_name(t, self.ctx.scope))
                    for t in caught_types(ancestor.type)
                )
            ):
                return False
            if isinstance(ancestor, cst.FunctionDef):
                break
        return True

    def _in_debug_branch(self, node: cst.CSTNode) -> bool:
        return in_debug_branch(self.ctx, node)

    def _for_admins(self) -> bool:
        """Whether the enclosing view or route is reached by site
        administrators only (see `admin_only`)."""
        scope: Scope | None = self.ctx.scope
        while scope is not None and scope.kind is not ScopeKind.MODULE:
            node = scope.node
            key = id(node)
            if key not in self._admin:
                self._admin[key] = admin_only(self.ctx, node, scope)
            if self._admin[key]:
                return True
            scope = scope.parent
        return False


# Exceptions that are 4xx responses by class.
_CLIENT_ERROR_CLASSES = frozenset(
    {
        *(
            f"rest_framework.exceptions.{name}"
            for name in (
                "ValidationError",
                "ParseError",
                "AuthenticationFailed",
                "NotAuthenticated",
                "PermissionDenied",
                "NotFound",
                "MethodNotAllowed",
                "NotAcceptable",
                "UnsupportedMediaType",
                "Throttled",
            )
        ),
        *(
            f"django.http.{module}HttpResponse{name}"
            for module in ("", "response.")
            for name in ("BadRequest", "NotFound", "Forbidden", "NotAllowed", "Gone")
        ),
    }
)
# Response calls whose status is the first positional argument...
_STATUS_FIRST = frozenset(
    {
        "fastapi.HTTPException",
        "fastapi.exceptions.HTTPException",
        "starlette.exceptions.HTTPException",
    }
)
# ... or the second (`JSONResponse(content, status_code)`, DRF's `Response(data, status)`).
_STATUS_SECOND = ("fastapi.responses.", "starlette.responses.", "rest_framework.response.")


def _status_value(expr: cst.BaseExpression) -> int | None:
    """`400`, `status.HTTP_400_BAD_REQUEST`, `HTTP_409_CONFLICT`,
    `HTTPStatus.BAD_REQUEST`: the code a status expression names."""
    if isinstance(expr, cst.Integer):
        return int(expr.value)
    name = (
        expr.attr.value
        if isinstance(expr, cst.Attribute)
        else expr.value
        if isinstance(expr, cst.Name)
        else None
    )
    if name is None:
        return None
    if name.startswith("HTTP_") and name[5:8].isdigit():
        return int(name[5:8])
    owner = expr.value if isinstance(expr, cst.Attribute) else None
    if isinstance(owner, cst.Attribute):
        owner = owner.attr
    http_status = isinstance(owner, cst.Name) and owner.value == "HTTPStatus"
    if http_status and name in HTTPStatus.__members__:
        return int(HTTPStatus[name].value)
    return None


def client_error_response(ctx: FileContext, call: cst.Call) -> bool:
    """A response call that answers with a 4xx status: its `status_code=` or
    `status=` (or the status argument in its place: `HTTPException(400, ...)`,
    `JSONResponse(body, 422)`), or its class (DRF's `ValidationError`,
    `ParseError`, `NotFound`; Django's `HttpResponseBadRequest`)."""
    name = ctx.qualified_name(call.func)
    if name is None:
        return False
    if name in _CLIENT_ERROR_CLASSES:
        return True
    status: cst.BaseExpression | None = None
    positional = [a.value for a in call.args if a.keyword is None and a.star == ""]
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in ("status_code", "status"):
            status = arg.value
    if status is None and name in _STATUS_FIRST and positional:
        status = positional[0]
    if status is None and name.startswith(_STATUS_SECOND) and len(positional) > 1:
        status = positional[1]
    if status is None:
        return False
    code = _status_value(status)
    return code is not None and 400 <= code < 500


# Database errors (PEP 249's names, and the errors of the database packages).
_DATABASE_ERROR_NAMES = frozenset(
    {
        "DatabaseError",
        "IntegrityError",
        "OperationalError",
        "ProgrammingError",
        "DataError",
        "InterfaceError",
        "InternalError",
        "NotSupportedError",
        "SQLAlchemyError",
        "DBAPIError",
        "StatementError",
        "PyMongoError",
    }
)
_DATABASE_PACKAGES = frozenset(
    {"sqlalchemy", "psycopg", "psycopg2", "asyncpg", "pymysql", "MySQLdb", "sqlite3", "aiosqlite"}
)


def _database_error(name: str | None) -> bool:
    if name is None:
        return False
    return (
        name.rsplit(".", 1)[-1] in _DATABASE_ERROR_NAMES
        or name.split(".", 1)[0] in _DATABASE_PACKAGES
        or name.startswith(("django.db.", "pymongo.errors."))
    )


# Words of a name that gates on site administrators (`get_admin_user`,
# `staff_member_required`, `IsAdminUser`, `AdministratorPermissionRequiredMixin`,
# `get_current_active_superuser`)...
_ADMIN_WORDS = frozenset(
    {"admin", "administrator", "superuser", "superadmin", "staff", "staffuser", "sysadmin"}
)
# ... unless it is about something else (lnbits' `require_admin_key` is a
# wallet's key, which every user holds) or lets others in (`IsAdminOrReadOnly`).
_NOT_ADMIN_WORDS = frozenset({"key", "wallet", "token", "or", "optional", "owner"})
# A class base that gates (`...PermissionRequiredMixin`), not one that is merely
# part of an admin UI (`WagtailAdminTemplateMixin`, for any editor).
_GATE_WORDS = frozenset({"required", "permission", "only"})
_PASSES_TEST = ("user_passes_test", "permission_classes", "method_decorator")
_ADMIN_FLAGS = frozenset({"is_superuser", "is_staff"})


def _admin_name(name: str, gate: bool = False) -> bool:
    words = name_words(name)
    found = set(words)
    admin = bool(found & _ADMIN_WORDS) or any(pair == ("super", "user") for pair in pairwise(words))
    if not admin or found & _NOT_ADMIN_WORDS:
        return False
    return not gate or bool(found & _GATE_WORDS)


def _names(node: cst.CSTNode) -> list[str]:
    """The identifiers of an expression (the last part of dotted names)."""
    found: list[str] = []
    for n in (node, *descendants(node, prune=(cst.SimpleString,))):
        if isinstance(n, cst.Name):
            found.append(n.value)
    return found


def _depends_args(expr: cst.CSTNode) -> list[str]:
    """Names handed to `Depends(...)`/`Security(...)` in an expression."""
    found: list[str] = []
    for n in (expr, *descendants(expr)):
        if (
            isinstance(n, cst.Call)
            and isinstance(n.func, cst.Name | cst.Attribute)
            and (n.func.value if isinstance(n.func, cst.Name) else n.func.attr.value)
            in ("Depends", "Security")
            and n.args
        ):
            found.extend(_names(n.args[0].value))
    return found


def _gates_on_admins(decorator: cst.BaseExpression) -> bool:
    """`@staff_member_required`, `@superuser_required`,
    `@user_passes_test(lambda u: u.is_superuser)`, `@permission_classes([IsAdminUser])`,
    `@router.get(..., dependencies=[Depends(get_admin_user)])`."""
    func = decorator.func if isinstance(decorator, cst.Call) else decorator
    last = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
    if isinstance(last, str) and _admin_name(last, gate=True):
        return True
    if not isinstance(decorator, cst.Call):
        return False
    if last in _PASSES_TEST:
        return any(
            name in _ADMIN_FLAGS or _admin_name(name) for a in decorator.args for name in _names(a)
        )
    return any(_admin_name(name) for name in _depends_args(decorator))


def _admin_path(route: Route) -> bool:
    """A route whose path starts with a segment named for administrators
    (fides' `@ADMIN_ROUTER.post("/admin/db/{action}")`, lnbits' `/admin/api/...`):
    the API's own admin area, whatever gates it (an OAuth scope)."""
    args = route.decorator.args
    path = args[0].value if args and args[0].keyword is None else route.keyword("path")
    if not isinstance(path, cst.SimpleString):
        return False
    text = path.evaluated_value
    if not isinstance(text, str):
        return False
    first = next((part for part in text.split("/") if part), "")
    return not first.startswith("{") and _admin_name(first)


def admin_only(ctx: FileContext, node: cst.CSTNode, scope: Scope) -> bool:
    """A view or route reached only by site administrators: a FastAPI
    dependency named for them (`user=Depends(get_admin_user)`, in the
    parameters or the decorator's `dependencies=`), a Django decorator
    (`staff_member_required`, `user_passes_test(lambda u: u.is_superuser)`),
    DRF's `IsAdminUser` (`permission_classes`), a class-based view whose
    base gates on them (`AdministratorPermissionRequiredMixin`,
    `SuperuserRequiredMixin`), or a method of a Django admin class that it
    routes through `self.admin_site.admin_view(self.<method>)`
    (`django_admin.admin_site_view`). Administrators hold the configuration and the
    logs that the exception's text talks about."""
    if isinstance(node, cst.FunctionDef):
        if any(_gates_on_admins(d.decorator) for d in node.decorators):
            return True
        if admin_site_view(ctx, node, scope):
            return True
        route = route_of(ctx, node, scope.parent) if scope.parent is not None else None
        if route is not None and _admin_path(route):
            return True
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            parts: list[cst.CSTNode] = []
            if param.default is not None:
                parts.append(param.default)
            if param.annotation is not None:
                parts.append(param.annotation.annotation)
            if any(_admin_name(name) for part in parts for name in _depends_args(part)):
                return True
        return False
    if isinstance(node, cst.ClassDef):
        if any(_gates_on_admins(d.decorator) for d in node.decorators):
            return True
        for base in node.bases:
            names = _names(base.value)
            if names and _admin_name(names[-1], gate=True):
                return True
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
        for statement in body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if (
                    isinstance(small, cst.Assign)
                    and any(
                        isinstance(t.target, cst.Name) and t.target.value == "permission_classes"
                        for t in small.targets
                    )
                    and isinstance(small.value, cst.List | cst.Tuple)
                    and any(_admin_name(n) for n in _names(small.value))
                ):
                    return True
    return False
