"""BKL102 sqlalchemy-sync-session-in-async."""

from __future__ import annotations

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.sqlalchemy import IO_METHODS, session_kind


class SqlalchemySyncSessionInAsync(Rule):
    """A synchronous SQLAlchemy session, engine or connection used in an async function.

    What it flags:
    Inside an `async def`, a call that does I/O (`query execute scalars scalar
    get commit flush refresh merge delete connect begin`) on a synchronous
    `Session`, `scoped_session`, `Engine` or `Connection`. The object is known
    to be synchronous from its annotation (`db: Session`, or an alias such as
    `SessionDep = Annotated[Session, Depends(get_db)]` from another module),
    from how it was made (`Session(engine)`, `SessionLocal()` with
    `SessionLocal = sessionmaker(...)`, `create_engine()`, `engine.connect()`),
    from the FastAPI dependency that yields it (`Depends(get_db)`), or because
    it is flask-sqlalchemy's `db.session`.

    Why:
    A synchronous driver call inside a coroutine blocks the event loop for the
    whole round trip to the database: under load every request on the worker
    stalls, and timeouts cascade.

    Example:
    ```python
    from fastapi import APIRouter, Depends
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session, sessionmaker

    engine = create_engine("postgresql://localhost/app")
    SessionLocal = sessionmaker(bind=engine)
    router = APIRouter()

    def get_db():
        db = SessionLocal()
        try:
            yield db
        finally:
            db.close()

    @router.get("/users/{user_id}")
    async def read_user(user_id: int, db: Session = Depends(get_db)) -> dict[str, int]:
        user = db.execute(select(User).where(User.id == user_id)).scalar_one()
        return {"id": user.id}
    ```

    Use instead:
    ```python
    from fastapi import APIRouter, Depends
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

    engine = create_async_engine("postgresql+asyncpg://localhost/app")
    SessionLocal = async_sessionmaker(engine)
    router = APIRouter()

    async def get_db():
        async with SessionLocal() as db:
            yield db

    @router.get("/users/{user_id}")
    async def read_user(user_id: int, db: AsyncSession = Depends(get_db)) -> dict[str, int]:
        user = (await db.execute(select(User).where(User.id == user_id))).scalar_one()
        return {"id": user.id}
    ```

    Not flagged:
    `AsyncSession`, `async_sessionmaker` and `create_async_engine` objects;
    `session.add()`, `add_all()` and `expunge()` (no I/O); code in a nested
    `def` or `lambda` (such as a callable handed to `run_in_threadpool`); a
    session whose origin backlint cannot follow (a parameter with no
    annotation, an object from an unknown library): missed alarm rather than
    guess. An awaited call (`await session.execute(...)`) does not block, and
    a name the function awaits calls on is an `AsyncSession` in fact whatever
    its annotation says (`session: Session` written loosely for an async one):
    none of its calls are flagged. A plain `def` route is fine: FastAPI runs
    it in a thread pool.

    Fix:
    None: moving to `AsyncSession` changes the driver and every call site.
    Alternatively make the route a plain `def`.
    """

    code = "BKL102"
    name = "sqlalchemy-sync-session-in-async"
    message = (
        "`.{method}()` on a synchronous SQLAlchemy session blocks the event loop in an "
        "async function: use an `AsyncSession` and `await`, or make the function sync"
    )
    frameworks = frozenset({"sqlalchemy", "sqlmodel", "flask_sqlalchemy"})
    markers = ("async ",)
    only_in_async = True

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in IO_METHODS:
            return
        if isinstance(self.ctx.parent(node), cst.Await):
            return  # an awaited call does not block: the object is async in fact
        if session_kind(self.ctx, func.value) == "sync":
            self.report(node, method=func.attr.value)
