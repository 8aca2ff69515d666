"""BKL601 sql-built-from-strings."""

from __future__ import annotations

from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.django import querysets
from backlint.semantics.security import (
    DJANGO_RAW_SQL,
    EXECUTE_METHODS,
    PSYCOPG_SQL,
    SQLALCHEMY_TEXT,
    SqlText,
    extra_sql_arguments,
    sql_argument,
)
from backlint.types import SourceFile

_SINK_MARKERS = (
    "execute(",
    "exec_driver_sql(",
    "executemany(",
    "executescript(",
    ".raw(",
    ".extra(",
    "SQL(",
)


class SqlBuiltFromStrings(Rule):
    """SQL text built from strings with non-literal parts reaches the database.

    What it flags:
    SQL text built with an f-string, `%`, `.format()`, `+` or `.join()` with
    a non-literal part where the SQL takes a value (after `=`, `<`, `>`,
    `LIKE`, `IN (`, `VALUES (`, `BETWEEN ... AND`, `= ANY(`, `LIMIT`,
    `OFFSET`, or inside a quoted SQL string), or with client data in any
    position (request data such as `request.GET["sort"]`, a parameter of a
    FastAPI route or of a Django view: `ORDER BY {sort}`,
    `"SET search_path TO " + schema`, `RawSQL(f"... {column}")`), passed
    directly or through
    local variables (built on one line, executed on another, extended with
    `+=`) to a database sink:
    `cursor.execute/executemany/executescript` and `connection/session.execute`
    of DB-API drivers and SQLAlchemy, SQLAlchemy's `exec_driver_sql`, SQLAlchemy `text()`, Django
    `Manager.raw()`, `QuerySet.extra(select=/where=/tables=/order_by=)` and
    `RawSQL()`, and the template of psycopg's `sql.SQL()`. For `execute`, the
    text must look like SQL (a statement keyword). Reported at the sink.

    Why:
    A value formatted into SQL text is SQL: a quote in it ends the string and
    what follows runs as a query (SQL injection). Bound parameters send values
    apart from the statement, so no value can change what it does.

    Example:
    ```python
    from django.db import connection

    def orders_of(customer: str) -> list[tuple[int, str]]:
        query = f"SELECT id, status FROM shop_order WHERE customer = '{customer}'"
        with connection.cursor() as cursor:
            cursor.execute(query)
            return cursor.fetchall()
    ```

    Use instead:
    ```python
    from django.db import connection

    def orders_of(customer: str) -> list[tuple[int, str]]:
        query = "SELECT id, status FROM shop_order WHERE customer = %s"
        with connection.cursor() as cursor:
            cursor.execute(query, [customer])
            return cursor.fetchall()
    ```

    Not flagged:
    Bound parameters (the values in the second argument, even when an f-string
    builds one, as in `[f"%{term}%"]`); psycopg's
    `sql.SQL("... {}").format(sql.Identifier(name))`; formatting with literals
    only: string and number literals, module-level constants (here or
    imported), class constants read through `self`/`cls`, loop variables over
    a literal tuple, numbers (`int()`, `len()`, `%d`, parameters annotated
    `int`/`float`/`bool`/`UUID`/`date`), UUIDs the code makes
    (`uuid.uuid4()`, `uuid.UUID(text)`, which refuses anything else),
    identifiers quoted by
    `quote_name()`/`quote_ident()`-like functions, placeholder lists
    (`", ".join(["%s"] * len(ids))`, `",".join("?" * n)`,
    `itertools.repeat("%s", n)`, `:name` markers built from column names),
    items
    of a local dict whose values are all literal or quoted
    (`f"{k}={v}" for k, v in options.items()`, or a `for key, values in
    d.items():` loop and `",".join(values)` over tuples of quoted literals,
    as in arches' export command); parts named as SQL (`where_sql`,
    `timestamp_placeholder(...)`), Django model metadata (`_meta.db_table`,
    `field.column`, `field.name` in a loop over `model._meta.fields`),
    dates and times the code makes (`timezone.now()`, `date.today()`, with
    `.replace(...)`, `.date()`, `.isoformat()`, `- timedelta(days=n)`), the
    key of a model instance whose primary key is a number or a UUID
    (`page.id` of `Page.objects.get(...)` with no key declared or a
    `UUIDField(primary_key=True)`, `ContentType.objects.get_for_model(M).pk`),
    parameters that every call passes a number literal (`self.top(5)`) when
    the function is private or a method of a management command's
    `Command` and nothing else names it, and snippets of the database object that runs the query
    (`db.timestamp_now`); SQLAlchemy expressions (`.ilike(f"%{q}%")`);
    statements that take no bound parameters (`PRAGMA`, `SET`, DDL such as
    `CREATE TABLE ... VECTOR({self.dim})`, `DO $$...$$`), where values can
    only be formatted in, unless the value is client data; migrations and
    test files. Names and clauses put where SQL takes a name (`FROM {table}`,
    `SELECT {columns}`, `WHERE {clause}`, a member of a quoted JSON path:
    `JSON_VALUE(doc, '$.{key}')`, which Oracle needs literal; a JSON path
    filter such as `'$[*] ? (@ == "{v}")'` holds a value and is judged as
    one; a quoted name in the column list of an `INSERT`,
    `INSERT INTO t ('{col}', ...)`, which SQLite reads as a name and no
    database takes a value in) are judged only for client data: a
    name passed down from a view to a helper's parameter is a missed alarm,
    as is text that comes whole from elsewhere (a parameter, another
    function's result) or items appended to a list later joined into SQL.
    Still flagged: a primary key read from an object whose model backlint
    cannot tell (`'%s' % tile.pk` of an unannotated parameter, `value.id` of
    a plain object) or whose key is text (a `SlugField(primary_key=True)`):
    Django keeps an assigned key as given, and an `id` attribute may be set
    from posted JSON.
    Why: in framework and library code such names are the code's own, and
    flagging them buried the value injections.

    Fix:
    None: move each value into the parameters (`%s`, `:name`, `?` by driver)
    and quote identifiers (`connection.ops.quote_name`, `sql.Identifier`).
    """

    code = "BKL601"
    name = "sql-built-from-strings"
    message = (
        "SQL built from strings with non-literal parts is passed to `{sink}`: "
        "pass the values as bound parameters and quote identifiers"
    )
    skip_tests = True
    skip_migrations = True

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        """A sink's name must occur (`text(` only where SQLAlchemy is imported)."""
        if file.is_test or file.is_migration:
            return False
        if any(marker in source for marker in _SINK_MARKERS):
            return True
        return "text(" in source and ("sqlalchemy" in source or "sqlmodel" in source)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        ctx = self.ctx
        scope = ctx.scope
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in EXECUTE_METHODS:
                arg = sql_argument(node)
                if arg is not None:
                    text = SqlText(ctx, func.value, anchor=node)
                    if text.kind(arg, scope) == "built" and text.looks_like_sql():
                        self.report(node, sink=method)
                return
            if method == "raw" and self._is_django_queryset(func.value):
                self._check(node, sql_argument(node), ".raw")
                return
            if method == "extra" and self._is_django_queryset(func.value):
                for arg in extra_sql_arguments(node):
                    if SqlText(ctx, func.value, anchor=node).kind(arg, scope) == "built":
                        self.report(node, sink=".extra")
                        return
                return
        if not isinstance(func, cst.Name | cst.Attribute):
            return
        name = ctx.qualified_name(func, scope)
        if name is None:
            return
        if name in SQLALCHEMY_TEXT:
            self._check(node, sql_argument(node), "text")
        elif name in DJANGO_RAW_SQL:
            self._check(node, sql_argument(node), "RawSQL")
        elif name in PSYCOPG_SQL:
            self._check(node, sql_argument(node), "sql.SQL")

    def _check(self, node: cst.Call, arg: cst.BaseExpression | None, sink: str) -> None:
        text = SqlText(self.ctx, anchor=node)
        if arg is not None and text.kind(arg, self.ctx.scope) == "built":
            self.report(node, sink=sink)

    def _is_django_queryset(self, receiver: cst.BaseExpression) -> bool:
        """`Model.objects`, a queryset of a known model, or a chain through a
        manager named `objects`."""
        expr: cst.BaseExpression = receiver
        while True:
            if isinstance(expr, cst.Attribute):
                if expr.attr.value == "objects":
                    return True
                expr = expr.value
            elif isinstance(expr, cst.Call):
                expr = expr.func
            else:
                break
        return querysets(self.ctx).queryset(receiver) is not None
