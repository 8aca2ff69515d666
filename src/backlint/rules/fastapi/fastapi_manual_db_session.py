"""BKL204 fastapi-manual-db-session."""

from __future__ import annotations

import libcst as cst

from backlint.rules.fastapi import FastAPIRule
from backlint.semantics.context import Scope
from backlint.semantics.fastapi import (
    function_scope,
    is_response_value,
    param_type,
    parameters,
    route_of,
)
from backlint.semantics.python import body_calls
from backlint.semantics.sqlalchemy import (
    ORM_PACKAGES,
    SESSION_CLASSES,
    new_session,
    yields_session,
)
from backlint.semantics.tree import descendants

_NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


class FastapiManualDbSession(FastAPIRule):
    """A route that creates its own database session instead of receiving one through `Depends()`.

    What it flags:
    In the body of a FastAPI route, a call that creates a SQLAlchemy or
    SQLModel session: `Session(engine)`, `AsyncSession(engine)`, a session
    factory (`SessionLocal()` where `SessionLocal = sessionmaker(...)`,
    `async_session()` from `async_sessionmaker(...)`, a `scoped_session`),
    as a call or in `with SessionLocal() as db`, and project context managers
    that yield a session (`with session_scope() as db`, `async with
    get_async_db() as db`), known from what they yield or, when that comes
    from a package outside the project, from their return annotation
    (`-> AsyncGenerator[AsyncSession, None]`). Factories and context
    managers are resolved across modules. Reported on the call.

    Why:
    A session made in the route escapes the request's dependency graph:
    tests cannot override it (`app.dependency_overrides`), other dependencies
    of the same request (the current user, permissions) run in another
    session and transaction, and a route that forgets `close()` or raises
    before it leaks a pooled connection until the pool is exhausted.

    Example:
    ```python
    from fastapi import APIRouter
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    engine = create_engine("postgresql://localhost/app")
    SessionLocal = sessionmaker(bind=engine)
    router = APIRouter()

    @router.get("/users/{user_id}")
    def read_user(user_id: int) -> UserOut:
        with SessionLocal() as db:
            return db.get(User, user_id)
    ```

    Use instead:
    ```python
    from typing import Annotated

    from fastapi import APIRouter, Depends
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    engine = create_engine("postgresql://localhost/app")
    SessionLocal = sessionmaker(bind=engine)
    router = APIRouter()

    def get_db():
        with SessionLocal() as db:
            yield db

    @router.get("/users/{user_id}")
    def read_user(user_id: int, db: Annotated[Session, Depends(get_db)]) -> UserOut:
        return db.get(User, user_id)
    ```

    Not flagged:
    Routes that already receive a session through a dependency: one they make
    besides is a second transaction on purpose (an audit record that must
    commit whatever happens, batches that release the connection in between).
    A session opened in a `with` block that ends before the route goes on to
    await other work or to return a `Response` (a `StreamingResponse`): the
    scope is narrowed on purpose, so that no pooled connection is held through
    a long build, an upstream call or a stream, which a `Depends()` session
    would be. Dependency functions (they are where sessions are made);
    sessions made in a nested function of the route (a background job needs
    its own session, see BKL208); code outside routes; factories backlint
    cannot resolve (`request.state.session_maker()`, a factory passed in, a
    method of an object such as `db.session_context()`): missed alarm rather
    than guess. Test files and migrations are not linted.

    Fix:
    None: the route needs a session parameter with a dependency.
    """

    code = "BKL204"
    name = "fastapi-manual-db-session"
    message = (
        "route `{function}` creates its own database session (`{call}`): receive it "
        "through a `Depends()` dependency that yields it"
    )
    needs = ORM_PACKAGES
    markers = ("@",)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        scope = self.ctx.scope
        if route_of(self.ctx, node, scope) is None:
            return
        inner = function_scope(node, scope)
        if any(self._is_session(param, scope) for param in parameters(node)):
            return  # already given one: another is a second transaction on purpose
        for child in body_calls(self.ctx, node):
            if new_session(self.ctx, child, inner) is None:
                continue
            if self._released_early(child, node, inner):
                continue
            shown = self.ctx.tree.code_for_node(child.func)
            self.report(child, function=node.name.value, call=f"{shown}(...)")

    def _is_session(self, param: cst.Param, scope: Scope) -> bool:
        """`db: Session = Depends(get_db)`, `session: SessionDep`, `db=Depends(get_db)`."""
        declared = param_type(self.ctx, param, scope)
        if declared.annotation in SESSION_CLASSES:
            return True
        return declared.dependency is not None and yields_session(
            self.ctx.index, declared.dependency
        )

    def _released_early(self, call: cst.Call, node: cst.FunctionDef, scope: Scope) -> bool:
        """The session is a `with` target whose block ends before the route goes
        on to await other work or to return a streamed or other `Response`: the
        scope is narrowed on purpose, so that no pooled connection is held
        through a long build, an upstream call or a stream (a `Depends()`
        session would be held until the response is done)."""
        ancestors = list(self.ctx.ancestors(call))
        statement: cst.CSTNode | None = next(
            (
                a
                for below, a in zip([call, *ancestors], ancestors, strict=False)
                if isinstance(a, cst.With) and isinstance(below, cst.WithItem)
            ),
            None,
        )
        if statement is None:
            return False
        for ancestor in self.ctx.ancestors(statement):
            if ancestor is node:
                return False
            if not isinstance(ancestor, cst.IndentedBlock):
                statement = ancestor
                continue
            body: list[cst.CSTNode] = list(ancestor.body)
            if statement in body and any(
                self._goes_on(later, scope) for later in body[body.index(statement) + 1 :]
            ):
                return True
            statement = ancestor
        return False

    def _goes_on(self, statement: cst.CSTNode, scope: Scope) -> bool:
        """`statement` awaits something or returns a `Response` object."""
        for child in descendants(statement, prune=_NESTED_SCOPES):
            if isinstance(child, cst.Await):
                return True
            if (
                isinstance(child, cst.Return)
                and child.value is not None
                and is_response_value(self.ctx, child.value, scope)
            ):
                return True
        return False
