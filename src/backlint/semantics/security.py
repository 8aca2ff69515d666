"""Security knowledge: SQL sinks and how SQL text was built, secret names,
password hashing, JWT decoding, request data.

Answers are conservative: when backlint cannot tell whether a value is
literal, SQL, a password or request data, it says no and rules stay silent.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Sequence
from typing import Literal

import libcst as cst

from backlint.semantics.context import (
    Assigned,
    FileContext,
    Imported,
    LoopTarget,
    OtherBinding,
    Parameter,
    Scope,
    ScopeKind,
)
from backlint.semantics.django import querysets
from backlint.semantics.facts import Attr, Call, ClassFacts, Const, Seq, const_str, dotted
from backlint.semantics.fastapi import DEPENDS, parameters, route_of
from backlint.semantics.flow import (
    MAX_DEPTH,
    LocalValues,
    literal_value,
    local_values,
    module_constant,
)
from backlint.semantics.index import ProjectIndex, data_view
from backlint.semantics.tree import descendants

# --------------------------------------------------------------------------
# SQL sinks.

# `text("...")`: SQLAlchemy's textual SQL.
SQLALCHEMY_TEXT = frozenset(
    {
        "sqlalchemy.text",
        "sqlalchemy.sql.text",
        "sqlalchemy.sql.expression.text",
        "sqlalchemy.sql.elements.TextClause",
        "sqlmodel.text",
    }
)
# Django's raw SQL expression.
DJANGO_RAW_SQL = frozenset({"django.db.models.expressions.RawSQL", "django.db.models.RawSQL"})
# psycopg's composable SQL: safe with `.format(sql.Identifier(...))`, not when
# the template itself is built from strings.
PSYCOPG_SQL = frozenset({"psycopg2.sql.SQL", "psycopg.sql.SQL"})
# DB-API cursors and connections, SQLAlchemy sessions and connections
# (`exec_driver_sql`: SQLAlchemy's raw string to the driver).
EXECUTE_METHODS = frozenset({"execute", "executemany", "executescript", "exec_driver_sql"})
# Keyword names of the SQL argument of the sinks.
SQL_KEYWORDS = frozenset({"sql", "query", "statement", "operation", "raw_query", "stmt"})
# Django `QuerySet.extra()` arguments that hold SQL.
EXTRA_SQL_ARGUMENTS = frozenset({"select", "where", "tables", "order_by"})
# Functions whose result is safe to put into SQL text: identifier quoting,
# literal escaping, placeholders (last name of the callee).
QUOTING_FUNCTIONS = frozenset(
    {
        "quote_name",
        "quote_name_unless_alias",
        "quote_ident",
        "quote_identifier",
        "quote_identifiers",
        "escape_identifier",
        "escape_literal",
        "escape_string",
        "quote_value",
        "Identifier",
        "Literal",
        "Placeholder",
        "placeholder",
        "bind_param",
        "param",
        "bindparam",
    }
)
# Builtins whose result is a number or a bool, never attacker text.
NUMERIC_FUNCTIONS = frozenset(
    {
        "builtins.int",
        "builtins.float",
        "builtins.len",
        "builtins.bool",
        "builtins.abs",
        "builtins.round",
        "builtins.min",
        "builtins.max",
        "builtins.sum",
        "builtins.range",
    }
)
# Calls whose result is a UUID (hex digits and dashes once made a string):
# `uuid.UUID(text)` raises on anything else.
UUID_FUNCTIONS = frozenset({"uuid.uuid1", "uuid.uuid3", "uuid.uuid4", "uuid.uuid5", "uuid.UUID"})
# Calls whose result is the current date or time: digits, dashes, colons and
# spaces once made a string, never a quote.
NOW_FUNCTIONS = frozenset(
    {
        "django.utils.timezone.now",
        "django.utils.timezone.localtime",
        "django.utils.timezone.localdate",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
    }
)
TIMEDELTA = frozenset({"datetime.timedelta"})
# Methods of a date or time whose result is one again (or, `isoformat`, its text).
_DATETIME_METHODS = frozenset({"replace", "date", "astimezone", "isoformat"})
# Attributes of a model field that name it in the schema (`field.name` in a
# loop over `model._meta.fields`).
_FIELD_NAME_ATTRIBUTES = frozenset({"name", "column", "attname"})
# String methods whose result is as literal as their receiver.
_STRING_METHODS = frozenset(
    {"strip", "lstrip", "rstrip", "lower", "upper", "title", "capitalize", "encode", "decode"}
)

_SQL_START = re.compile(
    r"^\s*\(?\s*(select|insert|update|delete|with|create|alter|drop|truncate|replace|merge|"
    r"grant|revoke|pragma|explain|vacuum|analyze|copy|lock|call|exec|declare|comment|"
    r"refresh|reindex|upsert|show)\b",
    re.IGNORECASE,
)
# Statements that take no bound parameters (PRAGMA, SET, DDL, `DO $$...$$`):
# their values can only be formatted in, so only client data there is judged.
_NO_PARAMETERS = re.compile(
    r"^\s*(pragma|set|show|create|alter|drop|truncate|do|vacuum|attach|detach|grant|"
    r"revoke|comment|reindex|cluster|listen|notify|unlisten|discard|reset)\b",
    re.IGNORECASE,
)
# Annotations of a parameter that the framework converts before the view runs.
_SAFE_ANNOTATIONS = frozenset({"int", "float", "bool", "UUID", "date", "datetime", "Decimal"})
_SQL_WORDS = re.compile(
    r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|WHERE|FROM|JOIN|VALUES|ORDER BY|GROUP BY|"
    r"LIMIT|CREATE TABLE|ALTER TABLE|DROP TABLE|SET)\b"
)

# Words of a name that holds SQL text or an identifier rather than a value.
SQL_FRAGMENT_WORDS = frozenset(
    {
        "sql",
        "clause",
        "clauses",
        "placeholder",
        "placeholders",
        "quote",
        "quoted",
        "qn",
        "definition",
        "identifier",
        "subquery",
        "fragment",
        "suffix",
    }
)
# Attributes that hold schema names from model definitions (Django's
# `model._meta.db_table`, `field.column`): identifiers of the code, not values.
SCHEMA_ATTRIBUTES = frozenset({"db_table", "column", "db_column", "attname", "_meta"})

Built = Literal["literal", "built", "opaque"]
_RANK = {"literal": 0, "opaque": 1, "built": 2}


def _worst(kinds: Sequence[Built]) -> Built:
    return max(kinds, key=_RANK.__getitem__) if kinds else "literal"


class SqlText:
    """How a string value was made: from literals only (`literal`), built by
    formatting or concatenation with a non-literal part (`built`), or unknown
    (`opaque`: a parameter, an attribute, a call). Follows local variables and
    module constants. `fragments` collects the literal text met, to tell SQL
    from other strings."""

    def __init__(
        self,
        ctx: FileContext,
        sink: cst.BaseExpression | None = None,
        anchor: cst.CSTNode | None = None,
    ) -> None:
        self.ctx = ctx
        # The sink call (visited by the walker, so its ancestors are known):
        # the `if` tests that hold around the query.
        self.anchor = anchor
        self.fragments: list[str] = []
        self._active: set[tuple[str, int]] = set()
        # Kinds of the variables of the comprehensions being judged
        # (`f"{k}={v}" for k, v in options.items()`), innermost last.
        self._comprehension: list[dict[str, Built]] = []
        # The SQL text before the expression being judged (holes as "?"):
        # tells a value position (`WHERE id = {x}`) from a name (`FROM {t}`).
        self._prefix = ""
        # Names the sink's receiver is made of (`self` of `self.execute`, `db`
        # of `(conn or db).execute`): what they provide is SQL of that
        # database (`db.timestamp_now`, `self.quote_name(...)`), not a value.
        self.roots: frozenset[str] = (
            frozenset(n.value for n in _names(sink) if n.value not in ("cursor", "cur", "c"))
            if sink is not None
            else frozenset()
        )

    def looks_like_sql(self) -> bool:
        return any(_SQL_START.match(f) or _SQL_WORDS.search(f) for f in self.fragments)

    def kind(self, expr: cst.BaseExpression, scope: Scope, depth: int = 0) -> Built:
        if depth > MAX_DEPTH:
            return "opaque"
        found = self._kind(expr, scope, depth)
        if found == "opaque" and self._is_fragment(expr):
            return "literal"
        return found

    def _is_fragment(self, expr: cst.BaseExpression) -> bool:
        """A part that is SQL, not a value: named so (`where_sql`,
        `timestamp_placeholder(...)`, `self._create_fk_sql(...)`), or provided
        by the database object that runs the query."""
        target = expr.func if isinstance(expr, cst.Call) else expr
        if isinstance(target, cst.Subscript):
            target = target.value
        if isinstance(target, cst.Name):
            last = target.value
        elif isinstance(target, cst.Attribute):
            last = target.attr.value
            root: cst.BaseExpression = target
            while isinstance(root, cst.Attribute | cst.Call | cst.Subscript):
                if isinstance(root, cst.Attribute) and root.attr.value in SCHEMA_ATTRIBUTES:
                    return True
                root = root.func if isinstance(root, cst.Call) else root.value
            if isinstance(root, cst.Name) and root.value in self.roots:
                return True
        else:
            return False
        return bool(set(name_words(last)) & SQL_FRAGMENT_WORDS)

    def _kind(self, expr: cst.BaseExpression, scope: Scope, depth: int) -> Built:
        if isinstance(expr, cst.SimpleString | cst.ConcatenatedString):
            value = expr.evaluated_value
            if isinstance(value, str):
                self.fragments.append(value)
            return "literal"
        if isinstance(expr, cst.Integer | cst.Float | cst.Imaginary):
            return "literal"
        if isinstance(expr, cst.FormattedString):
            return self._fstring(expr, scope, depth)
        if isinstance(expr, cst.Call | cst.BinaryOperation) and self._is_datetime(expr, scope):
            return "literal"
        if isinstance(expr, cst.BinaryOperation):
            return self._binary(expr, scope, depth)
        if isinstance(expr, cst.Call):
            return self._call(expr, scope, depth)
        if isinstance(expr, cst.Name):
            return self._name(expr, scope, depth)
        if isinstance(expr, cst.Attribute):
            if module_constant(self.ctx, expr, scope) is not None:
                return "literal"
            if self._class_constant(expr, scope, depth) or self._schema_name_or_key(expr, scope):
                return "literal"
            return "opaque"
        if isinstance(expr, cst.IfExp):
            return _worst(
                [self.kind(expr.body, scope, depth + 1), self.kind(expr.orelse, scope, depth + 1)]
            )
        return "opaque"

    def _hole(self, expr: cst.BaseExpression, scope: Scope, depth: int, before: str) -> Built:
        """The kind of an interpolated part, with `before` the SQL text before
        it: an opaque value in a value position makes the SQL built; in a
        name position (`FROM {table}`) it is an identifier, not judged."""
        saved, self._prefix = self._prefix, before
        try:
            found = self.kind(expr, scope, depth)
        finally:
            self._prefix = saved
        if found == "opaque":
            return "built" if self._judged(expr, scope, before) else "literal"
        return found

    def _judged(self, expr: cst.BaseExpression, scope: Scope, before: str) -> bool:
        """Whether an opaque part makes the SQL built, `before` the SQL text
        in front of it. A value position (`WHERE id = {x}`, inside quotes)
        always does, except in statements that take no bound parameters
        (PRAGMA, SET, DDL) and after a bind marker (`:{name}`: a parameter's
        name); any position does when the part is client data (request data,
        a parameter of a route or view: `ORDER BY {sort}`)."""
        if is_client_data(self.ctx, expr, scope):
            return True
        if _NO_PARAMETERS.match(before) or (
            before.endswith((":", "%(")) and not before.endswith("::")
        ):
            return False
        return value_position(before)

    def _fstring(self, expr: cst.FormattedString, scope: Scope, depth: int) -> Built:
        result: Built = "literal"
        text = ""
        for part in expr.parts:
            if isinstance(part, cst.FormattedStringText):
                self.fragments.append(part.value)
                text += part.value
            elif isinstance(part, cst.FormattedStringExpression):
                if not _numeric_spec(part):
                    before = self._prefix + text
                    if self._hole(part.expression, scope, depth + 1, before) == "built":
                        result = "built"
                text += "?"
        return result

    def _binary(self, expr: cst.BinaryOperation, scope: Scope, depth: int) -> Built:
        op = expr.operator
        if isinstance(op, cst.Modulo):
            return self._percent(expr, scope, depth)
        if isinstance(op, cst.Add):
            left = self.kind(expr.left, scope, depth + 1)
            middle = self._prefix + render(expr.left)
            saved, self._prefix = self._prefix, middle
            try:
                right = self.kind(expr.right, scope, depth + 1)
            finally:
                self._prefix = saved
            if "built" in (left, right):
                return "built"
            if left == right == "literal":
                return "literal"
            if not (
                (left == "literal" and _is_string(expr.left))
                or (right == "literal" and _is_string(expr.right))
            ):
                return "opaque"
            if (right == "opaque" and self._judged(expr.right, scope, middle)) or (
                left == "opaque" and self._judged(expr.left, scope, self._prefix)
            ):
                return "built"
            return "literal"
        left = self.kind(expr.left, scope, depth + 1)
        right = self.kind(expr.right, scope, depth + 1)
        if isinstance(op, cst.Multiply):
            # `"%s, " * n`, `["%s"] * len(ids)`: repeating literal text.
            return "literal" if "literal" in (left, right) else "opaque"
        return "literal" if left == right == "literal" else "opaque"

    def _percent(self, expr: cst.BinaryOperation, scope: Scope, depth: int) -> Built:
        """`template % values`: each value judged where its `%s` stands."""
        left = self.kind(expr.left, scope, depth + 1)
        if left == "opaque":
            return "opaque"  # maybe not a string at all (`n % 2`)
        template = self._template(expr.left, scope)
        specs = list(_CONVERSION.finditer(template)) if template is not None else []
        specs = [m for m in specs if m.group(1) != "%"]
        right = expr.right
        keyed: dict[str, cst.BaseExpression] = {}
        parts: list[cst.BaseExpression] = []
        if isinstance(right, cst.Dict):
            for el in right.elements:
                if isinstance(el, cst.DictElement):
                    key = literal_value(el.key)
                    if key is not None and isinstance(key.value, str):
                        keyed[key.value] = el.value
                    else:
                        parts.append(el.value)
        elif isinstance(right, cst.Tuple):
            parts = [el.value for el in right.elements]
        else:
            parts = [right]
        result: Built = left
        judged: list[tuple[cst.BaseExpression, str, str]] = []  # part, conversion, before
        if template is None:
            judged = [(p, "s", "?") for p in (*parts, *keyed.values())]
        elif keyed:
            for match in specs:
                name = _mapping_key(match.group(0))
                if name in keyed:
                    judged.append((keyed[name], match.group(1), template[: match.start()]))
        else:
            for i, part in enumerate(parts):
                if i < len(specs):
                    judged.append((part, specs[i].group(1), template[: specs[i].start()]))
                else:
                    judged.append((part, "s", "?"))
        for part, conversion, before in judged:
            if conversion in "dif":
                continue  # formatted as a number
            if self._hole(part, scope, depth + 1, self._prefix + before) == "built":
                result = "built"
        return result

    def _template(self, expr: cst.BaseExpression, scope: Scope) -> str | None:
        """The literal text of a template: a string, or a name bound to one."""
        const = literal_value(expr)
        if const is not None:
            return const.value if isinstance(const.value, str) else None
        values: list[cst.BaseExpression] = []
        if isinstance(expr, cst.Name):
            _, bindings = self.ctx.bindings(expr.value, scope)
            values = [b.value for b in bindings if isinstance(b, Assigned) and b.value]
            if len(values) != len(bindings):
                return None
        elif isinstance(expr, cst.Attribute):
            values = self._class_values(expr, scope)
        texts = {c.value for c in map(literal_value, values) if c is not None}
        if len(values) == 1 and len(texts) == 1:
            text = texts.pop()
            return text if isinstance(text, str) else None
        return None

    def _call(self, expr: cst.Call, scope: Scope, depth: int) -> Built:
        func = expr.func
        ctx = self.ctx
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in QUOTING_FUNCTIONS:
                return "literal"
            if method == "format":
                return self._format(expr, func, scope, depth)
            if method == "join" and expr.args:
                separator = self.kind(func.value, scope, depth + 1)
                if separator == "opaque":
                    return "opaque"
                items = self._items(expr.args[0].value, scope, depth + 1)
                if items != "opaque":
                    return items
                between = self._prefix + "?" + (self._template(func.value, scope) or "")
                if value_position(self._prefix) or value_position(between):
                    return "built"
                return "literal"  # a list of names or clauses
            if method in _STRING_METHODS:
                return self.kind(func.value, scope, depth + 1)
            if method == "group" and self._narrow_match(func.value, scope):
                return "literal"
        name = ctx.qualified_name(func, scope)
        if name in NUMERIC_FUNCTIONS or name in UUID_FUNCTIONS:
            return "literal"
        if name == "builtins.str" and expr.args:
            inner = self.kind(expr.args[0].value, scope, depth + 1)
            return "literal" if inner == "literal" else "opaque"
        if name is not None and name.rsplit(".", 1)[-1] in QUOTING_FUNCTIONS:
            return "literal"
        if isinstance(func, cst.Name):
            # `qn = connection.ops.quote_name` then `qn(column)`.
            local = local_values(ctx, func.value, scope)
            if (
                local is not None
                and local.complete
                and local.values
                and all(
                    isinstance(v, cst.Attribute) and v.attr.value in QUOTING_FUNCTIONS
                    for v in local.values
                )
            ):
                return "literal"
        return "opaque"

    def _narrow_match(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """A local bound to `re.search(PATTERN, ...)` whose pattern matches
        no quote (no `.`, `\\S`, `\\W`, `\\D` or `[^...]`): its groups are
        digits, words and the pattern's own punctuation."""
        if not isinstance(expr, cst.Name):
            return False
        local = local_values(self.ctx, expr.value, scope)
        if local is None or not local.complete or not local.values:
            return False
        for value in local.values:
            if not (
                isinstance(value, cst.Call)
                and self.ctx.qualified_name(value.func, local.scope) in _REGEX_TESTS
                and value.args
            ):
                return False
            pattern = literal_value(value.args[0].value) or module_constant(
                self.ctx, value.args[0].value, local.scope
            )
            if pattern is None or not isinstance(pattern.value, str):
                return False
            text = _groups_text(pattern.value.replace("\\.", ""))
            if any(part in text for part in (".", "\\S", "\\W", "\\D", "[^", "'", '"')):
                return False
        return True

    def _format(self, expr: cst.Call, func: cst.Attribute, scope: Scope, depth: int) -> Built:
        """`template.format(...)`: each argument judged where its field stands."""
        receiver = self.kind(func.value, scope, depth + 1)
        if receiver == "opaque":
            return "opaque"  # `sql.SQL(...).format(...)`: not a str
        positional = [a.value for a in expr.args if a.keyword is None and not a.star]
        named = {a.keyword.value: a.value for a in expr.args if a.keyword is not None}
        template = self._template(func.value, scope)
        judged: list[tuple[cst.BaseExpression, str]] = []
        if template is None:
            judged = [(v, "?") for v in (*positional, *named.values())]
        else:
            text = ""
            auto = 0
            try:
                fields = list(string.Formatter().parse(template))
            except ValueError:
                fields = []
            for literal, field, _, _ in fields:
                text += literal
                if field is None:
                    continue
                key = field.split(".", 1)[0].split("[", 1)[0]
                value: cst.BaseExpression | None = None
                if key == "":
                    value = positional[auto] if auto < len(positional) else None
                    auto += 1
                elif key.isdigit():
                    index = int(key)
                    value = positional[index] if index < len(positional) else None
                else:
                    value = named.get(key)
                if value is not None:
                    judged.append((value, text))
                text += "?"
        result: Built = receiver
        for value, before in judged:
            if self._hole(value, scope, depth + 1, self._prefix + before) == "built":
                result = "built"
        return result

    def _items(self, expr: cst.BaseExpression, scope: Scope, depth: int) -> Built:
        """The kind of the items of an iterable (for `sep.join(items)`)."""
        if depth > MAX_DEPTH:
            return "opaque"
        if isinstance(expr, cst.List | cst.Tuple | cst.Set):
            return _worst(
                [
                    self.kind(el.value, scope, depth + 1)
                    if not isinstance(el, cst.StarredElement)
                    else self._items(el.value, scope, depth + 1)
                    for el in expr.elements
                ]
            )
        if isinstance(expr, cst.GeneratorExp | cst.ListComp | cst.SetComp):
            bound: dict[str, Built] = {}
            comp: cst.CompFor | None = expr.for_in
            while comp is not None:
                bound.update(self._comprehension_targets(comp, scope, depth + 1))
                comp = comp.inner_for_in
            self._comprehension.append(bound)
            try:
                return self.kind(expr.elt, scope, depth + 1)
            finally:
                self._comprehension.pop()
        if isinstance(expr, cst.Call):
            # `itertools.repeat("%s", n)`: n copies of one item.
            name = self.ctx.qualified_name(expr.func, scope)
            if name == "itertools.repeat" and expr.args and expr.args[0].keyword is None:
                return self.kind(expr.args[0].value, scope, depth + 1)
        if isinstance(expr, cst.SimpleString | cst.ConcatenatedString):
            return "literal"  # `",".join("?" * n)`: its characters
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Multiply):
            left = self._items(expr.left, scope, depth + 1)
            return left if left == "literal" else self._items(expr.right, scope, depth + 1)
        if isinstance(expr, cst.Attribute):
            values = self._class_values(expr, scope)
            if not values:
                return "opaque"
            return _worst([self._items(v, scope, depth + 1) for v in values])
        if isinstance(expr, cst.Name):
            entries = self._loop_entries(expr, scope)
            if entries is not None:
                return _worst([self._items(v, scope, depth + 1) for v in entries])
            local = local_values(self.ctx, expr.value, scope)
            if local is None:
                owner, bindings = self.ctx.bindings(expr.value, scope)
                if owner is None or owner.kind is not ScopeKind.MODULE:
                    return "opaque"
                module_values = tuple(
                    b.value for b in bindings if isinstance(b, Assigned) and b.value
                )
                complete = len(module_values) == len(bindings)
                local = LocalValues(owner, module_values, complete)  # a module constant
            if not local.complete or not local.values:
                return "opaque"
            key = (expr.value, id(local.scope))
            if key in self._active:
                return "literal"
            self._active.add(key)
            try:
                return _worst([self._items(v, local.scope, depth + 1) for v in local.values])
            finally:
                self._active.discard(key)
        return "opaque"

    def _comprehension_targets(
        self, comp: cst.CompFor, scope: Scope, depth: int
    ) -> dict[str, Built]:
        """The kinds of the names a comprehension's `for` binds: the items of
        its iterable for a single name, the keys and values of a local dict
        for `k, v in d.items()`; anything else is opaque."""
        target = comp.target
        if isinstance(target, cst.Name):
            return {target.value: self._items(comp.iter, scope, depth)}
        names = [n.value for n in descendants(target) if isinstance(n, cst.Name)]
        bound: dict[str, Built] = dict.fromkeys(names, "opaque")
        pair = _items_loop(target, comp.iter)
        if pair is not None:
            entries = self._dict_entries(pair[2], scope)
            if entries is not None:
                keys, values = entries
                bound[pair[0]] = _worst([self.kind(k, scope, depth + 1) for k in keys])
                bound[pair[1]] = _worst([self.kind(v, scope, depth + 1) for v in values])
        return bound

    def _loop_entries(self, expr: cst.Name, scope: Scope) -> list[cst.BaseExpression] | None:
        """What a name bound only by `for key, value in d.items():` loops over
        a local dict (`_dict_entries`) can be: the dict's keys or values
        (arches' `for geom_type, st_type in geometry_types.items()` over
        tuples of quoted literals). None for any other binding."""
        owner, bindings = self.ctx.bindings(expr.value, scope)
        if owner is None or not bindings:
            return None
        out: list[cst.BaseExpression] = []
        for binding in bindings:
            if not isinstance(binding, LoopTarget) or binding.whole_target:
                return None
            pair = _items_loop(binding.loop.target, binding.loop.iter)
            if pair is None:
                return None
            entries = self._dict_entries(pair[2], owner)
            if entries is None:
                return None
            names = list(pair[:2])
            out += entries[names.index(expr.value)] if expr.value in names else []
        return out or None

    def _dict_entries(
        self, expr: cst.Name, scope: Scope
    ) -> tuple[list[cst.BaseExpression], list[cst.BaseExpression]] | None:
        """The keys and values a local dict is given: its dict literals and
        `d[key] = value` assignments in the same function; None when it is
        bound or changed any other way (`d.update(...)`, passed to a call)."""
        local = local_values(self.ctx, expr.value, scope)
        if local is None or not local.complete or not local.values:
            return None
        keys: list[cst.BaseExpression] = []
        values: list[cst.BaseExpression] = []
        for value in local.values:
            if not isinstance(value, cst.Dict):
                return None
            for el in value.elements:
                if not isinstance(el, cst.DictElement):
                    return None
                keys.append(el.key)
                values.append(el.value)
        uses = 0
        for node in descendants(local.scope.node):
            if isinstance(node, cst.Assign):
                for target in node.targets:
                    t = target.target
                    if (
                        isinstance(t, cst.Subscript)
                        and isinstance(t.value, cst.Name)
                        and t.value.value == expr.value
                    ):
                        index = t.slice[0].slice if len(t.slice) == 1 else None
                        if not isinstance(index, cst.Index):
                            return None
                        keys.append(index.value)
                        values.append(node.value)
                        uses -= 1  # the subscript's own name
            if isinstance(node, cst.Name) and node.value == expr.value:
                uses += 1
        # Each name use is a binding, a `d[k] = v`, or the one `.items()`
        # being judged; any other use (a call, `d.update`) may add entries.
        if uses > len(local.values) + 1:
            return None
        return keys, values

    def _name(self, expr: cst.Name, scope: Scope, depth: int) -> Built:
        ctx = self.ctx
        if expr.value in ("True", "False", "None"):
            return "literal"
        for bound in reversed(self._comprehension):
            if expr.value in bound:
                return bound[expr.value]
        if _regex_checked(ctx, expr, self.anchor):
            return "literal"  # `if re.match(DATE, expr): ... f"'{expr}'"`
        owner, bindings = ctx.bindings(expr.value, scope)
        if owner is None or not bindings:
            return "opaque"
        key = (expr.value, id(owner))
        if key in self._active:
            return "literal"  # `sql = sql + ...`: the other bindings decide
        kinds: list[Built] = []
        self._active.add(key)
        try:
            for binding in bindings:
                if isinstance(binding, Assigned) and binding.value is not None:
                    kinds.append(self.kind(binding.value, owner, depth + 1))
                elif isinstance(binding, OtherBinding) and isinstance(binding.node, cst.AugAssign):
                    # `sql += " SET a = '%s'" % v`: text after an unknown start.
                    saved, self._prefix = self._prefix, self._prefix + "? "
                    try:
                        kinds.append(self.kind(binding.node.value, owner, depth + 1))
                    finally:
                        self._prefix = saved
                elif isinstance(binding, LoopTarget) and binding.whole_target:
                    kinds.append(self._items(binding.loop.iter, owner, depth + 1))
                elif isinstance(binding, LoopTarget) and (
                    entries := self._loop_entries(expr, scope)
                ):
                    kinds.append(_worst([self.kind(v, owner, depth + 1) for v in entries]))
                elif isinstance(binding, Parameter) and (
                    _converted(binding.param) or self._called_with_literals(binding.param, owner)
                ):
                    kinds.append("literal")  # `limit: int`: a number
                elif isinstance(binding, Imported):
                    found = ctx.index.lookup(binding.qualified)
                    kinds.append("literal" if isinstance(found, Const) else "opaque")
                else:
                    kinds.append("opaque")
        finally:
            self._active.discard(key)
        return _worst(kinds)

    def _is_datetime(self, expr: cst.BaseExpression, scope: Scope, depth: int = 0) -> bool:
        """A date or time the code makes: `timezone.now()`, `date.today()`, with
        `.replace(...)`, `.date()`, `.astimezone(...)`, `.isoformat()` and
        `+`/`-` a `timedelta(...)`, through local names bound only to such."""
        if depth > MAX_DEPTH:
            return False
        if isinstance(expr, cst.BinaryOperation):
            if not isinstance(expr.operator, cst.Add | cst.Subtract):
                return False
            sides = (expr.left, expr.right)
            return any(self._is_datetime(e, scope, depth + 1) for e in sides) and all(
                self._is_datetime(e, scope, depth + 1) or self._is_timedelta(e, scope)
                for e in sides
            )
        if isinstance(expr, cst.Call):
            func = expr.func
            if isinstance(func, cst.Attribute) and func.attr.value in _DATETIME_METHODS:
                return all(isinstance(a.value, cst.Integer) for a in expr.args) and (
                    self._is_datetime(func.value, scope, depth + 1)
                )
            return self.ctx.qualified_name(func, scope) in NOW_FUNCTIONS
        if isinstance(expr, cst.Name):
            owner, bindings = self.ctx.bindings(expr.value, scope)
            return (
                owner is not None
                and bool(bindings)
                and all(
                    isinstance(b, Assigned)
                    and b.value is not None
                    and self._is_datetime(b.value, owner, depth + 1)
                    for b in bindings
                )
            )
        return False

    def _is_timedelta(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """`timedelta(days=n)`: a length of time whatever its (numeric) arguments."""
        return isinstance(expr, cst.Call) and self.ctx.qualified_name(expr.func, scope) in TIMEDELTA

    def _schema_name_or_key(self, expr: cst.Attribute, scope: Scope) -> bool:
        """Names of the schema and keys that cannot hold a quote: `field.name`
        of a loop over a model's `_meta` fields, and `obj.pk`/`obj.id` of a
        model instance whose primary key is a number or a UUID."""
        attr, receiver = expr.attr.value, expr.value
        if not isinstance(receiver, cst.Name):
            return False
        if attr in ("pk", "id"):
            return querysets(self.ctx).key_is_number_or_uuid(receiver, scope)
        if attr not in _FIELD_NAME_ATTRIBUTES:
            return False
        owner, bindings = self.ctx.bindings(receiver.value, scope)
        return (
            owner is not None
            and bool(bindings)
            and all(
                isinstance(b, LoopTarget)
                and b.whole_target
                and "_meta" in _attribute_names(b.loop.iter)
                for b in bindings
            )
        )

    def _called_with_literals(self, param: cst.Param, owner: Scope) -> bool:
        """A parameter of a function no other module calls (a private one, or
        a method of a management command's `Command`) that its class calls
        through `self`, or its module by name, at least once and always with
        a number literal in its place (`self.top_pages(5)`), and that nothing
        else there names (no reference passes the function on)."""
        node = owner.node
        if not isinstance(node, cst.FunctionDef) or param.star:
            return False
        params = list(node.params.params)
        if param not in params:
            return False  # keyword-only and starred parameters: left out
        position = params.index(param)
        parent = owner.parent
        method = parent is not None and parent.kind is ScopeKind.CLASS
        root = parent.node if method and parent is not None else self.ctx.tree
        command = isinstance(root, cst.ClassDef) and root.name.value == "Command"
        if not (node.name.value.startswith("_") or command):
            return False
        static = any(
            isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod"
            for d in node.decorators
        )
        if method and not static:
            position -= 1  # `self`
        name, calls, references = node.name.value, 0, 0
        for found in descendants(root):
            if isinstance(found, cst.Call) and _calls_own(found.func, name, method):
                if not isinstance(_argument(found, position, param.name.value), cst.Integer):
                    return False
                calls += 1
            elif isinstance(found, cst.Name) and found.value == name and found is not node.name:
                references += 1  # the callee's name in a call counts here too
        return calls > 0 and references == calls

    def _class_constant(self, expr: cst.Attribute, scope: Scope, depth: int) -> bool:
        """`self.TABLE` / `cls.TABLE` with `TABLE = "..."` in the enclosing class body."""
        values = self._class_values(expr, scope)
        return bool(values) and all(self.kind(v, scope, depth + 1) == "literal" for v in values)

    def _class_values(self, expr: cst.Attribute, scope: Scope) -> list[cst.BaseExpression]:
        """What `self.X`/`cls.X` is bound to in the enclosing class body."""
        if not (isinstance(expr.value, cst.Name) and expr.value.value in ("self", "cls")):
            return []
        cls_scope: Scope | None = scope
        while cls_scope is not None and cls_scope.kind is not ScopeKind.CLASS:
            cls_scope = cls_scope.parent
        if cls_scope is None:
            return []
        bindings = self.ctx.scope_facts(cls_scope).bindings.get(expr.attr.value)
        if not bindings or not all(isinstance(b, Assigned) and b.value for b in bindings):
            return []
        return [b.value for b in bindings if isinstance(b, Assigned) and b.value is not None]


def _calls_own(func: cst.BaseExpression, name: str, method: bool) -> bool:
    """`self.name(...)`/`cls.name(...)` for a method, `name(...)` otherwise."""
    if not method:
        return isinstance(func, cst.Name) and func.value == name
    return (
        isinstance(func, cst.Attribute)
        and func.attr.value == name
        and isinstance(func.value, cst.Name)
        and func.value.value in ("self", "cls")
    )


def _argument(call: cst.Call, position: int, keyword: str) -> cst.BaseExpression | None:
    """The argument a call passes to the parameter at `position` named `keyword`."""
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    positional = [arg.value for arg in call.args if arg.keyword is None]
    return positional[position] if 0 <= position < len(positional) else None


def _attribute_names(expr: cst.BaseExpression) -> set[str]:
    """The attribute names of a chain (`model._meta.get_fields()`: `_meta`, `get_fields`)."""
    names: set[str] = set()
    while isinstance(expr, cst.Attribute | cst.Call | cst.Subscript):
        if isinstance(expr, cst.Attribute):
            names.add(expr.attr.value)
        expr = expr.func if isinstance(expr, cst.Call) else expr.value
    return names


# Regex tests: a value matched against a pattern is of the pattern's shape.
_REGEX_TESTS = frozenset({"re.match", "re.fullmatch", "re.search"})


def _regex_checked(ctx: FileContext, name: cst.Name, anchor: cst.CSTNode | None) -> bool:
    """`name` is used inside `if re.match(PATTERN, name):` (or
    `PATTERN.fullmatch(name)`) around the query (`anchor`, or the name
    itself): the code checked its shape (a date, an identifier) before
    formatting it into SQL."""
    start: cst.CSTNode = name if ctx.parent(name) is not None or anchor is None else anchor
    child: cst.CSTNode = start
    for parent in ctx.ancestors(start):
        if isinstance(parent, cst.If) and child is parent.body:
            for node in (parent.test, *descendants(parent.test)):
                if not isinstance(node, cst.Call) or not node.args:
                    continue
                func = node.func
                regex = ctx.qualified_name(func) in _REGEX_TESTS or (
                    isinstance(func, cst.Attribute)
                    and func.attr.value in ("match", "fullmatch")
                    and len(node.args) == 1
                )
                if regex and any(
                    isinstance(a.value, cst.Name) and a.value.value == name.value for a in node.args
                ):
                    return True
        if isinstance(parent, cst.FunctionDef | cst.ClassDef | cst.Module):
            return False
        child = parent
    return False


def _groups_text(pattern: str) -> str:
    """The text of a regex inside its groups (the whole pattern without any)."""
    out: list[str] = []
    level = 0
    for char in pattern:
        if char == ")" and level:
            level -= 1
        if level:
            out.append(char)
        if char == "(":
            level += 1
    return "".join(out) if "(" in pattern else pattern


def _names(expr: cst.BaseExpression) -> Iterator[cst.Name]:
    if isinstance(expr, cst.Name):
        yield expr
    elif isinstance(expr, cst.Attribute):
        yield from _names(expr.value)
    elif isinstance(expr, cst.BooleanOperation):
        yield from _names(expr.left)
        yield from _names(expr.right)
    elif isinstance(expr, cst.Call):
        yield from _names(expr.func)


_VALUE_TAIL = re.compile(
    r"(=|<|>|\blike|\bilike|\bin\s*\(|\bvalues\s*\(|\blimit|\boffset|\bbetween|\bthen|"
    r"\belse|\bwhen|\bin\s*\([^()]*,|\bvalues\s*\([^()]*,|\bbetween\s+\S+\s+and|"
    r"[=<>]\s*(?:any|all)\s*\()$",
    re.IGNORECASE,
)


# The text of an open quoted literal that is a JSON path so far (`'$.{key}'`,
# `'$.meta."{key}"'`, `'$[{i}]'`, `'lax $.{key}'`): member names and indexes
# only, no filter (`? (@.name == "{v}")`), which holds values.
_JSON_PATH = re.compile(r"""^(?:(?:strict|lax)\s+)?\$[.\[][\w.?"\[\]*-]*$""", re.IGNORECASE)
# The column list of an `INSERT`/`REPLACE` so far, ending in an open quote:
# `INSERT INTO t ('id', '` (also `? INTO ? ('`, the verb formatted in). SQLite
# reads a quoted string where only a name can stand as that name (code quotes
# columns that are keywords: `'order'`), and no other database takes a string
# there: what is formatted in is a column name, not a value.
_COLUMN_LIST = re.compile(
    r"""\binto\s+[\w."`\[\]?]+\s*\(\s*"""
    r"""(?:(?:'[^']*'|"[^"]*"|`[^`]*`|[\w?]+)\s*,\s*)*'[^']*$""",
    re.IGNORECASE,
)


def value_position(before: str) -> bool:
    """Whether SQL text continues with a value after `before`: inside a quoted
    string literal, after a comparison, `LIKE`, `IN (`, `VALUES (`, `LIMIT`.
    A quoted JSON path (`JSON_VALUE(doc, '$.{key}')`) takes a member name
    there, not a value: a name position (Oracle needs the path literal); so
    does a quoted name in the column list of an `INSERT` (`INSERT INTO t
    ('{col}', ...)`, SQLite's quoting of a keyword column)."""
    unquoted = before.replace("''", "")
    if unquoted.count("'") % 2 == 1:
        return not (
            _JSON_PATH.match(unquoted[unquoted.rindex("'") + 1 :]) or _COLUMN_LIST.search(unquoted)
        )
    return bool(_VALUE_TAIL.search(before.rstrip()))


def render(expr: cst.BaseExpression) -> str:
    """The literal text of a string expression, each non-literal part as "?"."""
    if isinstance(expr, cst.SimpleString | cst.ConcatenatedString):
        value = expr.evaluated_value
        return value if isinstance(value, str) else "?"
    if isinstance(expr, cst.FormattedString):
        return "".join(
            p.value if isinstance(p, cst.FormattedStringText) else "?" for p in expr.parts
        )
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        return render(expr.left) + render(expr.right)
    return "?"


def _mapping_key(spec: str) -> str | None:
    """`%(name)s` -> "name"."""
    if spec.startswith("%(") and ")" in spec:
        return spec[2 : spec.index(")")]
    return None


def _numeric_spec(part: cst.FormattedStringExpression) -> bool:
    """`{limit:d}`: formatted as a number."""
    spec = part.format_spec
    if not spec:
        return False
    text = "".join(p.value for p in spec if isinstance(p, cst.FormattedStringText))
    return bool(text) and text[-1] in "dfexXob%"


_CONVERSION = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?([a-zA-Z%])")


def _is_string(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.SimpleString | cst.ConcatenatedString | cst.FormattedString)


def sql_argument(call: cst.Call) -> cst.BaseExpression | None:
    """The SQL argument of a sink: the first positional one, or a keyword."""
    for arg in call.args:
        if arg.keyword is None and arg.star == "":
            return arg.value
        if arg.keyword is not None and arg.keyword.value in SQL_KEYWORDS:
            return arg.value
    return None


def extra_sql_arguments(call: cst.Call) -> Iterator[cst.BaseExpression]:
    """The SQL strings of `QuerySet.extra(select={...}, where=[...], ...)`."""
    for arg in call.args:
        if arg.keyword is None or arg.keyword.value not in EXTRA_SQL_ARGUMENTS:
            continue
        value = arg.value
        if isinstance(value, cst.Dict):
            yield from (el.value for el in value.elements if isinstance(el, cst.DictElement))
        elif isinstance(value, cst.List | cst.Tuple):
            yield from (el.value for el in value.elements)
        else:
            yield value


# --------------------------------------------------------------------------
# Secrets.

# Last words of a name that holds a secret (`client_secret`, `db_password`).
SECRET_LAST_WORDS = frozenset(
    {"secret", "password", "passwd", "pwd", "passphrase", "token", "apikey", "credentials"}
)
# Last two words of a name that holds a key used as a secret (`api_key`).
SECRET_KEY_PAIRS = frozenset(
    {"api", "secret", "private", "signing", "access", "encryption", "auth", "master", "hmac"}
)
_NAME_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def name_words(name: str) -> list[str]:
    """`clientSecret`, `CLIENT_SECRET`, `client_secret` -> ["client", "secret"]."""
    return [w.lower() for w in _NAME_WORDS.findall(name)]


def is_secret_name(name: str) -> bool:
    """Names that hold a secret value (`SECRET_KEY`, `api_key`, `db_password`),
    not those that merely mention one (`token_url`, `password_min_length`)."""
    words = name_words(name)
    if not words:
        return False
    if words[-1] in SECRET_LAST_WORDS:
        return True
    return len(words) >= 2 and words[-1] == "key" and words[-2] in SECRET_KEY_PAIRS


def is_secret_literal(expr: cst.BaseExpression) -> bool:
    """A non-empty string literal that could be a secret (not a placeholder
    reference like `${SECRET}`, nor a file path)."""
    const = literal_value(expr)
    return const is not None and is_secret_text(const.value)


# Prefixes of keys their vendors issue to be embedded in clients (browser
# code, apps, shipped telemetry): public by design, they can only send data
# in or identify the account, never read it back. PostHog project API keys
# (`phc_`; its personal keys are `phx_`), Stripe publishable keys (`pk_live_`,
# `pk_test_`; secret ones are `sk_`/`rk_`, a convention Clerk and Paystack
# share), Mapbox public tokens (`pk.eyJ`; secret ones `sk.`).
PUBLISHABLE_KEY_PREFIXES = ("phc_", "pk_live_", "pk_test_", "pk.eyJ")


def is_secret_text(value: object) -> bool:
    """The same test for a literal's value."""
    if not isinstance(value, str | bytes):
        return False
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    text = value.strip()
    if not text or text.startswith(PUBLISHABLE_KEY_PREFIXES):
        return False
    if text.startswith(("${", "{{", "$(", "<", "/", "./", "~/", "file:")):
        return False
    return not text.lower().endswith((".pem", ".key", ".crt", ".json", ".txt"))


@data_view
def sentinel_defaults(index: ProjectIndex) -> frozenset[tuple[str, str]]:
    """(attribute, literal) pairs the project compares somewhere
    (`settings.SKYVERN_API_KEY != "PLACEHOLDER"`): a default the code
    itself tells from a configured value ("not set"), not a secret."""
    return frozenset(pair for facts in index.modules.values() for pair in facts.sentinels)


# Words a placeholder value is made of (`testpassword`, `changeme`,
# `default-password`, `dev_secret`): a value that says it is not a secret.
PLACEHOLDER_WORDS = (
    "changeme",
    "change",
    "default",
    "development",
    "dev",
    "dummy",
    "example",
    "fake",
    "insecure",
    "local",
    "me",
    "placeholder",
    "sample",
    "testing",
    "test",
    "password",
    "passwd",
    "pass",
    "secret",
    "your",
    "here",
    "xxx",
)
_PLACEHOLDER = re.compile(r"^(?:(?:" + "|".join(PLACEHOLDER_WORDS) + r")[-_ .]?)+$", re.IGNORECASE)


def is_placeholder_text(value: object) -> bool:
    """A value made only of placeholder words, run together or not
    (`testpassword`, `defaultpassword`, `change-me`), one of which is not
    `password`/`secret` (a bare `"password"` may be a real, weak one)."""
    if not isinstance(value, str) or not _PLACEHOLDER.match(value.strip()):
        return False
    rest = re.sub(r"password|passwd|pass|secret|[-_ .]", "", value.lower())
    return bool(rest)


# --------------------------------------------------------------------------
# Passwords and hashes.

# Fast general-purpose hashes: fine for checksums, not for passwords.
FAST_HASHES = frozenset(
    {
        "hashlib.md5",
        "hashlib.sha1",
        "hashlib.sha224",
        "hashlib.sha256",
        "hashlib.sha384",
        "hashlib.sha512",
        "hashlib.sha3_224",
        "hashlib.sha3_256",
        "hashlib.sha3_384",
        "hashlib.sha3_512",
        "hashlib.blake2b",
        "hashlib.blake2s",
    }
)
FAST_HASH_NAMES = frozenset(name.rsplit(".", 1)[1] for name in FAST_HASHES) | frozenset(
    {"sha-1", "sha-256", "sha-512"}
)
PASSWORD_WORDS = frozenset({"password", "passwd", "pwd", "passphrase"})
# Verbs of a function that hashes or checks a password (`hash_password`).
PASSWORD_VERBS = frozenset(
    {"hash", "hashed", "encrypt", "encode", "make", "set", "check", "verify", "digest", "crypt"}
)
# Words that make a password-named function about something else (a reset token).
NOT_PASSWORD_WORDS = frozenset({"reset", "token", "link", "url", "email", "length", "policy"})
# Django hashers that must not lead PASSWORD_HASHERS.
WEAK_DJANGO_HASHERS = frozenset(
    f"django.contrib.auth.hashers.{name}"
    for name in (
        "MD5PasswordHasher",
        "UnsaltedMD5PasswordHasher",
        "SHA1PasswordHasher",
        "UnsaltedSHA1PasswordHasher",
        "CryptPasswordHasher",
    )
)
# passlib schemes that are fast, unsalted or plain text.
WEAK_PASSLIB_SCHEMES = frozenset(
    {
        "md5_crypt",
        "apr_md5_crypt",
        "sun_md5_crypt",
        "des_crypt",
        "bsdi_crypt",
        "bigcrypt",
        "crypt16",
        "plaintext",
        "ldap_plaintext",
        "ldap_md5",
        "ldap_salted_md5",
        "ldap_sha1",
        "ldap_salted_sha1",
        "hex_md4",
        "hex_md5",
        "hex_sha1",
        "hex_sha256",
        "hex_sha512",
        "mysql323",
        "mysql41",
        "postgres_md5",
        "oracle10",
        "oracle11",
        "lmhash",
        "nthash",
        "django_salted_md5",
        "django_salted_sha1",
        "django_des_crypt",
        "unix_disabled",
    }
)
CRYPT_CONTEXT = frozenset({"passlib.context.CryptContext", "passlib.apps.CryptContext"})


def is_password_name(name: str) -> bool:
    """A name that holds a password (`password`, `raw_password`, `user.pwd`),
    not a hash of one or a related thing (`password_hash`, `password_reset`)."""
    words = name_words(name)
    return bool(words) and words[-1] in PASSWORD_WORDS


def is_password_function(name: str) -> bool:
    """`hash_password`, `make_password`, `encrypt_pwd`: a verb, then the
    password (not `password_hash_id`, about the hash)."""
    words = name_words(name)
    return (
        bool(words)
        and words[-1] in PASSWORD_WORDS
        and bool(set(words) & PASSWORD_VERBS)
        and not set(words) & NOT_PASSWORD_WORDS
    )


def mentions_password(expr: cst.BaseExpression) -> bool:
    """Whether a password-named value flows into `expr`: `password`,
    `user.password.encode()`, `data["password"]`, `f"{salt}{pwd}"`."""
    for node in (expr, *descendants(expr, prune=(cst.Lambda,))):
        if isinstance(node, cst.Name) and is_password_name(node.value):
            return True
        if isinstance(node, cst.SimpleString):
            value = node.evaluated_value
            if isinstance(value, str) and is_password_name(value) and len(value) < 40:
                return True
    return False


# --------------------------------------------------------------------------
# JWT.

JWT_DECODE = frozenset({"jwt.decode", "jwt.api_jwt.decode", "jose.jwt.decode"})
JWT_ENCODE = frozenset({"jwt.encode", "jwt.api_jwt.encode", "jose.jwt.encode"})


# --------------------------------------------------------------------------
# Request data.

# Attributes of a request that hold client data, unvalidated.
REQUEST_DATA_ATTRIBUTES = frozenset(
    {"data", "POST", "GET", "query_params", "form", "json", "args", "values", "body"}
)
# Methods of a request that return client data (`await request.json()`).
REQUEST_DATA_METHODS = frozenset({"json", "form", "get_json", "body"})
# Methods of a dict-like that keep its content.
_DICT_COPIES = frozenset({"dict", "copy", "to_dict"})
REQUEST_NAMES = frozenset({"request", "req"})


def is_request(expr: cst.BaseExpression) -> bool:
    """`request`, `req`, `self.request`."""
    if isinstance(expr, cst.Name):
        return expr.value in REQUEST_NAMES
    return (
        isinstance(expr, cst.Attribute)
        and expr.attr.value == "request"
        and isinstance(expr.value, cst.Name)
        and expr.value.value == "self"
    )


def is_request_data(
    ctx: FileContext, expr: cst.BaseExpression, scope: Scope, depth: int = 0
) -> bool:
    """Client data straight from the request: `request.data`, `request.POST`,
    `await request.json()`, `json.loads(request.body)`, `dict(request.POST)`,
    `request.data.copy()`, or a local variable bound to one."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(expr, cst.Await):
        return is_request_data(ctx, expr.expression, scope, depth + 1)
    if isinstance(expr, cst.Attribute):
        return expr.attr.value in REQUEST_DATA_ATTRIBUTES and is_request(expr.value)
    if isinstance(expr, cst.Call):
        func = expr.func
        if isinstance(func, cst.Attribute):
            if func.attr.value in REQUEST_DATA_METHODS and is_request(func.value):
                return True
            if func.attr.value in _DICT_COPIES and not expr.args:
                return is_request_data(ctx, func.value, scope, depth + 1)
        name = ctx.qualified_name(func, scope)
        if name in ("builtins.dict", "json.loads") and len(expr.args) == 1:
            return is_request_data(ctx, expr.args[0].value, scope, depth + 1)
        return False
    if isinstance(expr, cst.Name):
        local = local_values(ctx, expr.value, scope)
        if local is None or not local.values:
            return False
        return any(is_request_data(ctx, v, local.scope, depth + 1) for v in local.values)
    return False


# Methods of request data that return one of its items.
_ITEM_METHODS = frozenset({"get", "getlist", "pop", "getone"})


def is_client_data(
    ctx: FileContext, expr: cst.BaseExpression, scope: Scope, depth: int = 0
) -> bool:
    """Text the HTTP client chose: request data or an item of it
    (`request.GET["sort"]`, `request.query_params.get("order")`), a parameter
    of a FastAPI route or of a Django view (the request itself, and parameters
    annotated as numbers, UUIDs or dates, which the framework converts,
    excepted), or a local variable or f-string made of one."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(expr, cst.Subscript):
        return is_request_data(ctx, expr.value, scope, depth + 1)
    if isinstance(expr, cst.Call):
        func = expr.func
        if isinstance(func, cst.Attribute):
            if func.attr.value in _ITEM_METHODS:
                return is_request_data(ctx, func.value, scope, depth + 1)
            if func.attr.value in _STRING_METHODS:
                return is_client_data(ctx, func.value, scope, depth + 1)
        if ctx.qualified_name(func, scope) == "builtins.str" and len(expr.args) == 1:
            return is_client_data(ctx, expr.args[0].value, scope, depth + 1)
        return False
    if isinstance(expr, cst.FormattedString):
        return any(
            isinstance(part, cst.FormattedStringExpression)
            and is_client_data(ctx, part.expression, scope, depth + 1)
            for part in expr.parts
        )
    if isinstance(expr, cst.Name):
        owner, bindings = ctx.bindings(expr.value, scope)
        if owner is None or owner.kind is not ScopeKind.FUNCTION:
            return False
        for binding in bindings:
            if isinstance(binding, Parameter):
                if _view_parameter(ctx, owner, binding.param):
                    return True
            elif isinstance(binding, Assigned) and binding.value is not None:
                value = binding.value
                if is_request_data(ctx, value, owner, depth + 1) or is_client_data(
                    ctx, value, owner, depth + 1
                ):
                    return True
        return False
    return False


def _converted(param: cst.Param) -> bool:
    """A parameter annotated as a number, bool, UUID or date (`limit: int`)."""
    annotation = param.annotation.annotation if param.annotation is not None else None
    last = annotation.attr if isinstance(annotation, cst.Attribute) else annotation
    return isinstance(last, cst.Name) and last.value in _SAFE_ANNOTATIONS


def _view_parameter(ctx: FileContext, owner: Scope, param: cst.Param) -> bool:
    """A parameter the client fills: of a FastAPI route (not a dependency's
    result), or after `request` in a Django view function or method."""
    node = owner.node
    name = param.name.value
    if not isinstance(node, cst.FunctionDef) or name in ("self", "cls", *REQUEST_NAMES):
        return False
    if _converted(param):
        return False
    default = param.default
    if isinstance(default, cst.Call) and ctx.qualified_name(default.func) in DEPENDS:
        return False  # what a dependency returns
    names = [p.name.value for p in parameters(node)]
    first = next((i for i, n in enumerate(names[:2]) if n in REQUEST_NAMES), None)
    if first is not None and names.index(name) > first:
        return True  # a Django view (function or method): URL arguments
    return (
        ctx.index.uses("fastapi")
        and owner.parent is not None
        and route_of(ctx, node, owner.parent) is not None
    )


# --------------------------------------------------------------------------
# Django views.

CSRF_EXEMPT = frozenset({"django.views.decorators.csrf.csrf_exempt"})
METHOD_DECORATOR = frozenset({"django.utils.decorators.method_decorator"})
# Django class-based views that answer only safe methods (GET, HEAD,
# OPTIONS), and mixins that add no handler: a view made only of these and of
# project classes without a write handler never meets a CSRF check.
# (`RedirectView` is left out: its `post()` redirects like `get()`.)
SAFE_VIEW_BASES = frozenset(
    {
        "builtins.object",
        "django.views.View",
        "django.views.generic.View",
        "django.views.generic.base.View",
        "django.views.generic.TemplateView",
        "django.views.generic.base.TemplateView",
        "django.views.generic.base.ContextMixin",
        "django.views.generic.base.TemplateResponseMixin",
        "django.views.generic.DetailView",
        "django.views.generic.detail.DetailView",
        "django.views.generic.detail.SingleObjectMixin",
        "django.views.generic.detail.SingleObjectTemplateResponseMixin",
        "django.views.generic.ListView",
        "django.views.generic.list.ListView",
        "django.views.generic.list.MultipleObjectMixin",
        "django.views.generic.list.MultipleObjectTemplateResponseMixin",
        "django.contrib.auth.mixins.LoginRequiredMixin",
        "django.contrib.auth.mixins.PermissionRequiredMixin",
        "django.contrib.auth.mixins.UserPassesTestMixin",
        "django.contrib.auth.mixins.AccessMixin",
        # django-rules' subclass of Django's: it only reads the rule to test.
        "rules.contrib.views.PermissionRequiredMixin",
    }
)
# HTTP methods Django's CSRF check never applies to.
SAFE_HTTP_METHODS = frozenset({"get", "head", "options", "trace"})
_WRITE_HANDLERS = frozenset({"post", "put", "patch", "delete"})


def answers_safe_methods_only(
    index: ProjectIndex, qualname: str, writes: frozenset[str] = _WRITE_HANDLERS
) -> bool:
    """Whether the class-based view `qualname` (a project class) answers only
    GET/HEAD/OPTIONS (and the write methods not in `writes`):
    `http_method_names` holds only those, or no class of its MRO defines a
    method (or binds a name) in `writes` and every class outside
    the project is a safe Django view (`View`, `TemplateView`, ...); bases
    re-exported by a star import (`from .base import *`) are followed. A
    `dispatch` of the project must return `super().dispatch(...)` only (it
    could answer a POST itself). Unknown (a base outside the project and
    Django's safe views, a class not in the index) says no."""
    if not index.complete:
        return False
    classes = list(index.ancestors(qualname))
    if not classes or classes[0].qualname != index.canonical(qualname):
        return False
    for cls in classes:
        methods = cls.attribute("http_method_names")
        if isinstance(methods, Seq):
            verbs = {const_str(v) for v in methods.items}
            if None not in verbs:
                allowed = SAFE_HTTP_METHODS | (_WRITE_HANDLERS - writes)
                return {v.lower() for v in verbs if v} <= allowed
            return False
    known = {cls.qualname for cls in classes}
    for cls in classes:
        if not _safe_view_class(cls, writes):
            return False
        for base in cls.bases:
            name = dotted(base)
            if name is None:
                return False
            if index.canonical(name) not in known and name not in SAFE_VIEW_BASES:
                return False
    return True


def answers_no_form_post(index: ProjectIndex, qualname: str) -> bool:
    """Whether the class-based view `qualname` answers no POST (only safe
    methods and `put`/`patch`/`delete`): a page of another site can send a
    browser's cookies with a form's GET or POST only; any other method from
    `fetch()` needs a CORS preflight the server must grant (BKL607 reports a
    project that grants it to every origin with credentials)."""
    return answers_safe_methods_only(index, qualname, frozenset({"post"}))


def _safe_view_class(cls: ClassFacts, writes: frozenset[str]) -> bool:
    if any(name in writes for name, _ in cls.attributes):
        return False  # `post = other_view`: a handler bound by assignment
    for method in cls.methods:
        if method.name in writes:
            return False
        if method.name == "dispatch" and not (
            method.returned and all(_is_super_dispatch(v) for v in method.returned)
        ):
            return False
    return True


def _is_super_dispatch(value: object) -> bool:
    return (
        isinstance(value, Call)
        and isinstance(value.func, Attr)
        and value.func.attr == "dispatch"
        and isinstance(value.func.value, Call)
        and dotted(value.func.value.func) == "builtins.super"
    )


# Words of a view, class, module or URL path that make it a webhook: called by
# another server, authenticated by a signature, never by a browser session.
WEBHOOK_WORDS = frozenset({"webhook", "webhooks", "hook", "hooks", "ipn"})
# Views that identity providers post to (OAuth/SAML/OIDC callbacks): the
# protocol's state or signature protects them, not a CSRF cookie.
IDENTITY_PROVIDER_WORDS = frozenset(
    {"callback", "saml", "sso", "acs", "oauth", "oauth2", "oidc", "openid", "social"}
)


# Calls that change nothing: what a view that only logs and answers makes.
_INERT_PREFIXES = (
    "django.http.",
    "django.shortcuts.",  # render, redirect, get_object_or_404
    "django.template.",
    "django.utils.",
    "django.core.paginator.",
    "json.",
    "simplejson.",
    "urllib.parse.",
    "logging.",
    "builtins.",
)
_INERT_FUNCTIONS = frozenset(
    {"django.urls.reverse", "django.db.models.Q", "django.db.models.query_utils.Q"}
)
# Queryset methods that read (the writes, `update()`, `delete()`, `create()`,
# `save()`..., are not among them).
_ORM_READS = frozenset(
    {
        "filter", "exclude", "all", "count", "exists", "values", "values_list", "order_by",
        "select_related", "prefetch_related", "only", "defer", "distinct", "annotate",
        "aggregate", "first", "last", "in_bulk", "iterator", "latest", "earliest", "none",
    }
)  # fmt: skip
_LOG_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
)
_READ_METHODS = frozenset(
    {
        "get",
        "getlist",
        "decode",
        "encode",
        "format",
        "strip",
        "lower",
        "upper",
        "split",
        "items",
        "keys",
        "values",
        "startswith",
        "endswith",
        "join",
        "replace",
        "isoformat",
        "page",
    }
)


