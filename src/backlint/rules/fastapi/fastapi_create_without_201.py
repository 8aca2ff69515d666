"""BKL205 fastapi-create-without-201."""

from __future__ import annotations

import re

import libcst as cst

from backlint.rules.fastapi import FastAPIRule
from backlint.semantics.context import Assigned, Imported, Scope
from backlint.semantics.fastapi import (
    JSON_RESPONSES,
    Route,
    function_scope,
    http_methods,
    is_response_class,
    is_rpc_style_router,
    param_type,
    returns_response,
    route_of,
    route_path,
)
from backlint.semantics.names import last_name
from backlint.semantics.python import body_calls, body_statements
from backlint.semantics.sqlalchemy import session_kind
from backlint.semantics.tree import descendants
from backlint.types import FixKind

# RULES.md BKL205: the first word of the function name.
CREATE_VERBS = frozenset({"create", "add", "register"})
# Issuing a token is not creating a resource: OAuth 2.0 (RFC 6749, 5.1) answers 200.
TOKEN_WORDS = frozenset({"token", "tokens", "jwt"})
# A route that only tries a creation out creates nothing: 200 is right
# (`create_invoice_preview`, `POST /users/validate`, `/orders/dry-run`).
NO_CREATION_WORDS = frozenset(
    {"preview", "dry", "dryrun", "validate", "validation", "simulate", "estimate"}
)
# Create-or-update: the status depends on which happened, 200 is right for an
# update (`create_or_update_secret`, a body that calls `upsert_webhook(...)`).
UPSERT = re.compile(r"(?:^|_)(?:upsert|or_update|or_replace)(?:_|$)|^Upsert", re.IGNORECASE)
# Create-or-replace by the database: an insert that updates the row it
# conflicts with (SQLAlchemy's PostgreSQL/SQLite `on_conflict_do_update`,
# MySQL's `on_duplicate_key_update`, a project's `insert_on_conflict(...)`),
# and Django's `update_or_create`.
UPSERT_CALLS = frozenset(
    {"insert_on_conflict", "on_conflict_do_update", "on_duplicate_key_update", "update_or_create"}
)
# A plain creation beside such an upsert: the upsert is of another row (a
# side table's), the route still creates its resource.
SESSION_ADDS = frozenset({"add", "add_all", "bulk_save_objects"})
PLAIN_CREATES = frozenset({"create", "bulk_create", "bulk_insert_mappings"})
PLAIN_PREFIXES = ("insert_", "create_")
# Names a database session goes by when backlint cannot follow its type.
SESSION_NAMES = frozenset({"session", "db", "db_session", "dbsession", "async_session"})
_WORDS = re.compile(r"[A-Za-z][a-z]*|[0-9]+")
_PATH_PARAMS = re.compile(r"\{(\w+)")
_NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_FIRST_WORD = re.compile(r"^_*([a-z]+|[A-Z][a-z]*)")
STATUS_MODULES = frozenset({"fastapi.status", "starlette.status"})
# `Path` methods that write a file (`open` in a write mode).
WRITE_METHODS = frozenset({"open", "write_text", "write_bytes"})


def _mode(call: cst.Call, position: int) -> str | None:
    """The `mode` an `open(...)` call gives (`"r"` when it gives none)."""
    for i, arg in enumerate(call.args):
        if (arg.keyword is None and i == position) or (
            arg.keyword is not None and arg.keyword.value == "mode"
        ):
            value = arg.value
            if isinstance(value, cst.SimpleString):
                text = value.evaluated_value
                return text if isinstance(text, str) else None
            return None
    return "r"


def _fetched_by(value: cst.BaseExpression, params: set[str]) -> bool:
    """`[await] f(..., id, ...)` / `f(id=id)`: a call given a path parameter."""
    if isinstance(value, cst.Await):
        value = value.expression
    return isinstance(value, cst.Call) and any(
        isinstance(arg.value, cst.Name) and arg.value.value in params for arg in value.args
    )


def _built_from(value: cst.BaseExpression, name: str) -> bool:
    """`name`, or a call given `name` or a method call of it
    (`GroupResponse(**group.model_dump(), ...)`, `Out.model_validate(group)`)."""
    if isinstance(value, cst.Await):
        value = value.expression
    if isinstance(value, cst.Name):
        return value.value == name
    if not isinstance(value, cst.Call):
        return False
    for arg in value.args:
        part = arg.value
        if isinstance(part, cst.Call) and isinstance(part.func, cst.Attribute):
            part = part.func.value
        if isinstance(part, cst.Name) and part.value == name:
            return True
    return False


def first_word(name: str) -> str:
    """`create` for `create_user`, `createUser` and `create`; `address` for `address_book`."""
    match = _FIRST_WORD.match(name)
    return match.group(1).lower() if match else ""


