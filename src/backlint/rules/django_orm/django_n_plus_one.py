"""BKL301 django-n-plus-one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import libcst as cst

from backlint.rules.loops import LoopRule
from backlint.semantics.context import Parameter
from backlint.semantics.django import Model, QuerySet, mentions_relations, querysets
from backlint.semantics.django_fetch import callers_rows
from backlint.semantics.index import ProjectIndex
from backlint.semantics.tree import descendants
from backlint.types import SourceFile

_NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_EXITS = (cst.Raise, cst.Return, cst.Break)
# What a related manager answers from a prefetch cache; anything else
# (`filter`, `exclude`, `last`, `values_list`, a custom queryset method)
# builds a new query.
_CACHE_SERVED = frozenset({"all", "count", "exists"})
# What makes a queryset the base of more work rather than rows to read:
# refined, streamed, written through (BKL301 `_batch_base`).
_BATCH_METHODS = frozenset(
    {
        "filter",
        "exclude",
        "annotate",
        "alias",
        "only",
        "defer",
        "order_by",
        "distinct",
        "select_related",
        "prefetch_related",
        "iterator",
        "update",
        "delete",
    }
)
# Writes through a related manager: a query per row, but no prefetch avoids it.
_MANAGER_WRITES = frozenset(
    {
        "add",
        "remove",
        "set",
        "clear",
        "create",
        "get_or_create",
        "update_or_create",
        "update",
        "delete",
        "bulk_create",
    }
)


@dataclass(frozen=True, slots=True)
class _Loop:
    var: str
    qs: QuerySet
    # A private helper's loop over a relation of its parameter, whose every
    # caller prefetched that relation: the helper's name (the cure is theirs).
    helper: str = ""
    # A model method's loop over `self.<relation>` that the project prefetches
    # (`_from_project`): the loop's own queryset, whose cure a read the
    # project's prefetches do not cover is reported with (the callers that
    # prefetch are out of sight: the cure may well be the method's own).
    own: QuerySet | None = None


def _chain(node: cst.Attribute) -> tuple[str, list[cst.Attribute], list[str]] | None:
    """`x.a.b` -> ("x", [node of x.a, node of x.a.b], ["a", "b"]); calls are
    looked through (`x.a.filter(...).update` has steps a, filter, update)."""
    nodes: list[cst.Attribute] = []
    current: cst.BaseExpression = node
    while isinstance(current, cst.Attribute):
        nodes.append(current)
        current = current.value
        if isinstance(current, cst.Call):
            current = current.func
    if not isinstance(current, cst.Name):
        return None
    nodes.reverse()
    return current.value, nodes, [n.attr.value for n in nodes]


def _parent_map(roots: Sequence[cst.CSTNode]) -> dict[int, cst.CSTNode]:
    """Child id -> parent, below `roots` (the walker has not visited them yet)."""
    parents: dict[int, cst.CSTNode] = {}
    todo = list(roots)
    while todo:
        node = todo.pop()
        for child in node.children:
            parents[id(child)] = node
            todo.append(child)
    return parents


def _per_row(root: cst.CSTNode, inner: bool = False) -> Iterator[cst.CSTNode]:
    """The nodes below `root`, minus nested scopes and blocks that leave the
    loop (`if not ok: raise ValidationError(f"... {x.rel}")`); in a loop
    nested in the body (`inner`), a `break` leaves only that loop."""
    prune = (*_NESTED_SCOPES, cst.IndentedBlock, cst.For, cst.While)
    for node in descendants(root, prune=prune):
        yield node
        if isinstance(node, cst.For | cst.While):
            yield from _per_row(node, inner=True)
        elif isinstance(node, cst.IndentedBlock) and not _leaves(node, inner):
            yield from _per_row(node, inner)


def _leaves(block: cst.IndentedBlock, inner: bool) -> bool:
    last = block.body[-1] if block.body else None
    exits = _EXITS[:2] if inner else _EXITS
    return isinstance(last, cst.SimpleStatementLine) and any(
        isinstance(small, exits) for small in last.body
    )


class DjangoNPlusOne(LoopRule["_Loop"]):
    """A relation read in a loop over a queryset that did not load it (N+1 queries).

    What it flags:
    In a `for` loop or a comprehension over a queryset (directly, through a
    variable, or `self.get_queryset()` of the same class), reading a relation
    of the loop variable that the queryset did not `select_related` or
    `prefetch_related` (`__` paths and `Prefetch(...)` objects included): a
    ForeignKey or OneToOne attribute (`order.customer`, `order.customer.id`), a
    reverse or many-to-many manager used in any way (`order.items.all()`,
    `order.tags.count()`), or a relation one step further than what was
    loaded (`order.customer.address` after `select_related("customer")`).
    Reported once per loop and relation, where it is first read. A related
    manager used through a method no prefetch cache serves
    (`x.items.last()`, `.exclude(...)`, `.values_list(...)`, a custom
    queryset method: anything but `all()`, `count()`, `exists()`) is still a
    query per row, and the message says so: the cure is a `Prefetch(...)`
    with that query, or an annotation, not a plain `prefetch_related`.

    Why:
    Each read runs one query per row: a page of 100 orders makes 101 queries.
    It passes every test with three rows in the database and takes the site
    down with three thousand.

    Example:
    ```python
    from django.db import models

    class Customer(models.Model):
        name = models.CharField(max_length=100)

    class Order(models.Model):
        customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
        total = models.IntegerField()
        paid = models.BooleanField(default=False)

    def order_lines() -> list[str]:
        return [f"{o.customer.name}: {o.total}" for o in Order.objects.filter(paid=True)]
    ```

    Use instead:
    ```python
    from django.db import models

    class Customer(models.Model):
        name = models.CharField(max_length=100)

    class Order(models.Model):
        customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
        total = models.IntegerField()
        paid = models.BooleanField(default=False)

    def order_lines() -> list[str]:
        orders = Order.objects.filter(paid=True).select_related("customer")
        return [f"{o.customer.name}: {o.total}" for o in orders]
    ```

    Not flagged:
    Reads in a block on the way out of the loop (ending with `raise`,
    `return`, or `break` of this loop: they run once); querysets of
    `values()`/`values_list()`; `<fk>_id` attributes; concrete
    (non-relation) fields; relations loaded by the chain; reads in a nested
    `def` or `lambda` in the loop; loops in async functions (BKL106 reports
    those, as `SynchronousOnlyOperation`); `.filter()` and friends on a
    prefetched manager (BKL304); writes through a relation (`x.tags.add()`,
    `x.items.create()`, assigning `x.author = ...`), which no prefetch avoids;
    a relation read after the loop assigned it (`x.author = ...` as a
    statement before the read, in its block or an enclosing one: the read
    is the object just assigned; an assignment in a branch of its own does
    not count);
    a related manager's queryset used as the base of per-row batch work
    rather than read for its rows: handed to a function (`start_job(recount,
    project.tasks.all())`; not a builtin such as `len()`, not a class such
    as a serializer, not a method such as `list.extend()`), or assigned to a
    name that the loop refines, streams or writes through (`qs =
    category.threads.filter(...)`, then `qs.filter(...).iterator()`, `.update()`),
    where a prefetch would load every row of every parent;
    test files (an N+1 in a test costs nothing in production) and
    migrations (run once). Relations read
    inside model methods or properties called in the loop, and querysets whose
    model backlint cannot resolve, are not seen (missed alarms). A loop over
    a relation of a parameter (`for line in invoice.lines.all()`) in a
    private helper of the module (a function or method named `_encode`)
    whose every call in the module passes a row of a queryset that
    prefetched the relation (`self._encode(i) for i in
    qs.prefetch_related("lines", "lines__subevent")`, the queryset's base
    out of sight or not) reads from those caches: what all the callers
    loaded under `lines__` counts as loaded, and a read none of them covers
    is reported with the callers' cure. A model method or property looping
    over `self.<relation>.all()` (pretix's `Item.tax()` over `self.bundles`)
    is written for callers backlint cannot follow (other modules, receivers
    of unknown type); when some query of the project prefetches that
    relation for the model (`prefetch_related("bundles__bundled_item")`,
    `Prefetch("bundles", queryset=...select_related(...))`, a
    `prefetch_related_objects()` call; for a queryset whose model cannot be
    told, a path whose every step is a relation from the model on), the
    paths it prefetches under `bundles__` count as loaded (a union over the
    project: one caller that prefetches is enough), and a `select_related`
    on `self.bundles` would even bypass those caches; a read they do not
    cover is judged on the loop alone, as is a relation nobody prefetches.
    A helper handed on uncalled (`map(_encode, rows)`) and public helpers
    are judged on their own, and a prefetch made by their callers is not
    seen (a false alarm). When a variable is assigned several querysets, a
    relation any of them loads counts as loaded.

    Fix:
    None: add the relation to `select_related` (ForeignKey, OneToOne) or
    `prefetch_related` (reverse and many-to-many) of the queryset.
    """

    code = "BKL301"
    name = "django-n-plus-one"
    message = "`{expr}` queries the database once per row of the loop: {advice}"
    frameworks = frozenset({"django"})
    # A loop over a queryset names a manager, a queryset method or a relation.
    markers = (
        "objects",
        "queryset",
        "_manager",
        "_set",
        ".all(",
        ".filter(",
        ".exclude(",
        "_related(",
    )
    # An N+1 in a test costs nothing in production: tests are not reported.
    skip_tests = True
    # Migrations run once, at deploy time.
    skip_migrations = True

    @classmethod
    def wants(cls, index: ProjectIndex, file: SourceFile, source: str, options: Any) -> bool:
        # Every finding is a read of a relation by name (`row.author`): a
        # module that names none is not parsed for this rule.
        return mentions_relations(index, source)

    def loop(self, target: cst.BaseExpression, iterable: cst.BaseExpression) -> _Loop | None:
        if self.ctx.in_async_function:
            return None  # BKL101's: every query there is reported
        var = target
        if (
            isinstance(iterable, cst.Call)
            and self.ctx.qualified_name(iterable.func) == "builtins.enumerate"
            and iterable.args
            and isinstance(target, cst.Tuple)
            and len(target.elements) == 2
        ):
            iterable, var = iterable.args[0].value, target.elements[1].value
        if not isinstance(var, cst.Name):
            return None
        # A prefetched relation of an outer loop first: it carries the prefetch.
        qs = self._related_queryset(iterable) or querysets(self.ctx).queryset(iterable)
        if qs is None or qs.is_manager or qs.values:
            return None
        return (
            self._from_callers(var.value, iterable, qs)
            or self._from_project(var.value, iterable, qs)
            or _Loop(var.value, qs)
        )

    def _from_project(self, var: str, iterable: cst.BaseExpression, qs: QuerySet) -> _Loop | None:
        """`for b in self.bundles.all()` in a method (or property) of a model,
        where some query of the project prefetches `bundles` for that model
        (`QuerySets.project_prefetches`): the method is written for callers
        that hand it prefetched rows (pretix's `Item.tax()`, called on items
        of `prepare_item_list_for_shop`'s `Prefetch("bundles", ...)`); what
        the project prefetches under `bundles__` counts as loaded (telling the
        method to `select_related` on `self.bundles` would even bypass those
        caches); a read it does not cover is judged on the loop's own
        queryset, as before."""
        manager = _all_of(iterable)
        if manager is None:
            return None
        if not (
            isinstance(manager, cst.Attribute)
            and isinstance(manager.value, cst.Name)
            and manager.value.value == "self"
        ):
            return None
        function = self.ctx.scope.function()
        if function is None or not isinstance(function.node, cst.FunctionDef):
            return None
        owner, bindings = self.ctx.bindings("self")
        if owner is not function or not all(isinstance(b, Parameter) for b in bindings):
            return None
        qsets = querysets(self.ctx)
        model = qsets.instance(manager.value)
        relation_name = manager.attr.value
        relation = model.relation(relation_name) if model is not None else None
        if model is None or relation is None or not relation.manager:
            return None
        project = QuerySet(model, prefetch=qsets.project_prefetches(model))
        if not project.covers(relation_name, single=False):
            return None
        return _Loop(var, project.narrowed(relation_name, qs.model), own=qs)

    def _from_callers(self, var: str, iterable: cst.BaseExpression, qs: QuerySet) -> _Loop | None:
        """`for line in invoice.lines.all()` in a private helper
        `_encode(self, invoice)` whose every call in the module passes a row of
        a queryset that prefetched `lines`: the lines come from those caches,
        with what each caller loaded under `lines__` (what all of them did)."""
        manager = _all_of(iterable)
        if manager is None:
            return None
        if not (isinstance(manager, cst.Attribute) and isinstance(manager.value, cst.Name)):
            return None
        param, relation_name = manager.value.value, manager.attr.value
        function = self.ctx.scope.function()
        if function is None or not isinstance(function.node, cst.FunctionDef):
            return None
        owner, bindings = self.ctx.bindings(param)
        if owner is not function or not all(isinstance(b, Parameter) for b in bindings):
            return None
        qsets = querysets(self.ctx)
        model = qsets.instance(manager.value)
        relation = model.relation(relation_name) if model is not None else None
        if model is None or relation is None or not relation.manager:
            return None
        rows = callers_rows(self.ctx, function.node, param, model)
        if rows is None or not all(r.covers(relation_name, single=False) for r in rows):
            return None
        narrowed = [replace(r.narrowed(relation_name, qs.model), opaque=r.opaque) for r in rows]
        loaded = replace(
            narrowed[0],
            select_all=all(n.select_all for n in narrowed),
            select=frozenset.intersection(*(n.select for n in narrowed)),
            prefetch=frozenset.intersection(*(n.prefetch for n in narrowed)),
            opaque=all(n.opaque for n in narrowed),
        )
        return _Loop(var, loaded, helper=function.node.name.value)

    def _related_queryset(self, iterable: cst.BaseExpression) -> QuerySet | None:
        """`for item in order.items.all()` inside a loop over orders: the items
        queryset, with what the outer queryset prefetched under `items__`."""
        if not (isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute)):
            return None
        if iterable.func.attr.value != "all":
            return None
        found = (
            _chain(iterable.func.value) if isinstance(iterable.func.value, cst.Attribute) else None
        )
        if found is None:
            return None
        var, _, steps = found
        outer = next(
            (loop for loop in reversed(self.loops) if loop is not None and loop.var == var), None
        )
        if outer is None or len(steps) != 1:
            return None
        relation = outer.qs.model.relation(steps[0])
        models = querysets(self.ctx).models
        target = models.get(relation.target) if relation is not None and relation.manager else None
        if target is None or not outer.qs.covers(steps[0], single=False):
            return None
        return outer.qs.narrowed(steps[0], target)

    # Reads -------------------------------------------------------------------

    def scan(self, loop: _Loop, roots: Sequence[cst.CSTNode]) -> None:
        chains = []
        for attribute in self._attributes(roots):
            found = _chain(attribute)
            if found is not None and found[0] == loop.var:
                chains.append(found)
        # Judge each chain whole: `x.items.filter(...).update(...)` is a write,
        # though its prefix `x.items.filter` alone would look like a read.
        inner = {id(node) for _, nodes, _ in chains for node in nodes[:-1]}
        chains = [c for c in chains if id(c[1][-1]) not in inner]
        # Relations the loop writes through (`x.tags.remove(...)`): their reads
        # cannot come from a prefetch cache that the write invalidates.
        written = {
            steps[0] for _, _, steps in chains if len(steps) > 1 and steps[1] in _MANAGER_WRITES
        }
        reported: set[str] = set()
        parents: dict[int, cst.CSTNode] | None = None  # built when first needed
        for _, nodes, steps in chains:
            problem = self._first_unloaded(loop.qs, steps)
            if problem is None:
                continue
            qs = loop.qs
            if loop.own is not None:  # not covered by the project's prefetches
                qs = loop.own
                problem = self._first_unloaded(qs, steps)
                if problem is None:
                    continue
            depth, path, joinable, manager = problem
            if path in reported or path.split("__")[0] in written:
                continue
            # (The text test first: most loops assign no relation of their row.)
            if f"{loop.var}.{steps[0]} =" in self.ctx.source:
                if parents is None:
                    parents = _parent_map(roots)
                if _assigned_before(loop.var, steps[0], nodes[0], parents):
                    continue  # the loop set the relation itself: the read is its cache
            if manager:
                if parents is None:
                    parents = _parent_map(roots)
                if self._batch_base(nodes[-1], roots, parents):
                    continue
            reported.add(path)
            expr = ".".join([loop.var, *steps[:depth]])
            where = "the queryset"
            if qs.prefix:  # rows of a prefetched relation: extend the outer prefetch
                method, path = "prefetch_related", f"{qs.prefix}__{path}"
                if loop.helper:
                    where = f"the querysets of `{loop.helper}()`'s callers"
            else:
                method = "select_related" if joinable else "prefetch_related"
            after = steps[depth] if depth < len(steps) else None
            if manager and after is not None and after not in _CACHE_SERVED:
                # `x.items.last()`, `x.items.exclude(...)`: a prefetch cache never
                # serves those; the cure is a filtered Prefetch or one query for all rows.
                expr = f"{expr}.{after}()"
                advice = (
                    f"a prefetch does not serve `.{after}()`: load them for every row at once "
                    f'(`Prefetch("{path}", queryset=...)` with that query, or an annotation)'
                )
            else:
                advice = f'add `{method}("{path}")` to {where}'
            self.report(nodes[depth - 1], expr=expr, advice=advice)

    def _batch_base(
        self, last: cst.Attribute, roots: Sequence[cst.CSTNode], parents: dict[int, cst.CSTNode]
    ) -> bool:
        """A related manager's queryset used as the base of per-row batch work,
        not read for its rows: handed to a function (`start_job(recount,
        project.tasks.all())`), or assigned to a name the loop then refines,
        streams, writes through or hands on (`qs = category.threads.filter(...)`
        then `qs.filter(...).iterator()`). A prefetch would load every row of
        every parent for work that reads them in batches, or not at all."""
        top: cst.BaseExpression = last
        while True:
            parent = parents.get(id(top))
            if (
                (isinstance(parent, cst.Call) and parent.func is top)
                or (isinstance(parent, cst.Attribute) and parent.value is top)
                or (isinstance(parent, cst.Subscript) and parent.value is top)
            ):
                top = parent
                continue
            break
        if isinstance(parent, cst.Arg):
            call = parents.get(id(parent))
            return isinstance(call, cst.Call) and self._hands_on(call)
        if not (
            isinstance(parent, cst.Assign)
            and len(parent.targets) == 1
            and isinstance(parent.targets[0].target, cst.Name)
        ):
            return False
        name = parent.targets[0].target.value
        for root in roots:
            for node in descendants(root):
                if not (isinstance(node, cst.Name) and node.value == name):
                    continue
                above = parents.get(id(node))
                if isinstance(above, cst.Attribute) and above.value is node:
                    if above.attr.value in _BATCH_METHODS and isinstance(
                        parents.get(id(above)), cst.Call
                    ):
                        return True
                elif isinstance(above, cst.Arg):
                    call = parents.get(id(above))
                    if isinstance(call, cst.Call) and self._hands_on(call):
                        return True
        return False

    def _hands_on(self, call: cst.Call) -> bool:
        """A call of a project or library function (a job runner, a helper):
        not a builtin that evaluates its argument (`len()`, `list()`), not a
        class (a serializer renders the rows), not a method of an object."""
        name = self.ctx.qualified_name(call.func)
        if name is None or name.startswith("builtins."):
            return False
        if not isinstance(call.func, cst.Name | cst.Attribute):
            return False
        last = name.rsplit(".", 1)[-1]
        if not last or last[0].isupper():
            return False
        return self.ctx.index.find_class(self.ctx.index.canonical(name)) is None

    def _attributes(self, roots: Sequence[cst.CSTNode]) -> Iterator[cst.Attribute]:
        """Attributes read in `roots` (assignment and `del` targets are writes),
        not in a block on the way out of the loop (ending with `raise`,
        `return` or `break`: it runs once, not once per row)."""
        written: set[int] = set()
        for root in roots:
            if isinstance(root, cst.Attribute):
                yield root
            for node in _per_row(root):
                if isinstance(node, cst.AssignTarget | cst.AugAssign | cst.AnnAssign | cst.Del):
                    written.add(id(node.target))
                elif isinstance(node, cst.Attribute) and id(node) not in written:
                    yield node

    def _first_unloaded(self, qs: QuerySet, steps: list[str]) -> tuple[int, str, bool, bool] | None:
        """(steps up to the read, `__` path, `select_related` can load it, a
        related manager) of the first relation step of the chain that the
        queryset did not load."""
        models = querysets(self.ctx).models
        model: Model | None = qs.model
        path = ""
        for i, step in enumerate(steps):
            relation = model.relation(step) if model is not None else None
            if relation is None:
                return None
            path = f"{path}__{step}" if path else step
            if relation.single:
                if not qs.covers(path, single=True):
                    return i + 1, path, relation.joinable, False
                model = models.get(relation.target)
                continue
            if i == len(steps) - 1 or _MANAGER_WRITES.intersection(steps[i + 1 :]):
                return None  # the manager itself, not used here; or a write through it
            return None if qs.covers(path, single=False) else (i + 1, path, False, True)
        return None


def _all_of(iterable: cst.BaseExpression) -> cst.BaseExpression | None:
    """`<manager>` of `<manager>.all()` (no arguments), else None."""
    if (
        isinstance(iterable, cst.Call)
        and isinstance(iterable.func, cst.Attribute)
        and iterable.func.attr.value == "all"
        and not iterable.args
    ):
        return iterable.func.value
    return None


def _assigned_before(
    var: str, attr: str, node: cst.CSTNode, parents: dict[int, cst.CSTNode]
) -> bool:
    """`x.<attr> = ...` as a statement before the one holding `node`, in its
    block or an enclosing one within the loop: the read after it is served by
    the object the loop assigned (hyperkitty sets `thread.starting_email`,
    then tests it). An assignment in a branch (`if ...: x.rel = y`) does not
    count: the read may come without it."""
    child = node
    parent = parents.get(id(child))
    while parent is not None:
        if isinstance(parent, cst.IndentedBlock):
            for stmt in parent.body:
                if stmt is child:
                    break
                if isinstance(stmt, cst.SimpleStatementLine) and any(
                    isinstance(small, cst.Assign)
                    and any(
                        isinstance(t.target, cst.Attribute)
                        and t.target.attr.value == attr
                        and isinstance(t.target.value, cst.Name)
                        and t.target.value.value == var
                        for t in small.targets
                    )
                    for small in stmt.body
                ):
                    return True
        child, parent = parent, parents.get(id(parent))
    return False