def is_inert_view(ctx: FileContext, node: cst.FunctionDef) -> bool:
    """A view that changes nothing: it reads the request and the database,
    logs and answers (a CSP or error report sink, a metrics no-op, an
    autodiscover answer, a status poll, a JSON lookup). Every call is a
    response, a template render, `get_object_or_404`, a log call, a read
    (`request.POST.get`, `json.loads`, `.decode()`), a queryset read
    (`filter`, `count`, `values_list`...), a question (a function or method
    named `get_*`, `is_*`, `has_*`, `can_*`: `form.is_valid()`,
    `has_perm(...)`), a Django form of the project, a rendering of such a
    form (`form.as_p()`), a project helper that only handles the data it
    is given (`handles_data`), or an exception raised; and nothing is
    assigned to an attribute or to an item of anything but a local
    (`resp["X"] = ...`)."""
    return _changes_nothing(ctx, [node.body], _defaults(node))


def _defaults(node: cst.FunctionDef) -> dict[str, cst.BaseExpression]:
    params = node.params
    return {
        p.name.value: p.default
        for p in (*params.params, *params.kwonly_params)
        if p.default is not None
    }


# Methods of Django's `BaseForm` that render the form or its errors: a form
# of the project, bound to posted data, shown back (tendenci's price check
# answers a GET with `form.as_p()`).
_FORM_RENDERING = frozenset(
    {"as_p", "as_table", "as_ul", "as_div", "render", "non_field_errors", "hidden_fields",
     "visible_fields", "is_multipart"}
)  # fmt: skip


