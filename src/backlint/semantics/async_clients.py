"""Clients of I/O libraries: which objects block the event loop, and which are
the async twins whose methods are coroutines.

One table, `CLIENTS`, lists the library names a project calls: constructors
(`redis.Redis`, `boto3.client`), functions (`send_mail`), module-level objects
(`django.core.cache.cache`) and type names for annotations, each with what it
is and the async alternative a message suggests. `APIS` says what the objects
they make do: which methods do I/O, which return other objects (a cursor from
a connection, a pipeline from a redis client) and what attribute access gives
(pymongo's `client.db.collection`).

`Clients.of(expr)` follows an expression to such an object: through local and
module-level assignments, imports of another module's client (the index keeps
its summarised value), attribute chains, `with` targets, annotations,
`self.<attr>` set in the class, and project functions that return a client.
When the trail is lost the answer is None, and rules stay silent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst

from backlint.semantics.context import (
    Assigned,
    Binding,
    FileContext,
    Imported,
    Parameter,
    Scope,
    ScopeKind,
    WithTarget,
)
from backlint.semantics.facts import Attr, Await, Call, ClassFacts, FunctionFacts, Ref, Subscript
from backlint.semantics.facts import Value as FactValue
from backlint.semantics.facts import dotted as fact_dotted
from backlint.semantics.names import dotted_name
from backlint.semantics.requirements import DJANGO_ASYNC_CACHE, Version, has_version

Family = Literal["db", "network"]
# class: calling it makes an instance, and it names one in annotations;
# function: calling it returns `makes` (or nothing); object: the name is an
# instance; container: `name[key]` is an instance; type: annotations only.
How = Literal["class", "function", "object", "container", "type"]
# never: making it does no I/O; always: the call itself does I/O (`connect()`,
# `send_mail()`); with_host: it connects when given a host (`smtplib.SMTP(h)`).
Blocks = Literal["never", "always", "with_host"]


@dataclass(frozen=True, slots=True)
class Api:
    """What the methods of one kind of object do."""

    # Methods that do I/O; None: every public method not in `quiet`.
    io: frozenset[str] | None = None
    quiet: frozenset[str] = frozenset()
    # Methods that return another tracked object (its api name).
    returns: Mapping[str, str] = field(default_factory=dict)
    # The api of `obj.name` and `obj["name"]` (pymongo databases and
    # collections, elasticsearch namespaces); None: not tracked.
    attribute: str | None = None
    # `for x in obj` does I/O (pymongo cursors, sqlite3 cursors).
    iterating_blocks: bool = False
    # boto3 resources: `s3.Bucket(name)` (capitalised) makes a sub-resource
    # without I/O.
    capitalised_quiet: bool = False

    def does_io(self, method: str) -> bool:
        if method.startswith("_"):
            return False
        if self.capitalised_quiet and method[:1].isupper():
            return False
        if self.io is not None:
            return method in self.io
        return method not in self.quiet and method not in self.returns


@dataclass(frozen=True, slots=True)
class Client:
    """One row of the table: a library name and what it gives."""

    family: Family
    what: str  # for messages: "psycopg2", "a boto3 client"
    alternative: str  # for messages: what to use instead
    how: How
    makes: str | None  # the api of the object it is / makes (None: a plain function)
    blocks: Blocks = "never"
    is_async: bool = False  # an async client: its I/O methods are coroutine functions
    # A per-method async twin (`cache.get` -> `cache.aget`), and the Django
    # version that has it: messages suggest it only then.
    twin: str | None = None
    twin_since: Version | None = None


# ---------------------------------------------------------------------------
# What the objects do.

_DBAPI_CONNECTION_IO = frozenset(
    {"commit", "rollback", "execute", "executemany", "ping", "select_db", "begin", "query"}
)
_DBAPI_CURSOR_IO = frozenset(
    {"execute", "executemany", "callproc", "nextset", "copy_from", "copy_to", "copy_expert"}
)
_FETCH = frozenset({"fetchone", "fetchmany", "fetchall"})
# redis-py client methods that make objects instead of sending a command.
_REDIS_QUIET = frozenset(
    {
        "pipeline",
        "pubsub",
        "lock",
        "register_script",
        "get_encoder",
        "get_connection_kwargs",
        "set_response_callback",
        "get_retry",
        "set_retry",
        "monitor",
        "from_url",
        "from_pool",
        "close",
    }
)
_PYMONGO_COLLECTION_IO = frozenset(
    {
        "find_one",
        "insert_one",
        "insert_many",
        "replace_one",
        "update_one",
        "update_many",
        "delete_one",
        "delete_many",
        "bulk_write",
        "count_documents",
        "estimated_document_count",
        "distinct",
        "aggregate",
        "aggregate_raw_batches",
        "create_index",
        "create_indexes",
        "drop_index",
        "drop_indexes",
        "drop",
        "list_indexes",
        "index_information",
        "options",
        "rename",
        "find_one_and_delete",
        "find_one_and_replace",
        "find_one_and_update",
        "watch",
        "create_search_index",
        "list_search_indexes",
    }
)
_PYMONGO_CURSOR_CHAIN = frozenset(
    {
        "sort",
        "limit",
        "skip",
        "batch_size",
        "hint",
        "where",
        "max_time_ms",
        "collation",
        "allow_disk_use",
        "comment",
        "projection",
        "max",
        "min",
    }
)
_DJANGO_CACHE_IO = frozenset(
    {
        "get",
        "set",
        "add",
        "delete",
        "get_many",
        "set_many",
        "delete_many",
        "clear",
        "touch",
        "incr",
        "decr",
        "get_or_set",
        "has_key",
        "incr_version",
        "decr_version",
    }
)

APIS: dict[str, Api] = {
    # DB-API 2 drivers (psycopg2, pymysql, MySQLdb, mysql.connector, oracledb).
    "dbapi.connection": Api(io=_DBAPI_CONNECTION_IO, returns={"cursor": "dbapi.cursor"}),
    # Client-side cursors: fetch*() read what execute() already received.
    "dbapi.cursor": Api(io=_DBAPI_CURSOR_IO),
    # oracledb cursors fetch `arraysize` rows per round trip.
    "oracledb.connection": Api(io=_DBAPI_CONNECTION_IO, returns={"cursor": "oracledb.cursor"}),
    "oracledb.cursor": Api(io=_DBAPI_CURSOR_IO | _FETCH, iterating_blocks=True),
    "psycopg2.pool": Api(
        io=frozenset({"getconn", "putconn", "closeall"}), returns={"getconn": "dbapi.connection"}
    ),
    # psycopg 3's sync API.
    "psycopg.connection": Api(
        io=frozenset({"execute", "commit", "rollback", "cancel"}),
        returns={"cursor": "psycopg.cursor", "execute": "psycopg.cursor"},
    ),
    "psycopg.cursor": Api(io=frozenset({"execute", "executemany", "copy", "scroll"})),
    "psycopg_pool.pool": Api(
        io=frozenset({"getconn", "putconn", "connection", "wait", "open", "check", "resize"}),
        returns={"getconn": "psycopg.connection", "connection": "psycopg.connection"},
    ),
    # sqlite3 steps its statements lazily: fetching and iterating read the file.
    "sqlite3.connection": Api(
        io=frozenset({"execute", "executemany", "executescript", "commit", "rollback", "backup"}),
        returns={
            "cursor": "sqlite3.cursor",
            "execute": "sqlite3.cursor",
            "executemany": "sqlite3.cursor",
        },
    ),
    "sqlite3.cursor": Api(
        io=frozenset({"execute", "executemany", "executescript"}) | _FETCH,
        iterating_blocks=True,
    ),
    # pymongo: client.db.collection; find() is lazy, its cursor reads when iterated.
    "pymongo.client": Api(
        io=frozenset(
            {"list_database_names", "list_databases", "drop_database", "server_info", "watch"}
        ),
        returns={"get_database": "pymongo.database", "get_default_database": "pymongo.database"},
        attribute="pymongo.database",
    ),
    "pymongo.database": Api(
        io=frozenset(
            {
                "command",
                "list_collection_names",
                "list_collections",
                "create_collection",
                "drop_collection",
                "validate_collection",
                "dereference",
                "watch",
                "aggregate",
            }
        ),
        returns={"get_collection": "pymongo.collection", "with_options": "pymongo.database"},
        attribute="pymongo.collection",
    ),
    "pymongo.collection": Api(
        io=_PYMONGO_COLLECTION_IO,
        returns={
            "find": "pymongo.cursor",
            "find_raw_batches": "pymongo.cursor",
            "with_options": "pymongo.collection",
        },
        attribute="pymongo.collection",
    ),
    "pymongo.cursor": Api(
        io=frozenset({"next", "to_list", "explain", "distinct"}),
        returns=dict.fromkeys(_PYMONGO_CURSOR_CHAIN, "pymongo.cursor"),
        iterating_blocks=True,
    ),
    # redis-py: every command is a method; pipelines send on execute().
    "redis.client": Api(
        quiet=_REDIS_QUIET,
        returns={"pipeline": "redis.pipeline", "pubsub": "redis.pubsub", "lock": "redis.lock"},
    ),
    "redis.pipeline": Api(io=frozenset({"execute", "watch", "unwatch"})),
    "redis.pubsub": Api(
        io=frozenset(
            {"subscribe", "psubscribe", "unsubscribe", "punsubscribe", "get_message", "ping"}
        )
    ),
    "redis.lock": Api(
        io=frozenset({"acquire", "release", "extend", "reacquire", "locked", "owned"})
    ),
    # elasticsearch-py: every method is a request; `es.indices` & co. are namespaces.
    "elasticsearch.client": Api(
        quiet=frozenset({"options", "close"}), attribute="elasticsearch.namespace"
    ),
    "elasticsearch.namespace": Api(),
    # boto3/botocore.
    "boto3.session": Api(
        io=frozenset(),
        returns={
            "client": "boto3.client",
            "resource": "boto3.resource",
            "create_client": "boto3.client",
        },
    ),
    "boto3.client": Api(
        quiet=frozenset(
            {
                "can_paginate",
                "generate_presigned_url",
                "generate_presigned_post",
                "close",
                "get_available_subresources",
            }
        ),
        returns={"get_paginator": "boto3.paginator", "get_waiter": "boto3.waiter"},
    ),
    "boto3.paginator": Api(io=frozenset(), returns={"paginate": "boto3.pages"}),
    "boto3.pages": Api(io=frozenset({"build_full_result"}), iterating_blocks=True),
    "boto3.waiter": Api(io=frozenset({"wait"})),
    "boto3.resource": Api(
        quiet=frozenset({"all", "filter", "limit", "page_size"}),
        returns={
            "all": "boto3.resource",
            "filter": "boto3.resource",
            "limit": "boto3.resource",
            "page_size": "boto3.resource",
        },
        attribute="boto3.resource",
        iterating_blocks=True,
        capitalised_quiet=True,
    ),
    "smtplib.smtp": Api(
        io=frozenset(
            {
                "connect",
                "helo",
                "ehlo",
                "ehlo_or_helo_if_needed",
                "starttls",
                "login",
                "auth",
                "sendmail",
                "send_message",
                "quit",
                "noop",
                "rset",
                "verify",
                "vrfy",
                "expn",
                "mail",
                "rcpt",
                "data",
                "docmd",
                "putcmd",
                "getreply",
                "send",
            }
        )
    ),
    # Django.
    "django.cache": Api(io=_DJANGO_CACHE_IO),
    "django.email": Api(io=frozenset({"send"})),
    "django.mail_backend": Api(io=frozenset({"send_messages", "open"})),
    # A class the user listed (`extra-blocking-calls`): every public method blocks.
    "user.client": Api(),
    # Async clients (BKL105): their I/O methods are coroutine functions.
    "httpx.async_client": Api(
        io=frozenset(
            {"get", "post", "put", "patch", "delete", "head", "options", "request", "send"}
            | {"aclose"}
        )
    ),
    "redis.async_client": Api(quiet=_REDIS_QUIET),
}

# ---------------------------------------------------------------------------
# The table: library names -> what they are.

# (family, what it is, what to use instead), per library.
Library = tuple[Family, str, str]
_PSYCOPG2: Library = ("db", "psycopg2", "use asyncpg or psycopg 3's `AsyncConnection`")
_PSYCOPG: Library = ("db", "psycopg (sync API)", "use psycopg's `AsyncConnection`")
_PYMYSQL: Library = ("db", "pymysql", "use aiomysql or asyncmy")
_MYSQLDB: Library = ("db", "MySQLdb", "use aiomysql or asyncmy")
_MYSQL_CONNECTOR: Library = ("db", "mysql.connector", "use `mysql.connector.aio` or aiomysql")
_SQLITE: Library = ("db", "sqlite3", "use aiosqlite")
_ORACLE: Library = ("db", "oracledb (sync API)", "use `oracledb.connect_async()`")
_PYMONGO: Library = ("db", "pymongo", "use motor or pymongo's `AsyncMongoClient`")
_REDIS: Library = ("db", "redis (sync client)", "use `redis.asyncio`")
_ELASTIC: Library = ("db", "elasticsearch (sync client)", "use `AsyncElasticsearch`")
_BOTO: Library = ("network", "boto3", "use aioboto3 (or `asyncio.to_thread`)")
_SMTP: Library = ("network", "smtplib", "use aiosmtplib (or `asyncio.to_thread`)")
_DJANGO_MAIL: Library = ("network", "Django email", "wrap it in `sync_to_async`")
_DJANGO_CACHE: Library = ("network", "Django cache", "wrap it in `sync_to_async`")


def _row(library: Library, how: How, makes: str | None, blocks: Blocks = "never") -> Client:
    family, what, alternative = library
    return Client(family, what, alternative, how, makes, blocks)


CLIENTS: dict[str, Client] = {
    # psycopg2: connect() opens the connection on the call.
    "psycopg2.connect": _row(_PSYCOPG2, "function", "dbapi.connection", "always"),
    "psycopg2.extensions.connection": _row(_PSYCOPG2, "type", "dbapi.connection"),
    "psycopg2.extensions.cursor": _row(_PSYCOPG2, "type", "dbapi.cursor"),
    "psycopg2.pool.SimpleConnectionPool": _row(_PSYCOPG2, "class", "psycopg2.pool", "always"),
    "psycopg2.pool.ThreadedConnectionPool": _row(_PSYCOPG2, "class", "psycopg2.pool", "always"),
    # psycopg 3, sync API (`AsyncConnection` is its async twin, not listed).
    "psycopg.connect": _row(_PSYCOPG, "function", "psycopg.connection", "always"),
    "psycopg.Connection.connect": _row(_PSYCOPG, "function", "psycopg.connection", "always"),
    "psycopg.Connection": _row(_PSYCOPG, "type", "psycopg.connection"),
    "psycopg.Cursor": _row(_PSYCOPG, "type", "psycopg.cursor"),
    "psycopg_pool.ConnectionPool": _row(_PSYCOPG, "class", "psycopg_pool.pool"),
    # pymysql, MySQLdb, mysql.connector: connect() connects.
    "pymysql.connect": _row(_PYMYSQL, "function", "dbapi.connection", "always"),
    "pymysql.Connect": _row(_PYMYSQL, "function", "dbapi.connection", "always"),
    "pymysql.connections.Connection": _row(_PYMYSQL, "class", "dbapi.connection", "always"),
    "MySQLdb.connect": _row(_MYSQLDB, "function", "dbapi.connection", "always"),
    "MySQLdb.Connect": _row(_MYSQLDB, "function", "dbapi.connection", "always"),
    "mysql.connector.connect": _row(_MYSQL_CONNECTOR, "function", "dbapi.connection", "always"),
    # sqlite3 opens (and may create) the database file.
    "sqlite3.connect": _row(_SQLITE, "function", "sqlite3.connection", "always"),
    "sqlite3.Connection": _row(_SQLITE, "type", "sqlite3.connection"),
    "sqlite3.Cursor": _row(_SQLITE, "type", "sqlite3.cursor"),
    # oracledb: connect() is sync, connect_async() is the twin (not listed).
    "oracledb.connect": _row(_ORACLE, "function", "oracledb.connection", "always"),
    "oracledb.Connection": _row(_ORACLE, "type", "oracledb.connection"),
    # pymongo: the client connects in background threads; operations block.
    "pymongo.MongoClient": _row(_PYMONGO, "class", "pymongo.client"),
    "pymongo.mongo_client.MongoClient": _row(_PYMONGO, "class", "pymongo.client"),
    "pymongo.database.Database": _row(_PYMONGO, "type", "pymongo.database"),
    "pymongo.collection.Collection": _row(_PYMONGO, "type", "pymongo.collection"),
    # redis-py's sync client (`redis.asyncio.Redis` is the twin, listed below).
    "redis.Redis": _row(_REDIS, "class", "redis.client"),
    "redis.StrictRedis": _row(_REDIS, "class", "redis.client"),
    "redis.client.Redis": _row(_REDIS, "class", "redis.client"),
    "redis.client.StrictRedis": _row(_REDIS, "class", "redis.client"),
    "redis.Redis.from_url": _row(_REDIS, "function", "redis.client"),
    "redis.StrictRedis.from_url": _row(_REDIS, "function", "redis.client"),
    "redis.from_url": _row(_REDIS, "function", "redis.client"),
    "redis.RedisCluster": _row(_REDIS, "class", "redis.client"),
    "redis.cluster.RedisCluster": _row(_REDIS, "class", "redis.client"),
    # elasticsearch-py's sync client (`AsyncElasticsearch` is the twin).
    "elasticsearch.Elasticsearch": _row(_ELASTIC, "class", "elasticsearch.client"),
    # boto3/botocore: clients and resources; making them does no network I/O.
    "boto3.client": _row(_BOTO, "function", "boto3.client"),
    "boto3.resource": _row(_BOTO, "function", "boto3.resource"),
    "boto3.Session": _row(_BOTO, "class", "boto3.session"),
    "boto3.session.Session": _row(_BOTO, "class", "boto3.session"),
    "botocore.session.get_session": _row(_BOTO, "function", "boto3.session"),
    "botocore.session.Session": _row(_BOTO, "class", "boto3.session"),
    "botocore.client.BaseClient": _row(_BOTO, "type", "boto3.client"),
    # smtplib: SMTP(host) connects in the constructor.
    "smtplib.SMTP": _row(_SMTP, "class", "smtplib.smtp", "with_host"),
    "smtplib.SMTP_SSL": _row(_SMTP, "class", "smtplib.smtp", "with_host"),
    "smtplib.LMTP": _row(_SMTP, "class", "smtplib.smtp", "with_host"),
    # Django email: the functions send, messages send on send().
    "django.core.mail.send_mail": _row(_DJANGO_MAIL, "function", None, "always"),
    "django.core.mail.send_mass_mail": _row(_DJANGO_MAIL, "function", None, "always"),
    "django.core.mail.mail_admins": _row(_DJANGO_MAIL, "function", None, "always"),
    "django.core.mail.mail_managers": _row(_DJANGO_MAIL, "function", None, "always"),
    "django.core.mail.EmailMessage": _row(_DJANGO_MAIL, "class", "django.email"),
    "django.core.mail.EmailMultiAlternatives": _row(_DJANGO_MAIL, "class", "django.email"),
    "django.core.mail.message.EmailMessage": _row(_DJANGO_MAIL, "class", "django.email"),
    "django.core.mail.message.EmailMultiAlternatives": _row(_DJANGO_MAIL, "class", "django.email"),
    "django.core.mail.get_connection": _row(_DJANGO_MAIL, "function", "django.mail_backend"),
    # Django's cache: `cache` and `caches[alias]`; Django 4.0 added `aget()` & co.
    "django.core.cache.cache": Client(
        "network",
        "Django cache",
        _DJANGO_CACHE[2],
        "object",
        "django.cache",
        twin="await `{receiver}.a{method}()` instead",
        twin_since=DJANGO_ASYNC_CACHE,
    ),
    "django.core.cache.caches": Client(
        "network",
        "Django cache",
        _DJANGO_CACHE[2],
        "container",
        "django.cache",
        twin="await `{receiver}.a{method}()` instead",
        twin_since=DJANGO_ASYNC_CACHE,
    ),
    # Async twins (never flagged as blocking; BKL105 knows their coroutines).
    "httpx.AsyncClient": Client(
        "network", "httpx", "", "class", "httpx.async_client", is_async=True
    ),
    "redis.asyncio.Redis": Client("db", "redis", "", "class", "redis.async_client", is_async=True),
    "redis.asyncio.StrictRedis": Client(
        "db", "redis", "", "class", "redis.async_client", is_async=True
    ),
    "redis.asyncio.client.Redis": Client(
        "db", "redis", "", "class", "redis.async_client", is_async=True
    ),
    "redis.asyncio.from_url": Client(
        "db", "redis", "", "function", "redis.async_client", is_async=True
    ),
    "redis.asyncio.Redis.from_url": Client(
        "db", "redis", "", "function", "redis.async_client", is_async=True
    ),
}

# Top-level packages of the table, for gating rules before parsing.
DB_PACKAGES = frozenset(
    name.split(".", 1)[0] for name, c in CLIENTS.items() if c.family == "db" and not c.is_async
)
NETWORK_PACKAGES = frozenset(
    name.split(".", 1)[0] for name, c in CLIENTS.items() if c.family == "network" and not c.is_async
)

ASYNC_CLIENT_PACKAGES = frozenset(
    name.split(".", 1)[0] for name, c in CLIENTS.items() if c.is_async
)

_OPTIONAL = frozenset({"typing.Optional", "typing_extensions.Optional"})
_DEPTH = 12


def user_clients(extra: Mapping[str, str], family: Family) -> dict[str, Client]:
    """Rows for `extra-blocking-calls`: a name whose last part is capitalised is
    a client class (its instances' public methods block); any other name is a
    blocking function."""
    rows: dict[str, Client] = {}
    for name, suggestion in extra.items():
        package, last = name.split(".", 1)[0], name.rsplit(".", 1)[-1]
        if last[:1].isupper():
            rows[name] = Client(family, package, suggestion, "class", "user.client")
        else:
            rows[name] = Client(family, package, suggestion, "function", None, "always")
    return rows


@dataclass(frozen=True, slots=True)
class Tracked:
    """An object of a known library: the table row it came from, its api."""

    client: Client
    api: str


@dataclass(frozen=True, slots=True)
class BlockingCall:
    """A call that does I/O on a known client."""

    client: Client
    method: str | None  # None: the call of a table name itself (`send_mail(...)`)
    receiver: cst.BaseExpression | None

    def alternative(self, ctx: FileContext) -> str:
        client = self.client
        if (
            client.twin
            and self.method
            and self.receiver is not None
            and (client.twin_since is None or has_version(ctx.index, "django", client.twin_since))
        ):
            receiver = dotted_name(self.receiver) or ctx.tree.code_for_node(self.receiver)
            return client.twin.format(receiver=receiver, method=self.method)
        return client.alternative


class Clients:
    """Answers about clients in one file (memoised per name and scope)."""

    def __init__(self, ctx: FileContext, extra: Mapping[str, Client]) -> None:
        self.ctx = ctx
        self.index = ctx.index
        self.extra = extra
        self._names: dict[tuple[int, str], Tracked | None] = {}
        self._qualified_memo: dict[str, Tracked | None] = {}
        self._self_attrs: dict[tuple[int, str], Tracked | None] = {}
        self._active: set[object] = set()

    def row(self, name: str | None) -> Client | None:
        if name is None:
            return None
        return self.extra.get(name) or CLIENTS.get(name)

    # Calls -------------------------------------------------------------------

    def blocking_call(self, call: cst.Call, scope: Scope | None = None) -> BlockingCall | None:
        """The I/O a call does on a known sync client, if any."""
        scope = scope or self.ctx.scope
        func = call.func
        if isinstance(func, cst.Attribute | cst.Name):
            row = self.row(self.ctx.qualified_name(func, scope))
            if row is not None:
                if row.is_async or not _call_blocks(row, call):
                    return None
                return BlockingCall(row, None, None)
        if not isinstance(func, cst.Attribute):
            return None
        method = func.attr.value
        if method.startswith("_"):
            return None
        receiver = self.of(func.value, scope)
        if receiver is None or receiver.client.is_async:
            return None
        if APIS[receiver.api].does_io(method):
            return BlockingCall(receiver.client, method, func.value)
        return None

    def coroutine_call(self, call: cst.Call, scope: Scope | None = None) -> Tracked | None:
        """The async client whose coroutine method `call` calls, if any."""
        func = call.func
        if not isinstance(func, cst.Attribute):
            return None
        receiver = self.of(func.value, scope or self.ctx.scope)
        if receiver is None or not receiver.client.is_async:
            return None
        return receiver if APIS[receiver.api].does_io(func.attr.value) else None

    def iterated_blocks(self, expr: cst.BaseExpression) -> Tracked | None:
        """`for x in <expr>` reads from a sync client (a pymongo cursor...)."""
        found = self.of(expr, self.ctx.scope)
        if found is None or found.client.is_async or not APIS[found.api].iterating_blocks:
            return None
        return found

    # Expressions -------------------------------------------------------------

    def of(self, expr: cst.BaseExpression, scope: Scope, depth: int = 0) -> Tracked | None:
        """The known client object `expr` evaluates to, or None."""
        if depth > _DEPTH:
            return None
        if isinstance(expr, cst.Name):
            return self._name(expr.value, scope, depth)
        if isinstance(expr, cst.Attribute):
            return self._attribute(expr, scope, depth)
        if isinstance(expr, cst.Subscript):
            row = self.row(self.ctx.qualified_name(expr.value, scope))
            if row is not None:
                return Tracked(row, row.makes) if row.how == "container" and row.makes else None
            return self._attribute_of(self.of(expr.value, scope, depth + 1))
        if isinstance(expr, cst.Call):
            return self._call(expr, scope, depth)
        if isinstance(expr, cst.Await):
            return self.of(expr.expression, scope, depth + 1)
        return None

    def _name(self, name: str, scope: Scope, depth: int) -> Tracked | None:
        owner, bindings = self.ctx.bindings(name, scope)
        if owner is None or not bindings:
            return None
        key = (id(owner.node), name)  # scopes are transient, their nodes are not
        if key in self._names:
            return self._names[key]
        if key in self._active:
            return None
        self._active.add(key)
        try:
            found = [self._binding(b, owner, depth + 1) for b in bindings]
        finally:
            self._active.discard(key)
        first = found[0]
        result = first if first is not None and all(f == first for f in found) else None
        self._names[key] = result
        return result

    def _binding(self, binding: Binding, owner: Scope, depth: int) -> Tracked | None:
        if isinstance(binding, Imported):
            return self.qualified(binding.qualified, depth)
        if isinstance(binding, Assigned):
            found = self.of(binding.value, owner, depth) if binding.value is not None else None
            if found is None and binding.annotation is not None:
                found = self._annotation(binding.annotation, owner)
            return found
        if isinstance(binding, Parameter):
            annotation = binding.param.annotation
            return self._annotation(annotation.annotation, owner) if annotation else None
        if isinstance(binding, WithTarget):
            # These clients' `__enter__` returns the object itself.
            return self.of(binding.item.item, owner, depth)
        return None

    def _attribute(self, expr: cst.Attribute, scope: Scope, depth: int) -> Tracked | None:
        name = self.ctx.qualified_name(expr, scope)
        if name is not None:
            row = self.row(name)
            if row is not None:
                return Tracked(row, row.makes) if row.how == "object" and row.makes else None
            found = self.qualified(name, depth + 1)
            if found is not None:
                return found
        value = expr.value
        if isinstance(value, cst.Name) and value.value == "self":
            found = self._self_attribute(expr.attr.value, scope, depth + 1)
            if found is not None:
                return found
        return self._attribute_of(self.of(value, scope, depth + 1))

    @staticmethod
    def _attribute_of(base: Tracked | None) -> Tracked | None:
        if base is None:
            return None
        attribute = APIS[base.api].attribute
        return Tracked(base.client, attribute) if attribute else None

    def _call(self, expr: cst.Call, scope: Scope, depth: int) -> Tracked | None:
        func = expr.func
        name = self.ctx.qualified_name(func, scope)
        if name is not None:
            known, made = self._made_by(name, depth)
            if known:
                return made
        if isinstance(func, cst.Attribute):
            return self._method_result(self.of(func.value, scope, depth + 1), func.attr.value)
        return None

    def _made_by(self, name: str, depth: int) -> tuple[bool, Tracked | None]:
        """What calling the function or class `name` makes, and whether that
        is known: a row of the table decides, else a project function that
        returns a client."""
        row = self.row(name) or self.row(self.index.canonical(name))
        if row is not None:
            makes = row.makes if row.how in ("class", "function") else None
            return True, (Tracked(row, makes) if makes else None)
        found = self._project_function(name, depth + 1)
        return found is not None, found

    @staticmethod
    def _method_result(base: Tracked | None, method: str) -> Tracked | None:
        """What `method` of a tracked client returns (a client, a pipeline...)."""
        if base is None:
            return None
        api = APIS[base.api]
        if api.capitalised_quiet and method[:1].isupper():
            return base
        returned = api.returns.get(method)
        return Tracked(base.client, returned) if returned else None

    def _annotation(self, expr: cst.BaseExpression, scope: Scope) -> Tracked | None:
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.BitOr):
            left, right = expr.left, expr.right
            if _is_none(right):
                expr = left
            elif _is_none(left):
                expr = right
            else:
                return None
        if (
            isinstance(expr, cst.Subscript)
            and len(expr.slice) == 1
            and self.ctx.qualified_name(expr.value, scope) in _OPTIONAL
        ):
            inner = expr.slice[0].slice
            if isinstance(inner, cst.Index):
                expr = inner.value
        row = self.row(self.ctx.qualified_name(expr, scope))
        if row is not None and row.how in ("class", "type") and row.makes:
            return Tracked(row, row.makes)
        return None

    def _self_attribute(self, attr: str, scope: Scope, depth: int) -> Tracked | None:
        """`self.<attr>` in a method: what the class assigns to it (class-level
        `attr = ...`/`attr: T`, or `self.attr = ...` in its methods), when all
        of it is one client."""
        function = scope.function()
        cls_scope = function.parent if function is not None else None
        if cls_scope is None or cls_scope.kind is not ScopeKind.CLASS:
            return None
        cls = cls_scope.node
        if not isinstance(cls, cst.ClassDef):
            return None
        key = (id(cls), attr)
        if key in self._self_attrs:
            return self._self_attrs[key]
        if key in self._active:
            return None
        self._active.add(key)
        try:
            result = self._class_attribute(cls, cls_scope, attr, depth)
        finally:
            self._active.discard(key)
        self._self_attrs[key] = result
        return result

    def _class_attribute(
        self, cls: cst.ClassDef, cls_scope: Scope, attr: str, depth: int
    ) -> Tracked | None:
        from backlint.semantics.python import body_statements

        found: list[Tracked | None] = []
        for binding in self.ctx.scope_facts(cls_scope).bindings.get(attr, ()):
            found.append(self._binding(binding, cls_scope, depth))
        for stmt in cls.body.body:
            if not isinstance(stmt, cst.FunctionDef):
                continue
            method_scope: Scope | None = None
            for small in body_statements(stmt):
                targets: list[cst.BaseExpression] = []
                value: cst.BaseExpression | None = None
                if isinstance(small, cst.Assign):
                    targets = [t.target for t in small.targets]
                    value = small.value
                elif isinstance(small, cst.AnnAssign):
                    targets, value = [small.target], small.value
                for target in targets:
                    if (
                        isinstance(target, cst.Attribute)
                        and target.attr.value == attr
                        and isinstance(target.value, cst.Name)
                        and target.value.value == "self"
                    ):
                        if value is None:
                            found.append(None)
                            continue
                        if method_scope is None:
                            method_scope = Scope(
                                stmt, ScopeKind.FUNCTION, stmt.asynchronous is not None, cls_scope
                            )
                        found.append(self.of(value, method_scope, depth + 1))
        if not found:
            return None
        first = found[0]
        return first if first is not None and all(f == first for f in found) else None

    # Names of the project (other modules) --------------------------------------

    def qualified(self, name: str, depth: int = 0) -> Tracked | None:
        """What a qualified name (`app.clients.mongo`, `app.clients.mongo.db`) is."""
        if name in self._qualified_memo:
            return self._qualified_memo[name]
        if name in self._active or depth > _DEPTH:
            return None
        self._active.add(name)
        try:
            result = self._qualified(name, depth)
        finally:
            self._active.discard(name)
        self._qualified_memo[name] = result
        return result

    def _qualified(self, name: str, depth: int) -> Tracked | None:
        row = self.row(name)
        if row is not None:
            return Tracked(row, row.makes) if row.how == "object" and row.makes else None
        canonical = self.index.canonical(name)
        parts = canonical.split(".")
        for cut in range(len(parts), 1, -1):
            found = self.index.lookup(".".join(parts[:cut]))
            if found is None:
                continue
            if isinstance(found, ClassFacts | FunctionFacts):
                return None
            tracked = self.value(found, depth + 1)
            for _ in parts[cut:]:
                tracked = self._attribute_of(tracked)
            return tracked
        return None

    def _project_function(self, name: str, depth: int) -> Tracked | None:
        """A project function that returns a client (`def get_redis(): return Redis()`)."""
        fn = self.index.find_function(self.index.canonical(name))
        if fn is None or not fn.returned or fn.is_async:
            return None
        found = [self.value(v, depth + 1) for v in fn.returned]
        first = found[0]
        return first if first is not None and all(f == first for f in found) else None

    def value(self, value: FactValue, depth: int) -> Tracked | None:
        """What a summarised value of the index is."""
        if depth > _DEPTH:
            return None
        if isinstance(value, Ref):
            return self.qualified(value.name, depth + 1)
        if isinstance(value, Attr):
            name = fact_dotted(value)
            if name is not None:
                return self.qualified(name, depth + 1)
            return self._attribute_of(self.value(value.value, depth + 1))
        if isinstance(value, Subscript):
            row = self.row(fact_dotted(value.value))
            if row is not None:
                return Tracked(row, row.makes) if row.how == "container" and row.makes else None
            return self._attribute_of(self.value(value.value, depth + 1))
        if isinstance(value, Await):
            return self.value(value.value, depth + 1)
        if not isinstance(value, Call):
            return None
        func = value.func
        name = fact_dotted(func)
        if name is not None:
            known, made = self._made_by(name, depth)
            if known:
                return made
        if isinstance(func, Attr):
            return self._method_result(self.value(func.value, depth + 1), func.attr)
        return None


def _call_blocks(row: Client, call: cst.Call) -> bool:
    if row.blocks == "always":
        return True
    if row.blocks == "with_host":
        return any(a.keyword is None or a.keyword.value == "host" for a in call.args)
    return False


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


def clients(ctx: FileContext, extra: Mapping[str, Client] | None = None) -> Clients:
    """The file's client analysis; rules with the same extra rows share it."""
    extra = extra or {}
    key = ("async_clients", hash(tuple(sorted(extra))))
    found = ctx.cache.get(key)
    if not isinstance(found, Clients) or found.extra != extra:
        found = Clients(ctx, extra)
        ctx.cache[key] = found
    return found
