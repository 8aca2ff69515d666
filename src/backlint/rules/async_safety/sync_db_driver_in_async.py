"""BKL103 sync-db-driver-in-async."""

from __future__ import annotations

from typing import Any

import libcst as cst

from backlint.rules.async_safety import BlockingClientRule
from backlint.semantics.async_clients import DB_PACKAGES
from backlint.semantics.context import ScopeKind
from backlint.semantics.tree import descendants

# `asyncio.run(coro)`: it refuses to run inside a running event loop, so the
# coroutine it is handed gets a loop of its own.
ASYNCIO_RUN = frozenset({"asyncio.run", "asyncio.runners.run"})


class SyncDbDriverInAsync(BlockingClientRule):
    """A synchronous database or cache driver call inside an async function.

    What it flags:
    Inside an `async def`, a call that does I/O on a client of a synchronous
    driver: psycopg2, psycopg's sync API (`psycopg.connect`,
    `psycopg_pool.ConnectionPool`), pymysql, MySQLdb, mysql.connector,
    sqlite3, oracledb's sync API, pymongo, redis-py's sync client
    (`redis.Redis`, `StrictRedis`, `from_url`), and the sync `Elasticsearch`
    client: connecting (`psycopg2.connect(...)`), queries and commands
    (`cur.execute()`, `r.get()`, `collection.find_one()`), and iterating a
    pymongo or sqlite3 cursor. The client is followed from where it was made:
    in the function, at module level (also in another module of the project,
    imported), through attribute chains (`mongo.db.users.find_one()`), `with`
    targets, annotations (`r: redis.Redis`), `self.<attr>` assigned in the
    class, and project functions that return one.
    Option `extra-blocking-calls` adds names of your own, each with what to use
    instead.

    Why:
    The driver waits for the database on the event loop's thread: for the whole
    round trip no other request, websocket or background coroutine of the
    worker runs. Under load latency climbs for everyone and health checks time
    out.

    Example:
    ```python
    import redis

    cache = redis.Redis(host="localhost")

    async def last_seen(user_id: int) -> bytes | None:
        return cache.get(f"seen:{user_id}")
    ```

    Use instead:
    ```python
    import redis.asyncio as redis

    cache = redis.Redis(host="localhost")

    async def last_seen(user_id: int) -> bytes | None:
        return await cache.get(f"seen:{user_id}")
    ```

    Not flagged:
    The async APIs (asyncpg, psycopg's `AsyncConnection`, motor,
    `redis.asyncio`, `AsyncElasticsearch`); calls handed uncalled to
    `asyncio.to_thread`, `sync_to_async` or `run_in_executor`; code in a
    nested `def` or `lambda`; methods that do no I/O (`conn.cursor()`,
    `r.pipeline()`, `collection.find()` before it is iterated); `fetch*()` on
    client-side DB-API cursors (the rows arrived with `execute()`); an awaited
    call. A client whose origin backlint cannot follow (a parameter without an
    annotation, an attribute set outside its class) is not seen: missed alarm
    rather than guess.

    An async function that only `asyncio.run(...)` ever runs: a module-level
    coroutine whose every mention in its module is `asyncio.run(f(...))`
    (a command-line tool's `main()`) and that no other module imports.
    `asyncio.run` refuses to start inside a running loop, so the coroutine
    has a loop of its own, shared with no server: blocking it delays nobody
    else. Coroutines it awaits in turn are still flagged (they could be
    awaited from elsewhere).

    Fix:
    None: the async driver has a different API. Use the one named in the
    message, or run the blocking code with `asyncio.to_thread`.
    """

    code = "BKL103"
    name = "sync-db-driver-in-async"
    family = "db"
    packages = DB_PACKAGES

    def report(self, node: cst.CSTNode, message: str | None = None, **kwargs: Any) -> None:
        if self._own_loop():
            return
        super().report(node, message, **kwargs)

    def _own_loop(self) -> bool:
        """The innermost function is a module-level coroutine that only
        `asyncio.run(...)` runs (see the docs)."""
        scope = self.ctx.scope
        node = scope.node
        if not (
            scope.kind is ScopeKind.FUNCTION
            and isinstance(node, cst.FunctionDef)
            and scope.parent is not None
            and scope.parent.kind is ScopeKind.MODULE
        ):
            return False
        key = ("BKL103.own_loop", id(node))
        if key not in self.ctx.cache:
            self.ctx.cache[key] = self._only_run_by_asyncio(node, scope.parent)
        found: bool = self.ctx.cache[key]
        return found

    def _only_run_by_asyncio(self, node: cst.FunctionDef, module: Any) -> bool:
        name = node.name.value
        qualname = f"{self.ctx.module}.{name}"
        for facts in self.ctx.index.modules.values():
            if facts.module != self.ctx.module and qualname in facts.imports.values():
                return False
        parents: dict[int, cst.CSTNode] = {}
        runs = 0
        for child in descendants(self.ctx.tree, parents=parents):
            if not (isinstance(child, cst.Name) and child.value == name):
                continue
            parent = parents.get(id(child))
            if parent is node:
                continue  # the def itself
            call = parent
            arg = parents.get(id(call)) if isinstance(call, cst.Call) else None
            run = parents.get(id(arg)) if isinstance(arg, cst.Arg) else None
            if not (
                isinstance(call, cst.Call)
                and call.func is child
                and isinstance(arg, cst.Arg)
                and isinstance(run, cst.Call)
                and run.args
                and run.args[0] is arg
            ):
                return False
            runner = self.ctx.qualified_name(run.func, module)
            if runner is None or self.ctx.index.canonical(runner) not in ASYNCIO_RUN:
                return False
            runs += 1
        return runs > 0