def _changes_nothing(
    ctx: FileContext,
    roots: Sequence[cst.CSTNode],
    defaults: dict[str, cst.BaseExpression],
    builders: bool = False,
) -> bool:
    """What `is_inert_view` reads of a view's body, for the nodes `roots`;
    `builders`: a call of a project function that returns only Django
    responses (`_builds_response`) is a response too."""
    raised: set[int] = set()  # `raise Http403()`: an exception built to answer
    forms: set[str] = set()  # locals bound to a form of the project
    for root in roots:
        for child in descendants(root, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            if (
                isinstance(child, cst.Assign)
                and len(child.targets) == 1
                and isinstance(child.targets[0].target, cst.Name)
                and isinstance(child.value, cst.Call)
                and _makes_form(ctx, child.value, defaults)
            ):
                forms.add(child.targets[0].target.value)
    for root in roots:
        for child in descendants(root, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            if isinstance(child, cst.Raise) and isinstance(child.exc, cst.Call):
                raised.add(id(child.exc))
            if isinstance(child, cst.Assign | cst.AugAssign | cst.AnnAssign):
                targets = (
                    [t.target for t in child.targets]
                    if isinstance(child, cst.Assign)
                    else [child.target]
                )
                for target in targets:
                    if isinstance(target, cst.Attribute) or (
                        isinstance(target, cst.Subscript) and not isinstance(target.value, cst.Name)
                    ):
                        return False
            elif isinstance(child, cst.Del | cst.Global | cst.Nonlocal) or (
                isinstance(child, cst.Call)
                and id(child) not in raised
                and not _inert_call(ctx, child, defaults)
                and not _renders_form(child, forms)
                and not (builders and _builds_response(ctx, child))
            ):
                return False
    return True


def _makes_form(ctx: FileContext, call: cst.Call, defaults: dict[str, cst.BaseExpression]) -> bool:
    func = call.func
    if isinstance(func, cst.Name) and func.value in defaults:
        func = defaults[func.value]  # `form_class(request.POST)`, a parameter's default
    name = ctx.qualified_name(func)
    return name is not None and _form_class(ctx.index, name)


def _renders_form(call: cst.Call, forms: set[str]) -> bool:
    """`form.as_p()` of a local bound to a form of the project."""
    func = call.func
    return (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and func.value.value in forms
        and func.attr.value in _FORM_RENDERING
    )


def _builds_response(ctx: FileContext, call: cst.Call) -> bool:
    """A call of a project function whose every returned value is a Django
    response built there (tendenci's `themed_response`, which renders a
    template into an `HttpResponse`; its `api_return(status)`). What it does
    before it returns is not read: a builder that writes is a missed alarm."""
    name = ctx.qualified_name(call.func)
    fn = ctx.index.find_function(ctx.index.canonical(name)) if name is not None else None
    if fn is None or not fn.returned:
        return False
    for value in fn.returned:
        func = dotted(value.func) if isinstance(value, Call) else None
        if func is None or not func.startswith(("django.http.", "django.shortcuts.render")):
            return False
    return True


def _inert_call(ctx: FileContext, call: cst.Call, defaults: dict[str, cst.BaseExpression]) -> bool:
    func = call.func
    if isinstance(func, cst.Name) and func.value in defaults:
        func = defaults[func.value]  # `form_class(request.POST)`, a parameter's default
    name = ctx.qualified_name(func)
    if name is not None and (name.startswith(_INERT_PREFIXES) or name in _INERT_FUNCTIONS):
        return True
    if isinstance(func, cst.Attribute):
        method = func.attr.value
        return method in _LOG_METHODS | _READ_METHODS | _ORM_READS or _asks(method)
    if isinstance(func, cst.Name) and _asks(func.value):
        return True
    if name is None:
        return False
    # Imported here: `errors` reads request data with this module's help.
    from backlint.semantics.errors import handles_data

    # A project helper that only handles what it is given (tendenci's
    # `is_ajax(request)`, which compares a header), or a Django form of the
    # project, which validates (its `save()` is another call).
    return (
        handles_data(ctx, name) is not None
        or _form_class(ctx.index, name)
        or _response_class(ctx.index, name)
    )


def _response_class(index: ProjectIndex, qualname: str) -> bool:
    """A project class of Django's responses that only builds one: a base
    under `django.http` and no method but `__init__` (tendenci's
    `JSONResponse(HttpResponse)`, which dumps its object as the content).
    What its `__init__` does is not read: one that writes is a missed alarm."""
    cls = index.find_class(index.canonical(qualname))
    if cls is None or any(m.name != "__init__" for m in cls.methods):
        return False
    bases = (dotted(base) for base in cls.bases)
    return any(b is not None and index.canonical(b).startswith("django.http.") for b in bases)


def _asks(name: str) -> bool:
    """`get_price_for_user`, `is_valid`, `has_perm`, `can_edit`: a question."""
    return name.startswith(("get_", "is_", "has_", "can_")) and "create" not in name


def _form_class(index: ProjectIndex, qualname: str) -> bool:
    return any(
        (dotted(base) or "").startswith("django.forms.")
        for cls in index.ancestors(qualname)
        for base in cls.bases
    )


# What a view may read of the request without using the browser's
# credentials: what the sender wrote (the body, the query, the method, the
# path). Not `user`, `session`, `COOKIES`, nor `META`/`headers`, which hold
# the cookie header and the client's address.
CREDENTIAL_FREE_REQUEST_ATTRS = frozenset(
    {
        "POST", "GET", "body", "FILES", "method", "content_type", "content_params",
        "encoding", "path", "path_info", "get_host", "build_absolute_uri", "is_secure",
    }
)  # fmt: skip
# Decorators that only filter the HTTP method or shape the answer (caching,
# gzip, `Vary`, `X-Frame-Options`, trailing slash, error-report masking): a
# view under any other (`@login_required`) may use the session.
_METHOD_FILTER_PREFIXES = tuple(
    f"django.views.decorators.{module}."
    for module in ("http", "cache", "gzip", "vary", "clickjacking", "common", "debug")
)
# Methods that give the browser a cookie: a view that hands the attacker's
# credential to the victim's browser (login CSRF) needs no request to do so.
_COOKIE_SETTERS = frozenset({"set_cookie", "set_signed_cookie", "delete_cookie"})


def uses_no_browser_credentials(ctx: FileContext, node: cst.FunctionDef) -> bool:
    """A view function (`node`, with the request as its first parameter) that
    never acts on the browser's credentials: it reads only what the sender
    wrote (`request.POST`, `request.GET`, `request.body`, ...:
    `CREDENTIAL_FREE_REQUEST_ATTRS`), passes the request itself to nothing
    (no helper, form or `login(request, ...)` can reach the session through
    it), sets no cookie (`set_cookie`, a `Set-Cookie` header), and has no
    decorator but CSRF's, Django's method and cache filters and a rate limit
    (`@ratelimit`, which can only refuse). Whatever it
    does (`Token.objects.get(key=request.POST["token"])`
    and a change to that token's row), any client can do by posting directly:
    a forged request from the victim's browser adds nothing to it."""
    params = node.params
    positional = [*params.posonly_params, *params.params]
    if not positional:
        return False
    return _plain_decorators(ctx, node.decorators) and _body_uses_no_credentials(
        node.body, positional[0].name.value
    )


AUTHENTICATE = frozenset({"django.contrib.auth.authenticate"})
# What takes the browser's session: a view that calls it, reads it or sets a
# cookie may act for the session, whoever the request names.
_LOGIN = frozenset({"django.contrib.auth.login"})
_SESSION_ATTRS = frozenset({"session", "COOKIES"})


def authenticates_posted_credentials(ctx: FileContext, node: cst.FunctionDef) -> bool:
    """A view function (`node`, the request its first parameter) that
    replaces the session user by the user of credentials posted in the body
    before it acts (django-helpdesk's API: `request.user =
    authenticate(request=request, username=request.POST.get("user"),
    password=request.POST.get("password"))`): a top-level statement of its
    body rebinds `request.user` to `authenticate(...)` of arguments that read
    of the request only what the sender wrote (the request itself may be
    handed to `authenticate` as `request=`), and every statement before it
    changes nothing (`is_inert_view`'s reading; a guard's answer may also be
    built by a project function that returns only Django responses). The
    view calls no `login()`, reads no `request.session` or `request.COOKIES`
    and sets no cookie. A forged request without the password acts as no
    user; with the attacker's, as the attacker, as a direct post would.
    Missed alarm: a helper handed the request that reaches the session
    itself."""
    positional = [*node.params.posonly_params, *node.params.params]
    if not positional or not isinstance(node.body, cst.IndentedBlock):
        return False
    request = positional[0].name.value
    statements = node.body.body
    defaults = _defaults(node)
    for stmt in statements:
        if _rebinds_user(ctx, stmt, request):
            break
        if not _changes_nothing(ctx, [stmt], defaults, builders=True):
            return False
    else:
        return False
    for child in descendants(node.body, prune=(cst.Lambda,)):
        if isinstance(child, cst.Call) and ctx.qualified_name(child.func) in _LOGIN:
            return False
        if (
            isinstance(child, cst.Attribute)
            and isinstance(child.value, cst.Name)
            and child.value.value == request
            and child.attr.value in _SESSION_ATTRS
        ) or (isinstance(child, cst.Attribute) and child.attr.value in _COOKIE_SETTERS):
            return False
        if isinstance(child, cst.SimpleString) and str(child.evaluated_value).lower() in (
            "set-cookie",
            "http_cookie",
            "cookie",
        ):
            return False
    return True


def _rebinds_user(ctx: FileContext, stmt: cst.BaseStatement, request: str) -> bool:
    """`request.user = authenticate(username=request.POST["u"], ...)`."""
    if not (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Assign)
    ):
        return False
    assign = stmt.body[0]
    target = assign.targets[0].target if len(assign.targets) == 1 else None
    value = assign.value
    if not (
        isinstance(target, cst.Attribute)
        and isinstance(target.value, cst.Name)
        and target.value.value == request
        and target.attr.value == "user"
        and isinstance(value, cst.Call)
        and ctx.qualified_name(value.func) in AUTHENTICATE
    ):
        return False
    for arg in value.args:
        if (
            arg.keyword is not None
            and arg.keyword.value == "request"
            and isinstance(arg.value, cst.Name)
            and arg.value.value == request
        ):
            continue  # the request handed to the authentication backends
        if (
            arg.keyword is None
            or (isinstance(arg.value, cst.Name) and arg.value.value == request)
            or arg.star
            or not _body_uses_no_credentials(arg.value, request)
        ):
            return False
    return bool(value.args)


# django-ratelimit's decorator (`semantics.ratelimit` reads it too): it
# counts the request and may refuse it, and gives the view nothing.
_RATE_LIMIT_DECORATORS = frozenset(
    {"django_ratelimit.decorators.ratelimit", "ratelimit.decorators.ratelimit"}
)


def _plain_decorators(ctx: FileContext, decorators: Sequence[cst.Decorator]) -> bool:
    """Only CSRF's decorator, Django's method, cache and debug filters and a
    rate limit, bare or through `method_decorator(d)` / `method_decorator((d, e))`."""
    pending = [d.decorator for d in decorators]
    while pending:
        expr = pending.pop()
        name = ctx.qualified_name(expr.func if isinstance(expr, cst.Call) else expr)
        if name in METHOD_DECORATOR and isinstance(expr, cst.Call) and expr.args:
            inner = expr.args[0].value
            if isinstance(inner, cst.Tuple | cst.List):
                pending += [e.value for e in inner.elements]
            else:
                pending.append(inner)
            continue
        if name is None or not (
            name in CSRF_EXEMPT
            or name in _RATE_LIMIT_DECORATORS
            or name.startswith(_METHOD_FILTER_PREFIXES)
        ):
            return False
    return True


def _body_uses_no_credentials(
    body: cst.CSTNode, request: str, owner: str | None = None, barred: frozenset[str] = frozenset()
) -> bool:
    """`body` reads of `request` only `CREDENTIAL_FREE_REQUEST_ATTRS`, hands
    it to nothing and sets no cookie; `owner` (a method's `self`) is used
    only as `self.name` for a name not in `barred`, and handed to nothing."""
    reads: set[int] = set()
    for child in descendants(body):
        if (
            isinstance(child, cst.Attribute)
            and isinstance(child.value, cst.Name)
            and child.value.value == request
        ):
            if child.attr.value not in CREDENTIAL_FREE_REQUEST_ATTRS:
                return False
            reads.add(id(child.value))
        elif (
            owner is not None
            and isinstance(child, cst.Attribute)
            and isinstance(child.value, cst.Name)
            and child.value.value == owner
        ):
            if child.attr.value in barred:
                return False
            reads.add(id(child.value))
        elif (
            isinstance(child, cst.Name)
            and child.value in (request, owner)
            and id(child) not in reads
        ):
            return False  # the request (or the view) itself, handed on or rebound
        elif (isinstance(child, cst.Attribute) and child.attr.value in _COOKIE_SETTERS) or (
            isinstance(child, cst.SimpleString)
            and str(child.evaluated_value).lower() == "set-cookie"
        ):
            return False
    return True


# What a class-based view's `self` holds of the browser's request (Django's
# `View.setup` stores it as `self.request`).
_SELF_CREDENTIALS = frozenset({"request"})
# `View` methods that reach the request: `self.dispatch(request)` and the like.
_VIEW_PLUMBING = frozenset({"setup", "dispatch", "http_method_not_allowed", "options"})
# Bases a class-based view may have for its handlers to be read alone: Django's
# plain `View`, which adds nothing but the dispatch by method.
_PLAIN_VIEW_BASES = frozenset(
    {
        "builtins.object",
        "django.views.View",
        "django.views.generic.View",
        "django.views.generic.base.View",
    }
)


def handlers_use_no_browser_credentials(
    ctx: FileContext, index: ProjectIndex, node: cst.ClassDef, qualname: str
) -> bool:
    """The class-based view `node` (module-level, `qualname`) answers unsafe
    methods only by handlers that use no browser credentials: its write
    handlers (`post`, `put`, `patch`, `delete`) are all defined in `node`
    and each is what `uses_no_browser_credentials` accepts of a function,
    the request being its second parameter; `self` is read only for
    attributes other than `self.request`, and the methods of `node` it
    calls (`self.validate(...)`) read no `self.request` either, and hand
    `self` to nothing; the class has no decorator but such filters; its
    other classes (the project's, star re-exports followed) define no write
    handler, a `dispatch` that only returns `super().dispatch(...)` (whatever
    it does before, it does for a GET as well, which no CSRF check covers),
    and derive in the end from Django's plain `View` only (no mixin that
    could use the session). Unknown (a base outside the index) says no."""
    if not index.complete or not _plain_decorators(ctx, node.decorators):
        return False
    classes = list(index.ancestors(qualname))
    if not classes or classes[0].qualname != index.canonical(qualname):
        return False
    known = {cls.qualname for cls in classes}
    for position, cls in enumerate(classes):
        for base in cls.bases:
            name = dotted(base)
            if name is None or (
                index.canonical(name) not in known and name not in _PLAIN_VIEW_BASES
            ):
                return False
        if any(name in _WRITE_HANDLERS for name, _ in cls.attributes):
            return False  # `post = other_view`: a handler not read here
        for method in cls.methods:
            if method.name in _WRITE_HANDLERS and position > 0:
                return False
            if method.name == "dispatch" and not (
                method.returned and all(_is_super_dispatch(v) for v in method.returned)
            ):
                return False
    methods = {
        m.name.value: m
        for m in node.body.body
        if isinstance(m, cst.FunctionDef) and not m.decorators
    }
    handlers = [
        m
        for m in node.body.body
        if isinstance(m, cst.FunctionDef) and m.name.value in _WRITE_HANDLERS
    ]
    if not handlers:
        return False
    helpers = frozenset(methods) - _WRITE_HANDLERS - SAFE_HTTP_METHODS - _VIEW_PLUMBING
    # `self.name` may be a helper of `node` (checked below), a class attribute
    # or `self.kwargs`; not the request nor a method read nowhere here.
    barred = (
        (frozenset(m.name for cls in classes for m in cls.methods) - helpers)
        | _SELF_CREDENTIALS
        | _VIEW_PLUMBING
    )
    for handler in handlers:
        positional = [*handler.params.posonly_params, *handler.params.params]
        if (
            len(positional) < 2
            or not _plain_decorators(ctx, handler.decorators)
            or not _body_uses_no_credentials(
                handler.body, positional[1].name.value, positional[0].name.value, barred
            )
        ):
            return False
    for name in helpers:
        helper = methods[name]
        positional = [*helper.params.posonly_params, *helper.params.params]
        if positional and not _body_uses_no_credentials(
            helper.body, "request", positional[0].name.value, barred
        ):
            return False
    return True


def marks_webhook(name: str) -> bool:
    """`stripe_webhook`, `GithubHookView`, `payments/webhooks.py`, `"hooks/stripe/"`,
    and `silent_post` (the payment gateways' name of the URL their server
    posts a transaction's result to: Authorize.Net's Silent Post)."""
    words = set(name_words(name))
    return (
        bool(words & (WEBHOOK_WORDS | IDENTITY_PROVIDER_WORDS))
        or "webhook" in name.lower()
        or {"silent", "post"} <= words
    )


# --------------------------------------------------------------------------
# CORS.

CORS_MIDDLEWARE = frozenset(
    {
        "starlette.middleware.cors.CORSMiddleware",
        "fastapi.middleware.cors.CORSMiddleware",
    }
)
# django-cors-headers: both names allow every origin.
CORS_ALLOW_ALL_SETTINGS = frozenset({"CORS_ALLOW_ALL_ORIGINS", "CORS_ORIGIN_ALLOW_ALL"})
CORS_CREDENTIALS_SETTING = "CORS_ALLOW_CREDENTIALS"


def is_wildcard_origin_regex(pattern: str) -> bool:
    """`.*`, `^https?://.*$`: a regex that names no domain."""
    rest = re.sub(r"https\??|http|://|[\^$()?\\]", "", pattern)
    return not re.search(r"[A-Za-z0-9]", rest)


def _items_loop(
    target: cst.BaseExpression, it: cst.BaseExpression
) -> tuple[str, str, cst.Name] | None:
    """`for key, value in d.items()` (a loop or a comprehension): the two
    names and the dict's name; None for any other target or iterable."""
    if not (
        isinstance(target, cst.Tuple)
        and len(target.elements) == 2
        and isinstance(it, cst.Call)
        and not it.args
        and isinstance(it.func, cst.Attribute)
        and it.func.attr.value == "items"
        and isinstance(it.func.value, cst.Name)
    ):
        return None
    key, value = (el.value for el in target.elements)
    if not (isinstance(key, cst.Name) and isinstance(value, cst.Name)):
        return None
    return key.value, value.value, it.func.value
