"""BKL209 fastapi-dependency-without-cleanup."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst

from backlint.rules.fastapi import FastAPIRule
from backlint.semantics.context import Scope, nested_suites
from backlint.semantics.fastapi import function_qualname, is_dependency
from backlint.semantics.sqlalchemy import yields_session

# Methods that release a resource: `db.close()`, `await client.aclose()`,
# `engine.dispose()`, `pool.release(conn)`.
RELEASE_METHODS = frozenset(
    {"close", "aclose", "dispose", "release", "disconnect", "shutdown", "terminate", "quit"}
)


@dataclass(slots=True)
class _Guard:
    """What protects code inside a `try` or `with`: every resource (a
    `finally`), or the resources named (released in an `except`, or managed
    by the `with`)."""

    everything: bool = False
    names: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Scan:
    acquired: set[str] = field(default_factory=set)
    # Resources exposed by a `yield` that nothing protects for them.
    exposed: set[str] = field(default_factory=set)
    releases: list[tuple[cst.Call, str]] = field(default_factory=list)


class FastapiDependencyWithoutCleanup(FastAPIRule):
    """A `yield` dependency whose cleanup after `yield` is skipped when the route raises.

    What it flags:
    In a FastAPI dependency (a function used in `Depends()` anywhere in the
    project) or a generator that yields a SQLAlchemy session, a resource
    acquired before `yield` (`db = SessionLocal()`, `conn = await
    pool.acquire()`, `client = httpx.AsyncClient()`) and released after it
    (`db.close()`, `await client.aclose()`, `pool.release(conn)`,
    `engine.dispose()`), when the `yield` is neither in a `try` with a
    `finally` nor in a `with` block managing the resource. Reported on the
    release call.

    Why:
    When the route (or a later dependency) raises, FastAPI throws the
    exception into the generator at the `yield`: the code after it never
    runs. Every failing request then leaks a database connection, and after
    `pool_size + max_overflow` failures the application hangs waiting for a
    connection that never comes back.

    Example:
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("postgresql://localhost/app"))
    app = FastAPI()

    def get_db():
        db = SessionLocal()
        yield db
        db.close()

    @app.get("/health")
    def health(db: Session = Depends(get_db)) -> dict[str, bool]:
        return {"ok": db.is_active}
    ```

    Use instead:
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("postgresql://localhost/app"))
    app = FastAPI()

    def get_db():
        db = SessionLocal()
        try:
            yield db
        finally:
            db.close()

    @app.get("/health")
    def health(db: Session = Depends(get_db)) -> dict[str, bool]:
        return {"ok": db.is_active}
    ```

    Not flagged:
    `try: yield db finally: db.close()`; `with SessionLocal() as db: yield
    db` (and `async with`, `with closing(db)`); a release inside an `except`
    of the `try` around the `yield` (it runs when the route raises);
    resources received as parameters (their owner releases them);
    dependencies that never release (a leak of another kind); generators that
    are neither dependencies nor yield a session (`lifespan` handlers).
    Test files and migrations are not linted.

    Fix:
    None: move the release into a `finally` (or a `with` block).
    """

    code = "BKL209"
    name = "fastapi-dependency-without-cleanup"
    message = (
        "`{call}` after `yield` in dependency `{function}` is skipped when the route raises: "
        "put the `yield` in `try:` and the release in `finally:` (or use `with`)"
    )
    markers = ("yield",)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        scope = self.ctx.scope
        if not self._is_candidate(node, scope):
            return
        scan = _Scan()
        self._block(node.body, [], scan)
        reported: set[str] = set()
        for call, name in scan.releases:
            if name in scan.exposed and name not in reported:
                reported.add(name)
                shown = self.ctx.tree.code_for_node(call)
                self.report(call, call=shown, function=node.name.value)

    def _is_candidate(self, node: cst.FunctionDef, scope: Scope) -> bool:
        if is_dependency(self.ctx, node, scope):
            return True
        qualname = function_qualname(self.ctx, node, scope)
        return qualname is not None and yields_session(self.ctx.index, qualname)

    # The body, in source order -----------------------------------------------------

    def _block(self, suite: cst.BaseSuite, guards: list[_Guard], scan: _Scan) -> None:
        if isinstance(suite, cst.SimpleStatementSuite):
            for small in suite.body:
                self._small(small, guards, scan)
            return
        for stmt in suite.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    self._small(small, guards, scan)
            elif isinstance(stmt, cst.FunctionDef | cst.ClassDef):
                continue
            elif isinstance(stmt, cst.Try):
                guard = _Guard(everything=stmt.finalbody is not None)
                for handler in stmt.handlers:
                    guard.names |= _released_in(handler.body)
                self._block(stmt.body, [*guards, guard], scan)
                for handler in stmt.handlers:
                    self._block(handler.body, guards, scan)
                if stmt.orelse is not None:
                    self._block(stmt.orelse.body, [*guards, guard], scan)
                if stmt.finalbody is not None:
                    self._block(stmt.finalbody.body, guards, scan)
            elif isinstance(stmt, cst.With):
                guard = _Guard()
                for item in stmt.items:
                    guard.names |= _managed(item)
                self._block(stmt.body, [*guards, guard], scan)
            elif isinstance(stmt, cst.BaseCompoundStatement):
                for suite_ in nested_suites(stmt):
                    self._block(suite_, guards, scan)

    def _small(self, small: cst.BaseSmallStatement, guards: list[_Guard], scan: _Scan) -> None:
        if isinstance(small, cst.Assign) and _yielded(small.value) is None:
            value = small.value.expression if isinstance(small.value, cst.Await) else small.value
            if isinstance(value, cst.Call):
                for target in small.targets:
                    if isinstance(target.target, cst.Name):
                        scan.acquired.add(target.target.value)
            return
        if not isinstance(small, cst.Expr | cst.Assign):
            return
        value = small.value
        if _yielded(value) is not None:
            if any(g.everything for g in guards):
                return
            protected = set().union(*(g.names for g in guards)) if guards else set()
            scan.exposed |= scan.acquired - protected
            return
        if isinstance(small, cst.Expr):
            released = _release(value)
            if released is not None and released[1] in scan.acquired:
                scan.releases.append(released)


def _yielded(value: cst.BaseExpression) -> cst.Yield | None:
    if isinstance(value, cst.Await):
        value = value.expression
    return value if isinstance(value, cst.Yield) else None


def _release(value: cst.BaseExpression) -> tuple[cst.Call, str] | None:
    """`db.close()` / `await db.close()` / `pool.release(conn)`: the call and the resource."""
    if isinstance(value, cst.Await):
        value = value.expression
    if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)):
        return None
    method = value.func.attr.value
    if method not in RELEASE_METHODS:
        return None
    if value.func.attr.value == "release" and value.args:
        arg = value.args[0].value
        if isinstance(arg, cst.Name):
            return value, arg.value
    receiver = value.func.value
    if isinstance(receiver, cst.Name):
        return value, receiver.value
    return None


def _released_in(suite: cst.BaseSuite) -> set[str]:
    """Resources released by the simple statements of a block (an `except` body)."""
    names: set[str] = set()
    lines: Sequence[cst.CSTNode] = suite.body if isinstance(suite, cst.IndentedBlock) else [suite]
    for line in lines:
        if isinstance(line, cst.SimpleStatementLine | cst.SimpleStatementSuite):
            for small in line.body:
                released = _release(small.value) if isinstance(small, cst.Expr) else None
                if released is not None:
                    names.add(released[1])
    return names


def _managed(item: cst.WithItem) -> set[str]:
    """Resources a `with` item manages: its target, `with db:`, `with closing(db):`."""
    names: set[str] = set()
    if item.asname is not None and isinstance(item.asname.name, cst.Name):
        names.add(item.asname.name.value)
    expr = item.item
    if isinstance(expr, cst.Name):
        names.add(expr.value)
    elif isinstance(expr, cst.Call):
        for arg in expr.args:
            if isinstance(arg.value, cst.Name):
                names.add(arg.value.value)
    return names
