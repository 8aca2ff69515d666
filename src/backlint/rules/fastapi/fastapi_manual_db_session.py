"""BKL204 fastapi-manual-db-session."""

from __future__ import annotations

import libcst as cst

from backlint.rules.fastapi import FastAPIRule
from backlint.semantics.fastapi import function_scope, route_of
from backlint.semantics.python import body_calls
from backlint.semantics.sqlalchemy import ORM_PACKAGES, new_session


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
    Dependency functions (they are where sessions are made); sessions made
    in a nested function of the route (a background job needs its own
    session, see BKL208); code outside routes; factories backlint cannot
    resolve (`request.state.session_maker()`, a factory passed in, a method
    of an object such as `db.session_context()`): missed alarm rather than
    guess. Test files and migrations are not linted.

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
        for child in body_calls(self.ctx, node):
            if new_session(self.ctx, child, inner) is not None:
                shown = self.ctx.tree.code_for_node(child.func)
                self.report(child, function=node.name.value, call=f"{shown}(...)")
