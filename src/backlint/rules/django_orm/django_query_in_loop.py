"""BKL302 django-query-in-loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import Assigned, FileContext, Imported, LoopTarget, ScopeKind
from backlint.semantics.django import (
    CHOICES_LISTS,
    SAVE_OVERRIDING_BASES,
    TRANSACTION_ATOMIC,
    WRITE_ERRORS,
    Model,
    QuerySet,
    choices_enum,
    iterated_attribute,
    querysets,
)
from backlint.semantics.facts import (
    Attr,
    Call,
    ClassFacts,
    Comp,
    Const,
    FunctionFacts,
    Local,
    Mapping,
    Ref,
    Seq,
    Value,
    dotted,
)
from backlint.semantics.flow import caught_types
from backlint.semantics.index import ProjectIndex
from backlint.semantics.names import dotted_name
from backlint.semantics.tree import descendants
from backlint.types import SourceFile

# Queryset and manager methods that run a query, with the cure to suggest.
_FETCH = "fetch the rows once before the loop (`in_bulk()`, `filter(pk__in=...)`)"
_COMPUTE = "compute it once before the loop, or annotate the rows"
_CREATE = "collect the objects and `bulk_create()` them after the loop"
_UPDATE = "update the rows in one query (`filter(pk__in=...).update(...)`) or `bulk_update()`"
_DELETE = "delete the rows in one query (`filter(pk__in=...).delete()`)"
QUERY_METHODS: dict[str, str] = {
    "get": _FETCH,
    "first": _FETCH,
    "last": _FETCH,
    "earliest": _FETCH,
    "latest": _FETCH,
    "count": _COMPUTE,
    "exists": _COMPUTE,
    "contains": _COMPUTE,
    "aggregate": _COMPUTE,
    "create": _CREATE,
    "get_or_create": _CREATE,
    "update_or_create": _CREATE,
    "update": _UPDATE,
    "delete": _DELETE,
}
QUERY_METHODS |= {f"a{name}": cure for name, cure in QUERY_METHODS.items()}
# Model instance methods that run a query.
INSTANCE_METHODS: dict[str, str] = {
    "save": "`bulk_update()` (or `bulk_create()`) the objects after the loop",
    "delete": _DELETE,
    "refresh_from_db": "fetch the rows once before the loop",
}
INSTANCE_METHODS |= {f"a{name}": cure for name, cure in INSTANCE_METHODS.items()}
# `save(force_insert=True)` makes new rows (pretix copies an event's rows with
# `pk = None` and a forced insert): only `bulk_create()` does that in one query.
_INSERT_SAVE = "`bulk_create()` the objects after the loop"
_METHODS = frozenset(QUERY_METHODS) | frozenset(INSTANCE_METHODS)
# Instance deletes: a queryset `delete()` does not call the model's own
# `delete()`, so when the project overrides it the loop is the only way.
_DELETES = frozenset({"delete", "adelete"})
# Saves, one row at a time: `bulk_create()`/`bulk_update()` do not call the
# model's own `save()`, so when the project overrides it the loop is the way.
_SAVES = frozenset(
    {
        "save",
        "create",
        "get_or_create",
        "update_or_create",
        "asave",
        "acreate",
        "aget_or_create",
        "aupdate_or_create",
    }
)

_SCOPES = (cst.FunctionDef, cst.Lambda, cst.ClassDef)
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)
_LITERALS = (cst.List, cst.Tuple, cst.Set, cst.Dict, cst.SimpleString, cst.ConcatenatedString)
# Wrappers that keep an iterable as short as it was.
_SAME_LENGTH = frozenset({"builtins.enumerate", "builtins.sorted", "builtins.reversed"})
_EXITS = (cst.Break, cst.Return, cst.Raise)
# Collections built from an iterable, as short as it.
_COLLECTIONS = frozenset({"builtins.tuple", "builtins.list", "builtins.set", "builtins.frozenset"})
# Django's app registry: the installed apps and models, as many as the code defines.
_CODE_REGISTRIES = frozenset({"django.apps.apps.get_models", "django.apps.apps.get_app_configs"})
# Decorators that return what the function returns (`_short_return`).
_KEEP_RETURN = frozenset({"builtins.staticmethod", "functools.cache", "functools.lru_cache"})
# Django's settings object: its UPPER_CASE attributes are configuration.
_SETTINGS = "django.conf.settings."
# Calls that change rows: a loop making them may re-fetch what it holds.
_CHANGES = frozenset(
    {
        "save",
        "asave",
        "delete",
        "adelete",
        "update",
        "aupdate",
        "move_to",
        "move_node",
        "insert_node",
        "insert_at",
    }
)
# Queries whose result measures the work done (rows updated, deleted or
# counted): a status row of the item records them (`_recorded`).
_MEASURES = frozenset(
    {
        "count",
        "exists",
        "aggregate",
        "update",
        "delete",
        "acount",
        "aexists",
        "aaggregate",
        "aupdate",
        "adelete",
    }
)
# Measuring queries that are the work itself: writes.
_WRITES = frozenset({"update", "delete", "aupdate", "adelete"})
# Writes one row at a time whose failure a per-item `try` can isolate
# (`_isolated`): reads have no failure to isolate.
_ISOLATED = frozenset({"save", "create", "get_or_create", "update_or_create", "update", "delete"})
_ISOLATED |= {f"a{name}" for name in _ISOLATED}
# Manager writes that insert from their keyword arguments (`_open_file_argument`).
_CREATES = frozenset(
    {
        "create",
        "get_or_create",
        "update_or_create",
        "acreate",
        "aget_or_create",
        "aupdate_or_create",
    }
)
# Words naming a loop over batches of rows.
_BATCH_WORDS = ("batch", "chunk")


def short(expr: cst.BaseExpression) -> str:
    """`Order.objects.filter(...).first()`: the chain, arguments elided."""
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return f"{short(expr.value)}.{expr.attr.value}"
    if isinstance(expr, cst.Call):
        return f"{short(expr.func)}({'...' if expr.args else ''})"
    if isinstance(expr, cst.Subscript):
        return f"{short(expr.value)}[...]"
    return "..."


@dataclass(frozen=True, slots=True)
class DjangoQueryInLoopOptions:
    # Also judge loops over what is not known to be rows of the database (a
    # parameter, a list, a form's fields): as long as the callers make them.
    every_loop: bool = False


class DjangoQueryInLoop(Rule):
    """A Django query runs on every iteration of a loop.

    What it flags:
    Inside the body of a `for` loop or a comprehension (its element and
    conditions, the iterables of its inner `for`s) over rows of the database,
    a call that runs a query:
    a manager or queryset method that evaluates (`get`, `first`, `last`,
    `count`, `exists`, `aggregate`, `create`, `get_or_create`,
    `update_or_create`, `update`, `delete`..., and their `a*` async twins),
    or a model instance's `save()`, `delete()`, `refresh_from_db()`. Reported
    where the call starts, with the batch alternative: `in_bulk()` or
    `filter(pk__in=...)` for lookups, `bulk_create()`, `bulk_update()`, one
    `update()`/`delete()` over the rows. A loop is over rows when it iterates
    a queryset (`Order.objects.filter(...)`, `.values_list(...)`), a related
    manager's rows (`order.items.all()`, also of an instance backlint cannot
    type when the attribute is a relation a model of the project names), or
    such rows through `enumerate()`, `sorted()`, `list()`, `zip()`, a
    comprehension, `+`, or a local name bound to one of these: as many
    iterations as the table has rows. `every-loop = true` (in
    `[tool.backlint.django-query-in-loop]`) judges every other loop too (a
    parameter, a form's data, a list the code builds), short ones excepted.

    Why:
    One query per item: the loop's cost grows with the data, one network
    round trip at a time. Importing a thousand rows makes a thousand INSERTs
    where one `bulk_create()` makes one.

    Example:
    ```python
    from django.db import models

    class Product(models.Model):
        sku = models.CharField(max_length=20)
        stock = models.IntegerField()

    def restock(supplier: str) -> None:
        for sku in Product.objects.filter(sku__startswith=supplier).values_list("sku", flat=True):
            product = Product.objects.get(sku=sku)
            product.stock += 10
            product.save()
    ```

    Use instead:
    ```python
    from django.db import models

    class Product(models.Model):
        sku = models.CharField(max_length=20)
        stock = models.IntegerField()

    def restock(supplier: str) -> None:
        products = list(Product.objects.filter(sku__startswith=supplier))
        for product in products:
            product.stock += 10
        Product.objects.bulk_update(products, ["stock"])
    ```

    Not flagged:
    Without `every-loop`, loops over what is not known to be rows: a
    parameter, an attribute of one, what a function returns, a list or dict
    the code builds, the split of a command-line option (as long as their
    callers make them, often a handful: real N+1 loops over such lists are
    missed); the loop's own iterable (evaluated once); a query memoised per key
    (`if key not in cache: cache[key] = <query>`: once per distinct key);
    loops over literal lists,
    tuples, sets, strings, `range(<literal>)`, slices with a literal bound
    (`qs[:3]`), `zip()` with one such argument, Django settings
    (`settings.AVATAR_SIZES`), Django's app registry (`apps.get_models()`,
    `apps.get_app_configs()`: the installed models), comprehensions and `tuple()`/`list()` over
    such iterables, and names bound to any of these: local
    variables, module-level constants in the module or imported from another
    module of the project, there written as a literal or built from one by a
    comprehension (`AI_CHECKS = tuple(f"ai_{c}" for c in CATEGORIES)`) (short
    by construction); a model's choices, one iteration per choice written
    in the code: class attributes of the project written as literals
    (`Agreement.TYPE_CHOICES`), enums and Django choices enums (`for s in
    Order.Status`, `Order.Status.choices`, `.values`, `.labels`), classes
    whose metaclass iterates a literal attribute of theirs (nautobot's
    `ChoiceSet` and its `CHOICES`); what a function of the project returns
    when it is as short as such loops (names bound to its calls included):
    a comprehension over a short iterable (`return [s for s in STATUSES if
    ...]`), or a local list, set or dict it starts empty and grows only by
    `append()`, `add()` or `d[k] = v` in `for` loops over short iterables,
    its parameters read as the call's arguments, a choice set given by name
    or taken from the values of a constant map of choice sets (nautobot's
    `export_metadata_from_choiceset(choiceset)`, one dict appended per
    `choiceset.CHOICES`, called `for path, choiceset in
    ROLE_CHOICESET_MAP.items()`); a helper that also grows its list another
    way (`extend()`, passing it on, a `while` loop), one given a parameter
    or a queryset, one with a decorator other than `functools.cache` or
    `lru_cache` (which may return something else), and a method called on
    an instance, are still flagged;
    a loop over a queryset filtered on a
    choice value (`filter(type=Agreement.TYPE_TOS)`: as many rows as that
    type has) is still flagged, and, with `every-loop`, so is a collection keyed by a choices
    field built elsewhere (misago's `form.agreements`, one entry per
    agreement type: backlint does not follow what a parameter's attribute
    holds, nor what keys a function's dict gets, and Django does not keep a
    choices field's column to its choices), and so is a
    parameter every caller fills with one element (the callers are not
    followed: a public function, a model method or a task may be called
    from code backlint does not see); an instance's `delete()`
    when the model (or a project base of it) overrides `delete()`, which the
    one-query `filter(pk__in=...).delete()` would skip; `save()`, `create()`,
    `get_or_create()`, `update_or_create()` when the model overrides
    `save()`, which `bulk_create()`/`bulk_update()` would skip (so does a
    base of another package known to: django-mptt's `MPTTModel`,
    django-polymorphic's `PolymorphicModel`, `OrderedModel`); an
    instance's `save()` in an iteration that assigns one of its file fields
    (`attachment.upload = File(...)`): `FileField.pre_save()` stores the file
    in `save()`, which `bulk_update()` does not call; a `create()` (or
    `get_or_create()`, `update_or_create()`, or a `save()` of an instance
    built in the iteration) whose file field is given a file opened by a
    `with ... as f:` block of the iteration (`FileUpload.objects.create(
    file=File(f))`): the insert stores the file while it is open, and a
    `bulk_create()` after the loop would get closed files (a file read into
    memory first, `create(image=ContentFile(f.read()))`, and a `save()`
    after such a `create()`, are still flagged); queries in a
    `with transaction.atomic():` block opened once per item (one row per
    transaction on purpose, so that a failure leaves the others done); a
    write (`save()`, `create()`, `update()`, `delete()`...) in a `try` of the
    loop body with an `except` that catches the write's failure (bare,
    `Exception`, `IntegrityError`, `ProtectedError`...) and whose every
    `except` records the failure (a call such as `logger.error(...)`, or an
    assignment) and goes on to the next item (no `raise`, `return` or
    `break` in it): failure isolation per item, which one query over all the
    rows would lose (a handler that re-raises or only `pass`es, one that
    catches only other errors, `except ValueError:`, and a read in such a
    `try`, are still flagged); batch queries
    (`filter(pk__in=chunk)` with an `__in` lookup, `bulk_create`,
    `bulk_update`); a query on the way out of the loop (in a `return`, or in a
    block that ends with `break`, `return` or `raise`: it runs once); building
    a lazy queryset (`.filter()` runs no query); queries through a relation
    of the loop variable (`order.items.count()`: BKL301, or BKL304 when
    prefetched); a re-fetch of an instance in hand (`Category.objects.get(
    pk=child.pk)`, a `pk`/`id` lookup of `<name>.pk`, not of another model's
    instance) in a loop that changes rows (`save()`, `delete()`, `update()`,
    MPTT's `move_to()`): reloaded on purpose, since an earlier iteration
    changed the table under it and a fetch before the loop would be stale; a
    row created and saved again in the same iteration with the item's
    queries between (`status = Status.objects.create(...)`, the work,
    `status.save()`: a status or progress row, or one that needs its own id
    in its data), both writes (a `save()` right after the `create()` with no
    query between is still flagged), and, on such a row that records the
    result of a write between (`done = qs.update(...)`, `status.meta =
    {"done": done}`: the item's work, measured per item on purpose, as in a
    data migration chunked per project), that write and the counts recorded
    beside it (`"total": qs.count()`); a lookup between that is not
    recorded, and a row that records only a count (a per-item summary: an
    annotation does it), are still flagged; `while` loops (polling and
    batch loops); code in a nested `def` or `lambda`. Calls on objects
    backlint cannot tell are model instances or querysets are not seen
    (missed alarms). Test files and migrations (run once) are not checked.

    Fix:
    None: the batch form needs the loop restructured, as the message says.
    """

    Options = DjangoQueryInLoopOptions
    code = "BKL302"
    name = "django-query-in-loop"
    message = "`{call}` runs a query on every iteration of the loop: {cure}"
    frameworks = frozenset({"django"})
    markers = ("objects", ".save(", ".delete(", "_manager", "queryset", ".refresh_from_db(")
    # A loop of queries in a test costs nothing in production.
    skip_tests = True

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        # Migrations run once, at deploy time.
        return not file.is_migration and super().applies(file, source, packages, options)

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        # Calls inside a reported call's receiver chain.
        self.covered: set[int] = set()
        # Per loop node: the names it binds, and whether it is judged (over
        # rows of the database, or with `every-loop` over anything not short).
        self.loop_facts: dict[int, tuple[set[str], bool]] = {}
        # Per loop body: the queries whose results its status rows record.
        self.recorded: dict[int, set[int]] = {}

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in _METHODS:
            return
        loop_targets = self._loop_targets(node)
        if loop_targets is None:
            return
        method = func.attr.value
        qsets = querysets(self.ctx)
        cure: str | None = None
        qs: QuerySet | None = None
        if method in QUERY_METHODS:
            qs = qsets.queryset(func.value)
            if qs is not None and self._counts(qs, func.value, loop_targets):
                if method in _SAVES and self._overrides(qs.model.qualname, "save"):
                    return  # `bulk_create()` would skip the model's save()
                cure = QUERY_METHODS[method]
        if cure is None and method in INSTANCE_METHODS:
            model = qsets.instance(func.value)
            if model is not None:
                if method in _DELETES and self._overrides(model.qualname, "delete"):
                    return  # `filter(pk__in=...).delete()` would skip the model's delete()
                if method in _SAVES and self._overrides(model.qualname, "save"):
                    return  # `bulk_update()` would skip the model's save()
                if method in ("save", "asave") and self._stores_file(node, model.file_fields):
                    return  # `bulk_update()` would not store the file
                if method in ("save", "asave") and self._built_from_open_file(node, model):
                    return  # a `bulk_create()` after the loop would get closed files
                cure = INSTANCE_METHODS[method]
                if method in ("save", "asave") and _forces_insert(node):
                    cure = _INSERT_SAVE
        if cure is None or _batch(node) or id(node) in self.covered:
            return
        if method in _CREATES and qs is not None and self._open_file_argument(node, qs):
            return  # a `bulk_create()` after the loop would get closed files
        if method in _ISOLATED and self._isolated(node):
            return  # a per-item try/except that logs the failure and goes on
        if method in ("get", "aget") and self._refetch(node):
            return  # reloads a row the loop holds, after the loop changed rows
        if self._written_twice(node, method):
            return  # a row created, then saved again, in the same iteration
        if method in _MEASURES and self._recorded(node):
            return  # the item's work, its count recorded on the item's status row
        if self._memoised(node):
            return  # `if key not in cache: cache[key] = ...`: once per key
        # `Task.objects.get(...).items.update(...)`: one finding for the statement.
        self.covered |= _inner_calls(func.value)
        self.report(node, call=short(node), cure=cure)

    def _loop_body(self, node: cst.CSTNode) -> cst.BaseSuite | None:
        """The body of the innermost `for` loop running `node` (None in a
        comprehension, or outside any loop of this scope)."""
        child: cst.CSTNode = node
        for parent in self.ctx.ancestors(node):
            if isinstance(parent, (*_SCOPES, *_COMPREHENSIONS)):
                return None
            if isinstance(parent, cst.For) and child is parent.body:
                return parent.body
            child = parent
        return None

    def _memoised(self, node: cst.Call) -> bool:
        """The query runs under `if key not in cache:` whose body stores
        `cache[key] = ...`: once per distinct key, not once per row."""
        child: cst.CSTNode = node
        for parent in self.ctx.ancestors(node):
            if isinstance(parent, (*_SCOPES, *_COMPREHENSIONS, cst.For)):
                return False
            if isinstance(parent, cst.If) and child is parent.body:
                memo = _memo_test(parent.test)
                if memo is not None and _stores(parent.body, *memo):
                    return True
            child = parent
        return False

    def _refetch(self, node: cst.Call) -> bool:
        """`Category.objects.get(pk=child.pk)` in a loop that changes rows
        (`child.move_to(...)`, `.save()`, `.update()`): the instance is already
        in hand, reloaded on purpose because an earlier iteration changed the
        table under it (an MPTT move rewrites every sibling's tree fields), so
        fetching the rows once before the loop would use stale values."""
        if node.args[1:] or len(node.args) != 1:
            return False
        arg = node.args[0]
        if arg.keyword is None or arg.keyword.value not in ("pk", "id"):
            return False
        value = arg.value
        if not (
            isinstance(value, cst.Attribute)
            and value.attr.value in ("pk", "id")
            and isinstance(value.value, cst.Name)
        ):
            return False
        assert isinstance(node.func, cst.Attribute)
        qsets = querysets(self.ctx)
        qs = qsets.queryset(node.func.value)
        held = qsets.instance(value.value)
        if qs is not None and held is not None and held.qualname != qs.model.qualname:
            return False  # `Profile.objects.get(pk=user.pk)`: another model's row
        body = self._loop_body(node)
        return body is not None and any(
            isinstance(n, cst.Call)
            and isinstance(n.func, cst.Attribute)
            and n.func.attr.value in _CHANGES
            for n in descendants(body, prune=_SCOPES)
        )

    def _written_twice(self, node: cst.Call, method: str) -> bool:
        """`status = Status.objects.create(...)`, the item's queries, then
        `status.save()` in the same iteration: a status or progress row
        written before the work and again after it (or a row that needs its
        own id in its data). Neither write can wait for a `bulk_create()` or
        `bulk_update()` after the loop. (A `save()` right after the `create()`,
        with no query between, is only a redundant write: still flagged.)"""
        assert isinstance(node.func, cst.Attribute)
        if method in ("create", "acreate"):
            parent = self.ctx.parent(node)
            name = _assigned_name(parent)
            if name is None:
                return False
        elif method in ("save", "asave") and isinstance(node.func.value, cst.Name):
            name = node.func.value.value
        else:
            return False
        body = self._loop_body(node)
        if body is None:
            return False
        # In source order: the create, then a query of the item's work, then the save.
        state = 0
        inside: set[int] = set()
        for n in descendants(body, prune=_SCOPES):
            if id(n) in inside:
                continue
            if (
                isinstance(n, cst.Assign)
                and _assigned_name(n) == name
                and isinstance(n.value, cst.Call)
                and isinstance(n.value.func, cst.Attribute)
                and n.value.func.attr.value in ("create", "acreate")
            ):
                state = 1
                inside = {id(d) for d in descendants(n)}
            elif isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute):
                attr = n.func.attr.value
                if (
                    attr in ("save", "asave")
                    and isinstance(n.func.value, cst.Name)
                    and n.func.value.value == name
                ):
                    if state == 2:
                        return True
                elif state == 1 and attr in _METHODS:
                    state = 2
        return False

    def _recorded(self, node: cst.Call) -> bool:
        """`status = Status.objects.create(...)`, then the item's work, a
        write whose result is recorded on that row (`done = qs.update(...)`,
        `status.meta = {"done": done}`), then `status.save()`, all in the same
        iteration: the work is measured and recorded per item on purpose (a
        data migration chunked per project, with a status row per project),
        and so are the counts recorded beside it (`"total": qs.count()`). No
        query after the loop can record them. (A row that records only a
        count is a per-item summary: an annotation does it, still flagged.)"""
        body = self._loop_body(node)
        if body is None:
            return False
        key = id(body)
        found = self.recorded.get(key)
        if found is None:
            found = _recorded_queries(body)
            self.recorded[key] = found
        return id(node) in found

    def _saved_in_loop(self, node: cst.Call) -> tuple[str, cst.BaseSuite] | None:
        """The name `x` of an `x.save()` call and the body of its loop."""
        assert isinstance(node.func, cst.Attribute)
        receiver = node.func.value
        if not isinstance(receiver, cst.Name):
            return None
        body = self._loop_body(node)
        return None if body is None else (receiver.value, body)

    def _stores_file(self, node: cst.Call, file_fields: set[str]) -> bool:
        """`x.image = File(...)` in the iteration that calls `x.save()`:
        `FileField.pre_save()` stores the file in `save()`, which
        `bulk_update()` does not call (it would write the name and lose the
        file). (Renaming a stored file, `x.image.name = ...`, commits nothing:
        still flagged.)"""
        saved = self._saved_in_loop(node) if file_fields else None
        if saved is None:
            return False
        receiver, body = saved
        for n in descendants(body, prune=_SCOPES):
            if isinstance(n, cst.Assign | cst.AnnAssign):
                targets = [t.target for t in n.targets] if isinstance(n, cst.Assign) else [n.target]
                for target in targets:
                    if (
                        isinstance(target, cst.Attribute)
                        and isinstance(target.value, cst.Name)
                        and target.value.value == receiver
                        and target.attr.value in file_fields
                    ):
                        return True
        return False

    def _opened(self, node: cst.CSTNode) -> set[str]:
        """The names bound by `with ... as name` blocks that hold `node` and
        are opened in the innermost loop's body (once per iteration, closed
        before the next), with the names assigned in those blocks from a value
        using one (`upload = File(f)`)."""
        names: set[str] = set()
        blocks: list[cst.With] = []
        child: cst.CSTNode = node
        for parent in self.ctx.ancestors(node):
            if isinstance(parent, (*_SCOPES, *_COMPREHENSIONS)):
                return set()
            if isinstance(parent, cst.For) and child is parent.body:
                break
            if isinstance(parent, cst.With) and child is parent.body:
                blocks.append(parent)
                for item in parent.items:
                    if item.asname is not None:
                        names |= _names(item.asname.name)
            child = parent
        else:
            return set()
        for block in blocks:
            for n in descendants(block.body, prune=_SCOPES):
                name = _assigned_name(n)
                if name is not None and isinstance(n, cst.Assign) and _hands(n.value, names):
                    names.add(name)
        return names

    def _open_file_argument(self, node: cst.Call, qs: QuerySet) -> bool:
        """`FileUpload.objects.create(file=File(f))` in a `with open(...) as
        f:` block opened in the iteration: the insert stores the file's content
        (`FileField.pre_save()`) while it is open; a `bulk_create()` after the
        loop would get files closed by then (or need every one held open).
        Only a file field given the open file itself counts (`f`, `File(f)`):
        `create(image=ContentFile(f.read()))` has read the content into
        memory, and a `bulk_create()` stores it as well."""
        fields = qs.model.file_fields
        if not fields:
            return False
        opened = self._opened(node)
        if not opened:
            return False
        for arg in node.args:
            if arg.keyword is None:
                continue
            if arg.keyword.value in fields and _hands(arg.value, opened):
                return True
            if arg.keyword.value in ("defaults", "create_defaults") and isinstance(
                arg.value, cst.Dict
            ):
                for element in arg.value.elements:
                    if (
                        isinstance(element, cst.DictElement)
                        and isinstance(element.key, cst.SimpleString)
                        and element.key.evaluated_value in fields
                        and _hands(element.value, opened)
                    ):
                        return True
        return False

    def _built_from_open_file(self, node: cst.Call, model: Model) -> bool:
        """`upload = FileUpload(file=File(f))`, then `upload.save()`, in a
        `with open(...) as f:` block opened in the iteration: as
        `_open_file_argument`, the `bulk_create()` would get closed files.
        (A `save()` after `create(file=File(f))` inserted already: its
        `bulk_update()` needs no file, still flagged.)"""
        file_fields = model.file_fields
        saved = self._saved_in_loop(node) if file_fields else None
        opened = self._opened(node) if saved is not None else set()
        if saved is None or not opened:
            return False
        receiver, body = saved
        for n in descendants(body, prune=_SCOPES):
            if (
                _assigned_name(n) == receiver
                and isinstance(n, cst.Assign)
                and isinstance(n.value, cst.Call)
                and self._constructs(n.value.func, model.qualname)
                and any(
                    a.keyword is not None
                    and a.keyword.value in file_fields
                    and _hands(a.value, opened)
                    for a in n.value.args
                )
            ):
                return True
        return False

    def _constructs(self, func: cst.BaseExpression, model: str) -> bool:
        """`func` names the model class itself (`FileUpload(...)`)."""
        name = self.ctx.qualified_name(func)
        return name is not None and self.ctx.index.canonical(name) == model

    def _catches_write_errors(self, handler: cst.ExceptHandler) -> bool:
        """A bare `except:`, or one naming `Exception` or an error a failing
        write raises (`IntegrityError`, `ProtectedError`...: `WRITE_ERRORS`)."""
        if handler.type is None:
            return True
        return any(self.ctx.qualified_name(t) in WRITE_ERRORS for t in caught_types(handler.type))

    def _isolated(self, node: cst.Call) -> bool:
        """A write in the body of a `try` inside the loop body, one of whose
        handlers catches the write's failure (`_catches_write_errors`) and
        every handler records the failure (a call: `logger.error(...)`,
        `errors.append(...)`, or an assignment) and goes on to the next item
        (no `raise`, `return` or `break` in it): each item's failure isolated
        on purpose, as with a `transaction.atomic()` per item. One query over
        all the rows would let one failing row abort the others and lose which
        one failed. (A handler that re-raises, or only `pass`es, and a read in
        such a `try`, are still flagged: a read has no failure to isolate, and
        a silent `pass` around an insert is `bulk_create(ignore_conflicts=True)`.)"""
        child: cst.CSTNode = node
        for parent in self.ctx.ancestors(node):
            if isinstance(parent, (*_SCOPES, *_COMPREHENSIONS)):
                return False
            if isinstance(parent, cst.For) and child is parent.body:
                return False
            if (
                isinstance(parent, cst.Try)
                and child is parent.body
                and any(self._catches_write_errors(h) for h in parent.handlers)
                and all(_logs_and_continues(h) for h in parent.handlers)
            ):
                return True
            child = parent
        return False

    def _overrides(self, model: str, method: str) -> bool:
        """Whether a class of the model's hierarchy above Django's own (the
        model, its abstract bases, mixins) defines `method`."""
        index = self.ctx.index
        todo, seen = [model], set()
        while todo:
            qualname = todo.pop()
            if qualname in seen or qualname.startswith("django."):
                continue  # Django's own `Model.delete()` is what the batch form runs
            seen.add(qualname)
            cls = index.find_class(qualname)
            if cls is None:
                if method == "save" and qualname in SAVE_OVERRIDING_BASES:
                    return True  # misago's categories: an MPTT tree's save()
                continue
            if cls.method(method) is not None:
                return True
            for base in cls.bases:
                name = dotted(base)
                if name:
                    todo.append(index.canonical(name))
        return False

    def _counts(self, qs: QuerySet, receiver: cst.BaseExpression, loop_targets: set[str]) -> bool:
        """Queries through a relation of the loop variable are BKL301/BKL304's."""
        if qs.rooted_at_manager:
            return True
        root = receiver
        while isinstance(root, cst.Attribute | cst.Call | cst.Subscript):
            root = root.func if isinstance(root, cst.Call) else root.value
        return not (isinstance(root, cst.Name) and root.value in loop_targets)

    # Loops -------------------------------------------------------------------

    def _loop_targets(self, node: cst.Call) -> set[str] | None:
        """The names bound by the loops that run `node` once per iteration, when
        one of them is not over a short literal; None when there is no such loop.
        A loop does not repeat code on its way out (in a `return`, or a block
        ending with `return`/`raise`, or with `break` for the loop it ends)."""
        targets: set[str] = set()
        counts = False
        leaving = False  # in a block that ends with `break`: once per outer iteration
        assigned: set[str] = set()  # `x = <the query>`
        child: cst.CSTNode = node
        for parent in self.ctx.ancestors(node):
            if isinstance(parent, (*_SCOPES, cst.Return)):
                break  # a `return` leaves every loop above it: they do not repeat it
            if isinstance(parent, cst.Assign):
                assigned |= {n for t in parent.targets for n in _names(t.target)}
            if not counts and isinstance(parent, cst.With) and self._atomic(parent):
                return None  # a transaction per item: one row at a time on purpose
            if (
                not counts
                and isinstance(parent, cst.If)
                and child is parent.body
                and _tests_unset(parent.test, assigned)
            ):
                return None  # `if x is None: x = <query>`: fetched once, then reused
            if isinstance(parent, cst.IndentedBlock):
                ending = _ending(parent)
                if ending is cst.Break:
                    leaving = True
                elif ending is not None:
                    break  # `return`/`raise` ends the block
            in_loop = False
            if (isinstance(parent, cst.For) and child is parent.body) or (
                isinstance(parent, cst.CompFor)
                and child is not parent.iter
                and child is not parent.target
            ):
                in_loop = True
                loop_targets, left_out = self._loop_facts(parent)
            elif isinstance(parent, _COMPREHENSIONS) and child is not parent.for_in:
                in_loop = True
                loop_targets, left_out = set(), True
                comp: cst.CompFor | None = parent.for_in
                while comp is not None:
                    names, comp_left_out = self._loop_facts(comp)
                    loop_targets = loop_targets | names
                    left_out = left_out and comp_left_out
                    comp = comp.inner_for_in
            if in_loop:
                targets |= loop_targets
                if leaving and isinstance(parent, cst.For):
                    leaving = False  # the `break` ends this loop
                else:
                    counts = counts or not left_out
            child = parent
        return targets if counts else None

    def _atomic(self, node: cst.With) -> bool:
        """`with transaction.atomic():` (called or not)."""
        for item in node.items:
            expr = item.item.func if isinstance(item.item, cst.Call) else item.item
            if self.ctx.qualified_name(expr) in TRANSACTION_ATOMIC:
                return True
        return False

    def _loop_facts(self, loop: cst.For | cst.CompFor) -> tuple[set[str], bool]:
        """The names a loop binds, and whether it is left out: short, over
        batches, or (without `every-loop`) not over rows of the database."""
        found = self.loop_facts.get(id(loop))
        if found is None:
            names = _names(loop.target)
            left_out = (
                self._short(loop.iter)
                or _batches(names, loop.iter)
                or not (self.options.every_loop or self._rows(loop.iter))
            )
            found = names, left_out
            self.loop_facts[id(loop)] = found
        return found

    def _rows(self, iterable: cst.BaseExpression, depth: int = 0) -> bool:
        """Rows of the database: a queryset or a related manager's (`Order.
        objects.filter(...)`, `order.items.all()`, `.values_list(...)`), or a
        name bound to one, maybe through `enumerate()`, `list()`, `sorted()`,
        `zip()` or a comprehension: as many iterations as the table has rows.
        A parameter, a form's fields or a list built in the code are as long
        as their callers make them, which the code does not show."""
        if depth > 3:
            return False
        if isinstance(iterable, _COMPREHENSIONS):
            comp: cst.CompFor | None = iterable.for_in
            while comp is not None:
                if self._rows(comp.iter, depth + 1):
                    return True
                comp = comp.inner_for_in
            return False
        if isinstance(iterable, cst.Call):
            name = self.ctx.qualified_name(iterable.func)
            if name in _SAME_LENGTH or name in _COLLECTIONS or name == "builtins.zip":
                return any(self._rows(a.value, depth + 1) for a in iterable.args if not a.star)
        if isinstance(iterable, cst.Name):
            owner, bindings = self.ctx.bindings(iterable.value)
            if owner is not None and owner.kind is not ScopeKind.MODULE and bindings:
                values = [b.value for b in bindings if isinstance(b, Assigned)]
                if any(v is not None and self._rows(v, depth + 1) for v in values):
                    return True
        if isinstance(iterable, cst.BinaryOperation) and isinstance(iterable.operator, cst.Add):
            # `orphaned + coupled`: two lists of rows joined.
            return self._rows(iterable.left, depth + 1) or self._rows(iterable.right, depth + 1)
        return querysets(self.ctx).iterates_rows(iterable)

    def _short(self, iterable: cst.BaseExpression, depth: int = 0) -> bool:
        """A literal display, `range(<literal>)`, a slice with a literal bound
        (`qs[:3]`), a Django setting, or a name bound once to one of these:
        bounded by what is written in the code."""
        if isinstance(iterable, _LITERALS):
            return True
        if isinstance(iterable, _COMPREHENSIONS):
            # `tuple(f"ai_{c}" for c in CATEGORIES)`: as long as what it ranges over.
            return iterable.for_in.inner_for_in is None and self._short(iterable.for_in.iter, depth)
        if isinstance(iterable, cst.Subscript):
            return _literal_slice(iterable)
        if isinstance(iterable, cst.Attribute):
            name = self.ctx.qualified_name(iterable)
            if name is None:
                return False
            if name.startswith(_SETTINGS):
                # `settings.AVATAR_SIZES`: configuration, as long as the deploy makes it.
                return iterable.attr.value.isupper()
            return _class_constant(self.ctx.index, name)
        if isinstance(iterable, cst.Call):
            func = iterable.func
            if (
                isinstance(func, cst.Attribute)
                and func.attr.value in ("items", "keys", "values")
                and not iterable.args
            ):
                return self._short(func.value, depth)
            name = self.ctx.qualified_name(func)
            if name in _CODE_REGISTRIES:  # `apps.get_models()`
                return True
            if name == "builtins.range":
                return bool(iterable.args) and all(
                    isinstance(a.value, cst.Integer) for a in iterable.args
                )
            if (name in _SAME_LENGTH or name in _COLLECTIONS) and iterable.args:
                return self._short(iterable.args[0].value, depth)
            if name == "builtins.zip":  # as long as its shortest argument
                return any(self._short(a.value, depth) for a in iterable.args if not a.star)
            return name is not None and self._short_return(name, iterable, depth)
        if isinstance(iterable, cst.Name) and depth < 3:
            owner, bindings = self.ctx.bindings(iterable.value)
            if (
                owner is not None
                and owner.kind is not ScopeKind.MODULE
                and bindings
                and all(isinstance(b, Assigned) and isinstance(b.value, cst.Call) for b in bindings)
            ):
                # `choices = export_metadata_from_choiceset(choiceset)`, maybe twice.
                return all(
                    isinstance(b, Assigned)
                    and isinstance(b.value, cst.Call)
                    and self._short(b.value, depth + 1)
                    for b in bindings
                )
            if owner is None or len(bindings) != 1:
                return False
            if owner.kind is not ScopeKind.MODULE:
                # `tracked = (("slug", RENAME),)` then `for attribute, action in tracked`.
                local = bindings[0]
                if isinstance(local, Imported):  # a function-level import of a constant
                    return _literal_value(self.ctx.index, self.ctx.index.lookup(local.qualified))
                return (
                    isinstance(local, Assigned)
                    and local.value is not None
                    and isinstance(local.value, _LITERALS)
                    and not _empty(local.value)
                )
            binding = bindings[0]
            if not isinstance(binding, Assigned):
                # `from shop.choices import STATUSES`: a literal in another module.
                name = self.ctx.qualified_name(iterable)
                return name is not None and _literal_value(
                    self.ctx.index, self.ctx.index.lookup(name)
                )
            value = binding.value
            # `REGISTRY = []` filled in elsewhere (`REGISTRY.append(...)`) is not short.
            return value is not None and not _empty(value) and self._short(value, depth + 1)
        return False

    # Lists a project function returns ------------------------------------------

    def _short_return(self, name: str, call: cst.Call, depth: int) -> bool:
        """A call of a project function whose returned collection grows only
        in `for` loops over short iterables (`FunctionFacts.grows_over`),
        its parameters read as this call's arguments: nautobot's
        `export_metadata_from_choiceset(choiceset)`, one dict appended per
        `choiceset.CHOICES`, given a choice set written in the code."""
        index = self.ctx.index
        fn = index.find_function(name)
        if fn is None or fn.grows_over is None or depth >= 3:
            return False
        decorators = {dotted(d.func if isinstance(d, Call) else d) for d in fn.decorators}
        if not decorators <= _KEEP_RETURN:
            return False  # a decorator may return something else entirely
        owner = index.find_class(name.rpartition(".")[0])
        if owner is not None and "builtins.staticmethod" not in decorators:
            return False  # `self`/`cls` would shift the arguments
        params = [param for param, _, _ in fn.params]
        bound: dict[str, cst.BaseExpression] = {}
        for position, arg in enumerate(call.args):
            if arg.star:
                return False
            if arg.keyword is not None:
                bound[arg.keyword.value] = arg.value
            elif position < len(params):
                bound[params[position]] = arg.value
            else:
                return False
        defaults = {param: default for param, _, default in fn.params}
        return all(
            self._short_fact(value, bound, defaults, depth)
            for loops in fn.grows_over
            for value in loops
        )

    def _short_fact(
        self,
        value: Value,
        bound: dict[str, cst.BaseExpression],
        defaults: dict[str, Value | None],
        depth: int,
    ) -> bool:
        """A loop iterable of a callee's facts, its parameters (`Local`) read
        as the call's arguments (`bound`) or their defaults, is short."""
        index = self.ctx.index
        if isinstance(value, Local):
            expr = bound.get(value.name)
            if expr is not None:
                return self._short(expr, depth + 1)
            default = defaults.get(value.name)
            return default is not None and _literal_value(index, default)
        if isinstance(value, Attr) and isinstance(value.value, Local):
            # `choiceset.CHOICES`: the attribute of each class the argument may be.
            expr = bound.get(value.value.name)
            held = self._held_names(expr) if expr is not None else None
            return bool(held) and all(
                _class_constant(index, f"{name}.{value.attr}") for name in held or ()
            )
        if isinstance(value, Call):
            func = value.func
            if isinstance(func, Attr) and func.attr in ("items", "keys", "values"):
                return not value.args and self._short_fact(func.value, bound, defaults, depth)
            name = dotted(func)
            if (name in _SAME_LENGTH or name in _COLLECTIONS) and len(value.args) == 1:
                return self._short_fact(value.args[0], bound, defaults, depth)
            if name == "builtins.range":
                return bool(value.args) and all(
                    isinstance(a, Const) and isinstance(a.value, int) for a in value.args
                )
            return False
        name = dotted(value)
        if name is None:
            return _literal_value(index, value)
        return _class_constant(index, name) or _literal_value(index, index.lookup(name))

    def _held_names(self, expr: cst.BaseExpression) -> list[str] | None:
        """The project names `expr` may hold: the one it names
        (`DeviceStatusChoices`), or, for a name bound only by `for` loops
        over the values of module-level constants (`for path, choiceset in
        ROLE_CHOICESET_MAP.items()`), the names those constants hold
        there (`extras_choices.ContactAssociationRoleChoices`). None when
        some value cannot be told."""
        index = self.ctx.index
        name = self.ctx.qualified_name(expr)
        if name is not None:
            return [index.canonical(name)]
        if not isinstance(expr, cst.Name):
            return None
        owner, bindings = self.ctx.bindings(expr.value)
        if owner is None or not bindings:
            return None
        held: list[str] = []
        for binding in bindings:
            if not isinstance(binding, LoopTarget):
                return None
            items = self._constant_items(binding.loop, expr.value)
            if items is None:
                return None
            for item in items:
                item_name = dotted(item)
                if item_name is None:
                    return None
                held.append(index.canonical(item_name))
        return held

    def _constant_items(self, loop: cst.For, target: str) -> list[Value] | None:
        """What `target` takes in `loop`, when it ranges over a module-level
        constant of the project that nothing else amends: the items of a
        list, the keys of a dict (`for k in D`, `D.keys()`) or its values
        (`D.values()`, and the second name of `for k, v in D.items()`)."""
        iterable = loop.iter
        method = None
        if (
            isinstance(iterable, cst.Call)
            and isinstance(iterable.func, cst.Attribute)
            and not iterable.args
        ):
            method = iterable.func.attr.value
            iterable = iterable.func.value
        whole = isinstance(loop.target, cst.Name) and loop.target.value == target
        pair = (
            isinstance(loop.target, cst.Tuple)
            and len(loop.target.elements) == 2
            and isinstance(loop.target.elements[1].value, cst.Name)
            and loop.target.elements[1].value.value == target
        )
        name = self.ctx.qualified_name(iterable)
        if name is None:
            return None
        index = self.ctx.index
        name = index.canonical(name)
        module = index.module_of(name)
        if (
            module is None
            or any(amended == name.rpartition(".")[2] for amended, _, _ in module.item_assignments)
            or any(rebound == name.rpartition(".")[2] for rebound, _ in module.rebinds)
        ):
            return None
        value = index.lookup(name)
        if isinstance(value, Seq) and whole and method is None:
            return list(value.items)
        if isinstance(value, Mapping):
            if whole and method in (None, "keys"):
                return [key for key, _ in value.items]
            if (whole and method == "values") or (pair and method == "items"):
                return [item for _, item in value.items]
        return None


def _assigned_name(node: cst.CSTNode | None) -> str | None:
    """`name` of a `name = ...` statement with one plain target."""
    if (
        isinstance(node, cst.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0].target, cst.Name)
    ):
        return node.targets[0].target.value
    return None


def _hands(expr: cst.BaseExpression, names: set[str]) -> bool:
    """`expr` is one of `names`, or a call handed one (`File(f, name=...)`):
    the object itself, not something read from it (`f.read()`)."""
    if isinstance(expr, cst.Name):
        return expr.value in names
    if isinstance(expr, cst.Call):
        return any(_hands(arg.value, names) for arg in expr.args)
    return False


def _logs_and_continues(handler: cst.ExceptHandler) -> bool:
    """An `except` block that records the failure (a call or an assignment)
    and lets the loop go on: no `raise`, `return` or `break` anywhere in it."""
    records = False
    for n in descendants(handler.body, prune=_SCOPES):
        if isinstance(n, (cst.Raise, cst.Return, cst.Break)):
            return False
        if isinstance(n, (cst.Call, cst.Assign, cst.AugAssign)):
            records = True
    return records


def _recorded_queries(body: cst.BaseSuite) -> set[int]:
    """The measuring queries (`_MEASURES`) whose results a status row of the
    iteration records (`BKL302._recorded`): created in `body`, given the
    results, saved after; only rows that record a write's result count."""
    created: set[str] = set()
    methods: dict[int, str] = {}  # id of a measuring query -> its method
    results: dict[str, set[int]] = {}  # name -> the queries its value holds
    on_row: dict[str, set[int]] = {}  # status row -> the queries recorded on it
    found: set[int] = set()
    for n in descendants(body, prune=_SCOPES):
        if isinstance(n, cst.Assign):
            name = _assigned_name(n)
            value = n.value
            if (
                name is not None
                and isinstance(value, cst.Call)
                and isinstance(value.func, cst.Attribute)
                and value.func.attr.value in ("create", "acreate")
            ):
                created.add(name)
            held: set[int] = set()
            for d in (value, *descendants(value, prune=_SCOPES)):
                if (
                    isinstance(d, cst.Call)
                    and isinstance(d.func, cst.Attribute)
                    and d.func.attr.value in _MEASURES
                ):
                    methods[id(d)] = d.func.attr.value
                    held.add(id(d))
                elif isinstance(d, cst.Name) and d.value in results:
                    held |= results[d.value]
            if not held:
                continue
            if name is not None:
                results[name] = held
            for target in n.targets:
                row = _recording_target(target.target)
                if row is not None and row in created:
                    on_row.setdefault(row, set()).update(held)
        elif (
            isinstance(n, cst.Call)
            and isinstance(n.func, cst.Attribute)
            and n.func.attr.value in ("save", "asave")
            and isinstance(n.func.value, cst.Name)
        ):
            queries = on_row.get(n.func.value.value, set())
            if any(methods[q] in _WRITES for q in queries):
                found |= queries
    return found


def _recording_target(target: cst.BaseExpression) -> str | None:
    """`row` of `row.attr = ...` or `row.attr[key] = ...`."""
    if isinstance(target, cst.Subscript):
        target = target.value
    if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name):
        return target.value.value
    return None


