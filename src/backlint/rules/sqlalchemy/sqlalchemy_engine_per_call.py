"""BKL503 sqlalchemy-engine-per-call."""

from __future__ import annotations

from typing import Any

import libcst as cst

from backlint.rules.sqlalchemy import SQLAlchemyRule
from backlint.semantics.context import FileContext, Scope, ScopeKind
from backlint.semantics.fastapi import is_dependency, is_lifespan_handler, is_middleware, route_of
from backlint.semantics.sqlalchemy import ASYNC_FACTORY_CALLS, SYNC_FACTORY_CALLS

ENGINE_FACTORIES = SYNC_FACTORY_CALLS | ASYNC_FACTORY_CALLS
# Decorators that make a factory return the same object on every call.
CACHE_DECORATORS = frozenset(
    {
        "functools.lru_cache",
        "functools.cache",
        "async_lru.alru_cache",
        "cachetools.cached",
        "cachetools.func.lru_cache",
        "cachetools.func.ttl_cache",
    }
)


class SqlalchemyEnginePerCall(SQLAlchemyRule):
    """`create_engine()` called in code that runs per request: a new pool each time.

    What it flags:
    `create_engine(...)` / `create_async_engine(...)` (SQLAlchemy, SQLModel)
    called inside a FastAPI route, a dependency (a function used in
    `Depends()` anywhere in the project, or the `__init__`/`__call__` of a
    class dependency), HTTP middleware (`@app.middleware("http")`,
    `BaseHTTPMiddleware.dispatch`), or a module-level function of the same
    module that one of those calls. Reported on the call.

    Why:
    An engine owns a connection pool. Creating one per request opens a new
    database connection (TCP, TLS, authentication) every time, never reuses
    it, and leaves the old pools to the garbage collector: latency goes up,
    and under load the database runs out of connections.

    Example:
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    app = FastAPI()

    def get_db():
        engine = create_engine("postgresql://localhost/app")
        with Session(engine) as db:
            yield db

    @app.get("/health")
    def health(db: Session = Depends(get_db)) -> dict[str, bool]:
        return {"ok": db.is_active}
    ```

    Use instead:
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine("postgresql://localhost/app")
    app = FastAPI()

    def get_db():
        with Session(engine) as db:
            yield db

    @app.get("/health")
    def health(db: Session = Depends(get_db)) -> dict[str, bool]:
        return {"ok": db.is_active}
    ```

    Not flagged:
    Module level; `lifespan` functions and startup handlers; factories
    decorated with `@lru_cache`/`@cache`; engines stored for reuse (assigned
    to a `global` name or into a dict, or to an attribute under an `if`, the
    lazy-singleton idiom); functions that are not known to run per request
    (helpers of other modules are not followed: missed alarm).
    Test files and migrations are not linted.

    Fix:
    None: create the engine once (module level, lifespan, or a cached
    factory) and share it.
    """

    code = "BKL503"
    name = "sqlalchemy-engine-per-call"
    message = (
        "`{call}()` in {where} builds a new connection pool on every request: create the "
        "engine once (module level, lifespan, or an `@lru_cache` factory) and reuse it"
    )
    markers = ("create_engine", "create_async_engine")

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        self._kinds: dict[int, str | None] = {}  # id(def) -> "route `f`"..., or None
        # Module-level helpers creating engines, and where per-request code calls them.
        self._helpers: dict[str, list[tuple[cst.Call, str]]] = {}
        self._called: dict[str, str] = {}

    def visit_Call(self, node: cst.Call) -> None:
        functions = self._enclosing_functions()
        if not functions:
            return
        name = self.ctx.qualified_name(node.func)
        shown = name.rsplit(".", 1)[-1] if name else ""
        if name is None or self.ctx.index.canonical(name) not in ENGINE_FACTORIES:
            if isinstance(node.func, cst.Name):
                where = self._per_request(functions)
                if where is not None:
                    self._called.setdefault(node.func.value, where)
            return
        if self._stored(node) or any(self._cached(fn, scope) for fn, scope in functions):
            return
        where = self._per_request(functions)
        if where is not None:
            self.report(node, call=shown, where=where)
            return
        outermost, scope = functions[-1]
        module = scope.parent
        if (
            module is not None
            and module.kind is ScopeKind.MODULE
            and not is_lifespan_handler(self.ctx, outermost, module)
        ):
            self._helpers.setdefault(outermost.name.value, []).append((node, shown))

    def leave_Module(self, node: cst.Module) -> None:
        for helper, calls in self._helpers.items():
            where = self._called.get(helper)
            if where is None:
                continue
            for call, shown in calls:
                self.report(call, call=shown, where=f"`{helper}`, called from {where}")

    # Context -----------------------------------------------------------------------

    def _enclosing_functions(self) -> list[tuple[cst.FunctionDef, Scope]]:
        """Enclosing defs, innermost first, with the scope of each body."""
        out: list[tuple[cst.FunctionDef, Scope]] = []
        scope: Scope | None = self.ctx.scope
        while scope is not None:
            if scope.kind is ScopeKind.FUNCTION and isinstance(scope.node, cst.FunctionDef):
                out.append((scope.node, scope))
            scope = scope.parent
        return out

    def _per_request(self, functions: list[tuple[cst.FunctionDef, Scope]]) -> str | None:
        for fn, scope in functions:
            key = id(fn)
            if key not in self._kinds:
                self._kinds[key] = self._kind(fn, scope.parent)
            if self._kinds[key] is not None:
                return self._kinds[key]
        return None

    def _kind(self, fn: cst.FunctionDef, enclosing: Scope | None) -> str | None:
        if enclosing is None:
            return None
        name = fn.name.value
        if route_of(self.ctx, fn, enclosing) is not None:
            return f"route `{name}`"
        if is_dependency(self.ctx, fn, enclosing):
            return f"dependency `{name}`"
        if is_middleware(self.ctx, fn, enclosing):
            return f"middleware `{name}`"
        return None

    def _cached(self, fn: cst.FunctionDef, scope: Scope) -> bool:
        for decorator in fn.decorators:
            expr = decorator.decorator
            name = self.ctx.qualified_name(
                expr.func if isinstance(expr, cst.Call) else expr, scope.parent
            )
            if name is not None and self.ctx.index.canonical(name) in CACHE_DECORATORS:
                return True
        return False

    def _stored(self, call: cst.Call) -> bool:
        """`global engine; engine = create_engine()`, `cache[url] = create_engine()`,
        `if self._engine is None: self._engine = create_engine()`."""
        parent = self.ctx.parent(call)
        if not isinstance(parent, cst.Assign | cst.AnnAssign):
            return False
        targets = (
            [t.target for t in parent.targets]
            if isinstance(parent, cst.Assign)
            else [parent.target]
        )
        facts = self.ctx.scope_facts(self.ctx.scope)
        for target in targets:
            if isinstance(target, cst.Subscript):
                return True
            if isinstance(target, cst.Name) and target.value in facts.globals:
                return True
            if isinstance(target, cst.Attribute) and self._guarded(parent):
                return True
        return False

    def _guarded(self, statement: cst.CSTNode) -> bool:
        """Under an `if` of the function the statement is in."""
        for ancestor in self.ctx.ancestors(statement):
            if isinstance(ancestor, cst.FunctionDef):
                return False
            if isinstance(ancestor, cst.If):
                return True
        return False
