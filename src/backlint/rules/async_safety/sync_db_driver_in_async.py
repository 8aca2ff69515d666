"""BKL103 sync-db-driver-in-async."""

from __future__ import annotations

from backlint.rules.async_safety import BlockingClientRule
from backlint.semantics.async_clients import DB_PACKAGES


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

    Fix:
    None: the async driver has a different API. Use the one named in the
    message, or run the blocking code with `asyncio.to_thread`.
    """

    code = "BKL103"
    name = "sync-db-driver-in-async"
    family = "db"
    packages = DB_PACKAGES