def _literal_slice(node: cst.Subscript) -> bool:
    """`rows[:3]`, `rows[2:5]`: at most a literal number of items."""
    if len(node.slice) != 1:
        return False
    index = node.slice[0].slice
    return (
        isinstance(index, cst.Slice)
        and isinstance(index.upper, cst.Integer)
        and (index.lower is None or isinstance(index.lower, cst.Integer))
    )


def _class_constant(index: ProjectIndex, name: str) -> bool:
    """A class attribute of the project written as a literal
    (`Agreement.TYPE_CHOICES = [(TYPE_TOS, ...), (TYPE_PRIVACY, ...)]`), a
    class iterating members written in its body (`Order.Status`), or the
    list of a choices enum's members (`Order.Status.choices`, `.values`):
    as long as the code makes it."""
    owner_name, _, attr = name.rpartition(".")
    owner = index.find_class(owner_name) if owner_name else None
    if owner is None:
        return False
    inner = owner.inner_class(attr)
    if inner is not None:
        return _literal_value(index, inner)
    if attr in CHOICES_LISTS and choices_enum(index, owner):
        return True
    value = owner.attribute(attr)
    return value is not None and _literal_value(index, value)


def _literal_value(index: ProjectIndex, value: object, depth: int = 0) -> bool:
    """A module-level value of the index written as a non-empty literal display
    (of constants, names or attributes: `MODELS = (Order, Invoice)`), or built
    from one by a comprehension (`tuple(f"ai_{c}" for c in CATEGORIES)`), or a
    collection or another constant of the project made from such a value; or
    a class whose iteration yields members written in the code: an enum
    (Django's `TextChoices`), or a class whose metaclass iterates one of its
    literal attributes (nautobot's `ChoiceSet` and its `CHOICES`)."""
    if isinstance(value, ClassFacts):
        if choices_enum(index, value):
            return True
        members = iterated_attribute(index, value) if depth < 3 else None
        return members is not None and _literal_value(index, members, depth + 1)
    if isinstance(value, FunctionFacts):
        return False
    if isinstance(value, Const):
        return isinstance(value.value, str)
    if isinstance(value, Seq):
        return bool(value.items) and all(
            isinstance(item, Const | Ref | Attr | Seq) for item in value.items
        )
    if isinstance(value, Mapping):
        return bool(value.items) and all(isinstance(key, Const) for key, _ in value.items)
    if depth >= 3:
        return False
    if isinstance(value, Comp):  # as long as what it ranges over, at most
        return _literal_value(index, value.iter, depth + 1)
    if isinstance(value, Call) and len(value.args) == 1 and not value.kwargs:
        # `tuple(...)`, `sorted(...)` of a short value.
        func = dotted(value.func)
        return (func in _COLLECTIONS or func in _SAME_LENGTH) and _literal_value(
            index, value.args[0], depth + 1
        )
    if isinstance(value, Ref):  # `AI_CHECKS = tuple(... for c in AI_CATEGORIES)`
        return _literal_value(index, index.lookup(value.name), depth + 1)
    return False


