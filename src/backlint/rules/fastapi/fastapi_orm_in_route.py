"""BKL206 fastapi-orm-in-route (strict)."""

from __future__ import annotations

import libcst as cst

from backlint.rules.fastapi import FastAPIRule
from backlint.semantics.context import Scope
from backlint.semantics.fastapi import function_scope, route_of
from backlint.semantics.python import body_calls
from backlint.semantics.sqlalchemy import ORM_PACKAGES, SELECT_FUNCS, issues_query

TEXT_FUNCS = frozenset(
    {"sqlalchemy.text", "sqlalchemy.sql.text", "sqlalchemy.sql.expression.text", "sqlmodel.text"}
)


class FastapiOrmInRoute(FastAPIRule):
    """ORM queries written in a route body instead of a service or repository.

    What it flags:
    In the body of a FastAPI route, a call that issues a query: `query`,
    `execute`, `scalars`, `scalar`, `get` (and SQLModel's `exec`, `stream`)
    on a SQLAlchemy/SQLModel session, and Django `Model.objects...` queries.
    The session is known from its origin (a `Depends()` dependency, an
    annotation, a factory) or from the statement (`select(...)`, a mapped
    class). Reported on each call. Strict: runs only when selected.

    Why:
    A route that builds its own queries mixes HTTP with data access: the
    same query gets copied into the next route with a slightly different
    filter, it cannot be tested without an HTTP client, and a change of
    schema or loading strategy means touching every route. A service or
    repository function gives the query a name, one place and unit tests.

    Example:
    ```python
    from fastapi import APIRouter, Depends
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    router = APIRouter()

    @router.get("/users/active")
    def active_users(db: Session = Depends(get_db)) -> list[UserOut]:
        return db.scalars(select(User).where(User.active)).all()
    ```

    Use instead:
    ```python
    from fastapi import APIRouter, Depends
    from sqlalchemy.orm import Session

    router = APIRouter()

    @router.get("/users/active")
    def active_users(db: Session = Depends(get_db)) -> list[UserOut]:
        return users_service.active(db)
    ```

    Not flagged:
    Calls to service or repository functions and methods; unit-of-work calls
    (`add`, `commit`, `refresh`, `delete`, `rollback`); health-check probes
    (`execute(select(1))`, `execute(text("SELECT 1"))`); queries in
    dependencies, nested functions and non-route code; calls on objects whose
    type backlint cannot tell, with arguments that do not tell either
    (`repo.session.execute(stmt)` with `stmt` from elsewhere): missed alarm
    rather than guess. Test files and migrations are not linted.

    Fix:
    None: the query moves to a function of its own.
    """

    code = "BKL206"
    name = "fastapi-orm-in-route"
    group = "strict"
    message = (
        "route `{function}` queries the database directly (`{call}`): move the query into a "
        "service or repository function"
    )
    needs = ORM_PACKAGES | {"django"}
    markers = ("@",)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        scope = self.ctx.scope
        if route_of(self.ctx, node, scope) is None:
            return
        inner = function_scope(node, scope)
        django = self.ctx.index.uses("django")
        for child in body_calls(self.ctx, node):
            if not isinstance(child.func, cst.Attribute):
                continue
            awaited = isinstance(self.ctx.parent(child), cst.Await)
            if self._is_probe(child, inner):
                continue
            if issues_query(self.ctx, child, inner, awaited) or (
                django and self._django_manager_call(child, inner)
            ):
                shown = self.ctx.tree.code_for_node(child.func)
                self.report(child, function=node.name.value, call=f"{shown}(...)")

    def _is_probe(self, call: cst.Call, scope: Scope) -> bool:
        """`session.execute(select(1))`, `execute(text("SELECT 1"))`: a health
        check's round trip, no data access to move anywhere."""
        if not call.args or not isinstance(call.args[0].value, cst.Call):
            return False
        statement = call.args[0].value
        name = self.ctx.qualified_name(statement.func, scope)
        name = self.ctx.index.canonical(name) if name else None
        args = [a.value for a in statement.args]
        if name in SELECT_FUNCS:
            return bool(args) and all(isinstance(a, cst.Integer | cst.SimpleString) for a in args)
        if name in TEXT_FUNCS and len(args) == 1 and isinstance(args[0], cst.SimpleString):
            text = args[0].evaluated_value
            return isinstance(text, str) and text.strip().rstrip(";").upper() == "SELECT 1"
        return False

    def _django_manager_call(self, call: cst.Call, scope: Scope) -> bool:
        """`Model.objects.<method>(...)`: the first call of a manager chain."""
        from backlint.semantics.django import querysets

        func = call.func
        assert isinstance(func, cst.Attribute)
        qs = querysets(self.ctx).queryset(func.value, scope)
        return qs is not None and qs.is_manager