class FastapiCreateWithout201(FastAPIRule):
    """A POST route that creates something but answers `200 OK`.

    What it flags:
    A FastAPI POST route (`.post(...)`, or `api_route(..., methods=["POST"])`)
    whose function name starts with the word `create`, `add` or `register`
    (`create_user`, `add_item`, `register`; not `address_lookup`) and whose
    decorator sets no `status_code`. Reported on the `def` line.

    Why:
    `201 Created` is what HTTP and the OpenAPI schema say a creation returns;
    generated clients, API gateways and caches rely on it, and FastAPI
    answers `200` unless told otherwise. The status code is also where the
    schema documents it: a dynamic `response.status_code = 201` leaves the
    schema saying 200.

    Example:
    ```python
    from fastapi import APIRouter
    from pydantic import BaseModel

    router = APIRouter()

    class UserIn(BaseModel):
        email: str

    @router.post("/users")
    async def create_user(user: UserIn) -> UserIn:
        return user
    ```

    Use instead:
    ```python
    from fastapi import APIRouter, status
    from pydantic import BaseModel

    router = APIRouter()

    class UserIn(BaseModel):
        email: str

    @router.post("/users", status_code=status.HTTP_201_CREATED)
    async def create_user(user: UserIn) -> UserIn:
        return user
    ```

    Not flagged:
    Routes that set `status_code` (any value: `202 Accepted` for queued work
    is a choice); routes that return a `Response` object (the status is
    theirs: a `Response` return annotation, a `Response(...)` or a project
    subclass of one, or a call of a project function or method declared to
    return one or, unannotated, returning one on some path, followed three
    functions deep: `return await send_request(...)` that relays an
    upstream's answer as a `StreamingResponse`) or set
    `response.status_code`; routes that create nothing (`preview`,
    `dry-run`, `validate`, `simulate` or `estimate` in the name or the path);
    create-or-update routes (`create_or_update_x`, a body calling
    `upsert_x(...)`, an `Upsert...` use-case parameter, or an upsert by the
    database: `insert_on_conflict(...)`, `.on_conflict_do_update(...)`,
    `.on_duplicate_key_update(...)`, `update_or_create(...)`,
    `session.merge(obj)`, when the route creates nothing else outright:
    no `session.add(...)`, `.create(...)`, `insert_...(...)` or
    `create_...(...)` beside it, which would make the upsert a side
    table's), which answer 200 for an update;
    `response_class=` a non-JSON response (a form that redirects); routes
    that write over the one resource there is: a file at a module-level path
    (`REGISTRATION_FILE.open("w")`, `open(CONFIG, "w")`, `write_text`),
    written by the route or by a function of its module it calls (also
    through `to_thread(save, ...)`), a replacement that answers 200 (a path
    built from the request, `UPLOADS / name`, or an append is a creation);
    routes of an RPC-style router: the module's routes on that router are
    all POSTs, at least three, and another names a non-creating verb in its
    path (`POST .../unregister`, `/set_id`, `/list`, `/delete`: dstack's
    server and gateway APIs), an API whose every call answers 200; routes
    issuing tokens (`create_access_token`: OAuth 2.0 answers 200); routes
    that link existing objects to an existing parent and answer the parent
    (`add_<x>_to_<parent>`, such as `add_users_to_group` at
    `POST /groups/{id}/users/add`, whose every return is the `group`
    variable or built from it, `GroupResponse(**group.model_dump())`, that
    variable bound only to what a call given a path parameter returns, and
    no `session.add(...)`, `.create(...)`, `insert_...(...)` or
    `create_...(...)` in the route: a set update of the parent; the verb
    `add` alone decides nothing, and `add_item_to_cart` returning the new
    item is still flagged); other
    verbs (`address_lookup`, `api_create_x`: RULES.md takes the first word)
    and other methods. Test files and migrations are not linted.
    What it does not see: a create-or-replace the code does not name and
    that writes elsewhere than a fixed file (a row deleted then inserted);
    an RPC-style API spread over routers of several modules is judged one
    module at a time, and a router with a `GET` among its routes is REST.

    Fix:
    Adds `status_code=201` to the decorator (`status.HTTP_201_CREATED` when
    the module imports FastAPI's `status`). Unsafe: clients that expect 200
    see another status.
    """

    code = "BKL205"
    name = "fastapi-create-without-201"
    message = "POST route `{function}` creates a resource but answers 200: add `status_code=201`"
    markers = ("post", "POST")
    fix_kind = FixKind.UNSAFE

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        name = node.name.value
        words = set(name.lower().split("_"))
        if first_word(name) not in CREATE_VERBS or TOKEN_WORDS & words:
            return
        if NO_CREATION_WORDS & words or UPSERT.search(name):
            return
        scope = self.ctx.scope
        route = route_of(self.ctx, node, scope)
        if route is None or http_methods(route) != {"POST"}:
            return
        if route.keyword("status_code") is not None or self._exempt(route, scope):
            return
        if self._tries_only(route) or self._upserts(node, scope):
            return
        if is_rpc_style_router(self.ctx, route) or self._overwrites_fixed_file(node):
            return
        if self._answers_parent(node, route, scope):
            return
        fixed = node.with_changes(
            decorators=[
                d.with_changes(decorator=self._with_status(route.decorator, scope))
                if d.decorator is route.decorator
                else d
                for d in node.decorators
            ]
        )
        self.report(node, replacement=fixed, function=node.name.value)

    def _exempt(self, route: Route, scope: Scope) -> bool:
        response_class = route.keyword("response_class")
        if response_class is not None:
            name = self.ctx.qualified_name(response_class, scope)
            if name is None or name not in JSON_RESPONSES:
                return True
        node = route.function
        return returns_response(self.ctx, node, scope) or self._sets_status(node, scope)

    @staticmethod
    def _tries_only(route: Route) -> bool:
        """The path says the creation is only tried (`/orders/preview`, `/dry-run`)."""
        text = route_path(route)
        words = {w.lower() for w in _WORDS.findall(text)} if text else set()
        return bool(NO_CREATION_WORDS & words)

    def _answers_parent(self, node: cst.FunctionDef, route: Route, scope: Scope) -> bool:
        """`add_<x>_to_<parent>` linking existing objects to an existing parent
        and answering the parent (open-webui's `add_user_to_group` at
        `POST /id/{id}/users/add`, `add_files_to_knowledge_batch`): every
        value the route returns is the variable named after the parent
        (`group`, `knowledge`) or is built from it (`GroupResponse(**group.
        model_dump())`), that variable is only bound to what a call given a
        path parameter returns (the parent the URL names), and the route makes
        no row of its own (`session.add(...)`, `.create(...)`,
        `insert_...(...)`, `create_...(...)`): a set update of the parent,
        which answers 200. The verb `add` alone decides nothing."""
        words = node.name.value.lower().split("_")
        if "to" not in words[2:-1]:
            return False
        parent = words[words.index("to", 2) + 1]
        text = route_path(route)
        params = set(_PATH_PARAMS.findall(text)) if text else set()
        if not params:
            return False
        inner = function_scope(node, scope)
        bound = False
        returned = False
        for child in descendants(node.body, prune=_NESTED_SCOPES):
            if isinstance(child, cst.Assign | cst.AnnAssign | cst.AugAssign):
                targets = (
                    [t.target for t in child.targets]
                    if isinstance(child, cst.Assign)
                    else [child.target]
                )
                if any(isinstance(t, cst.Name) and t.value == parent for t in targets):
                    if not (
                        isinstance(child, cst.Assign)
                        and len(targets) == 1
                        and _fetched_by(child.value, params)
                    ):
                        return False
                    bound = True
            elif isinstance(child, cst.Return) and child.value is not None:
                if not _built_from(child.value, parent):
                    return False
                returned = True
            elif isinstance(child, cst.Call) and self._creates_row(child, inner):
                return False
        return bound and returned

    def _creates_row(self, call: cst.Call, scope: Scope) -> bool:
        """`session.add(...)`, `.create(...)`, `insert_...(...)`, `create_...(...)`."""
        func = call.func
        callee = last_name(func)
        if callee is None:
            return False
        if callee in PLAIN_CREATES or callee.startswith(PLAIN_PREFIXES):
            return True
        return (
            callee in SESSION_ADDS
            and isinstance(func, cst.Attribute)
            and self._is_session(func.value, scope)
        )

    def _overwrites_fixed_file(self, node: cst.FunctionDef, depth: int = 0) -> bool:
        """The route, or a function of this module it calls (directly or
        through `to_thread(save, ...)`), writes a file whose path is a
        module-level name (`REGISTRATION_FILE.open("w")`, `open(CONFIG, "w")`,
        `SETTINGS_PATH.write_text(...)`): the one resource there is, written
        over whole, a replacement whose answer is 200."""
        own = {p.name.value for p in (*node.params.params, *node.params.kwonly_params)}
        for call in body_calls(self.ctx, node):
            if self._writes_module_path(call, own):
                return True
            if depth >= 2:
                continue
            for callee in (call.func, *(a.value for a in call.args[:1])):
                helper = self._module_function(callee)
                if (
                    helper is not None
                    and helper is not node
                    and self._overwrites_fixed_file(helper, depth + 1)
                ):
                    return True
        return False

    def _writes_module_path(self, call: cst.Call, params: set[str]) -> bool:
        func = call.func
        path: cst.BaseExpression | None
        if isinstance(func, cst.Attribute) and func.attr.value in WRITE_METHODS:
            path = func.value
            mode = _mode(call, 0) if func.attr.value == "open" else "w"
        elif (
            isinstance(func, cst.Name)
            and self.ctx.qualified_name(func, self.ctx.module_scope) == "builtins.open"
        ):
            path = call.args[0].value if call.args else None
            mode = _mode(call, 1)
        else:
            return False
        if mode is None or not mode.startswith("w") or not isinstance(path, cst.Name):
            return False
        if path.value in params:
            return False
        # A module-level name (defined here or imported): one fixed path.
        owner, bindings = self.ctx.bindings(path.value, self.ctx.module_scope)
        return owner is self.ctx.module_scope and any(
            isinstance(b, Assigned | Imported) for b in bindings
        )

    def _module_function(self, expr: cst.BaseExpression) -> cst.FunctionDef | None:
        """The top-level def of this module a name calls (or hands to a thread)."""
        if not isinstance(expr, cst.Name):
            return None
        for stmt in self.ctx.tree.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == expr.value:
                return stmt
        return None

    def _upserts(self, node: cst.FunctionDef, scope: Scope) -> bool:
        """The body creates or updates: it calls an `upsert_*`/`*_or_update`
        function or method, or a parameter is an `Upsert...` use case."""
        inner = function_scope(node, scope)
        by_database = False  # an upsert by the database
        plain = False  # a plain creation beside it
        for call in body_calls(self.ctx, node):
            func = call.func
            callee = last_name(func)
            if callee is None:
                continue
            if UPSERT.search(callee):
                return True
            if callee in UPSERT_CALLS:
                by_database = True
            elif isinstance(func, cst.Attribute) and self._is_session(func.value, inner):
                if callee == "merge" and len(call.args) == 1:
                    by_database = True
                elif callee in SESSION_ADDS:
                    plain = True
            elif callee in PLAIN_CREATES or callee.startswith(PLAIN_PREFIXES):
                plain = True
        if by_database and not plain:
            return True
        for param in (*node.params.params, *node.params.kwonly_params):
            declared = param_type(self.ctx, param, scope).annotation
            if declared is not None and UPSERT.search(declared.rpartition(".")[2]):
                return True
        return False

    def _is_session(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """A SQLAlchemy session (`session.merge(obj)` inserts or updates by
        primary key), or a name a session goes by (`db`, `session`)."""
        if session_kind(self.ctx, expr, scope) is not None:
            return True
        name = expr.attr.value if isinstance(expr, cst.Attribute) else None
        if isinstance(expr, cst.Name):
            name = expr.value
        return name is not None and name.lstrip("_").lower() in SESSION_NAMES

    def _sets_status(self, node: cst.FunctionDef, scope: Scope) -> bool:
        """`response.status_code = ...` on a `Response` parameter."""
        names = {
            p.name.value
            for p in (*node.params.params, *node.params.kwonly_params)
            if is_response_class(param_type(self.ctx, p, scope).annotation, self.ctx.index)
        }
        if not names:
            return False
        for stmt in body_statements(node):
            if isinstance(stmt, cst.Assign):
                for target in stmt.targets:
                    t = target.target
                    if (
                        isinstance(t, cst.Attribute)
                        and t.attr.value == "status_code"
                        and isinstance(t.value, cst.Name)
                        and t.value.value in names
                    ):
                        return True
        return False

    def _with_status(self, call: cst.Call, scope: Scope) -> cst.Call:
        """The decorator call with `status_code=201` appended, in its layout."""
        value: cst.BaseExpression = cst.Integer("201")
        status = self.ctx.qualified_name(cst.Name("status"), scope)
        if status in STATUS_MODULES:
            value = cst.Attribute(cst.Name("status"), cst.Name("HTTP_201_CREATED"))
        new = cst.Arg(
            value=value,
            keyword=cst.Name("status_code"),
            equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""),
                whitespace_after=cst.SimpleWhitespace(""),
            ),
        )
        args = list(call.args)
        if not args:
            return call.with_changes(args=[new])
        last = args[-1]
        if isinstance(last.comma, cst.Comma):
            # A trailing comma: the new argument takes it, and the old last one
            # takes the separator used between arguments (a new line, indented).
            separator = args[-2].comma if len(args) > 1 else None
            if not isinstance(separator, cst.Comma):
                separator = cst.Comma(whitespace_after=call.whitespace_before_args)
            args[-1] = last.with_changes(comma=separator)
            args.append(new.with_changes(comma=last.comma))
        else:
            args[-1] = last.with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            )
            args.append(new)
        return call.with_changes(args=args)