def _empty(value: cst.BaseExpression) -> bool:
    if isinstance(value, cst.List | cst.Tuple | cst.Set):
        return not value.elements
    if isinstance(value, cst.Dict):
        return not value.elements
    return False


def _names(target: cst.BaseExpression) -> set[str]:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, cst.Tuple | cst.List):
        return {n for el in target.elements for n in _names(el.value)}
    if isinstance(target, cst.StarredElement):
        return _names(target.value)
    return set()


def _ending(block: cst.IndentedBlock) -> type[cst.CSTNode] | None:
    """`Break`, `Return` or `Raise` when the block's last statement is one."""
    last = block.body[-1] if block.body else None
    if isinstance(last, cst.SimpleStatementLine):
        for small in last.body:
            if isinstance(small, _EXITS):
                return type(small)
    return None


def _memo_test(test: cst.BaseExpression) -> tuple[str, str] | None:
    """(key, cache) of `key not in cache` (the key a name or an attribute
    chain, the cache a name)."""
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
        return None
    target = test.comparisons[0]
    if not isinstance(target.operator, cst.NotIn) or not isinstance(target.comparator, cst.Name):
        return None
    key = dotted_name(test.left)
    return (key, target.comparator.value) if key is not None else None


def _stores(body: cst.BaseSuite, key: str, cache: str) -> bool:
    """A statement of `body` assigns `cache[key] = ...`."""
    for statement in body.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if not isinstance(small, cst.Assign):
                continue
            for target in small.targets:
                sub = target.target
                if (
                    isinstance(sub, cst.Subscript)
                    and isinstance(sub.value, cst.Name)
                    and sub.value.value == cache
                    and len(sub.slice) == 1
                    and isinstance(sub.slice[0].slice, cst.Index)
                    and dotted_name(sub.slice[0].slice.value) == key
                ):
                    return True
    return False


def _tests_unset(test: cst.BaseExpression, names: set[str]) -> bool:
    """`x is None`, `not x` (or either in an `and`/`or`) for one of `names`."""
    if isinstance(test, cst.BooleanOperation):
        return _tests_unset(test.left, names) or _tests_unset(test.right, names)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return isinstance(test.expression, cst.Name) and test.expression.value in names
    return (
        isinstance(test, cst.Comparison)
        and isinstance(test.left, cst.Name)
        and test.left.value in names
        and len(test.comparisons) == 1
        and isinstance(test.comparisons[0].operator, cst.Is)
        and isinstance(test.comparisons[0].comparator, cst.Name)
        and test.comparisons[0].comparator.value == "None"
    )


def _batches(targets: set[str], iterable: cst.BaseExpression) -> bool:
    """A loop over batches (`for batch in chunked(ids, 500)`): a query per batch
    is the cure, not the problem."""
    words = [*targets, short(iterable)]
    return any(w in text.lower() for text in words for w in _BATCH_WORDS)


def _inner_calls(expr: cst.BaseExpression) -> set[int]:
    found: set[int] = set()
    while isinstance(expr, cst.Call | cst.Attribute | cst.Subscript):
        if isinstance(expr, cst.Call):
            found.add(id(expr))
            expr = expr.func
        else:
            expr = expr.value
    return found


def _batch(node: cst.Call) -> bool:
    """A chunked query (an `__in` lookup anywhere in the chain), or a row lock
    taken one row at a time on purpose (`select_for_update()`)."""
    current: cst.BaseExpression = node
    while True:
        if isinstance(current, cst.Call):
            if any(
                arg.keyword is not None and arg.keyword.value.endswith("__in")
                for arg in current.args
            ):
                return True
            if (
                isinstance(current.func, cst.Attribute)
                and current.func.attr.value == "select_for_update"
            ):
                return True
            current = current.func
        elif isinstance(current, cst.Attribute):
            current = current.value
        else:
            return False


def _forces_insert(call: cst.Call) -> bool:
    """`obj.save(force_insert=True)`: the save inserts a new row."""
    return any(
        arg.keyword is not None
        and arg.keyword.value == "force_insert"
        and isinstance(arg.value, cst.Name)
        and arg.value.value == "True"
        for arg in call.args
    )
