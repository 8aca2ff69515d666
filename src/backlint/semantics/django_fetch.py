"""Django model instances in async code: how an instance was fetched, and
which reads of its relations query the database.

`fetched(ctx, name)` answers, for a name bound to a model instance, which
model it is and, when the code shows where it came from, the queryset that
fetched it (`await Order.objects.select_related("customer").aget(...)`,
`async for order in qs`, `Order.objects.get(...)`): what that queryset
`select_related`/`prefetch_related` is what a relation read finds loaded.
An instance whose origin is not in view (a parameter, `acreate()`) has no
queryset: only reads that query whatever was loaded are certain then.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import libcst as cst

from backlint.semantics.context import (
    Assigned,
    FileContext,
    LoopTarget,
    Parameter,
    Scope,
    scope_of_node,
)
from backlint.semantics.django import LAZY_METHODS, Model, QuerySet, querysets
from backlint.semantics.requirements import (
    DJANGO_ASYNC_ORM,
    DJANGO_ASYNC_RELATED,
    Version,
    has_version,
)
from backlint.semantics.tree import descendants

# Queryset methods that fetch one instance, sync and async.
FETCH_METHODS = frozenset({"get", "first", "last", "earliest", "latest"})
ASYNC_FETCH_METHODS = frozenset({"aget", "afirst", "alast", "aearliest", "alatest"})
# `get_object_or_404(Model_or_queryset, ...)` and its async twin (Django 5.0).
FETCH_FUNCTIONS = frozenset(
    {"django.shortcuts.get_object_or_404", "django.shortcuts.aget_object_or_404"}
)
# Sync methods of a related manager / queryset that run a query, with their
# async twins and the Django version that has them.
RELATED_QUERY_METHODS: dict[str, tuple[str, Version]] = {
    "get": ("aget", DJANGO_ASYNC_ORM),
    "first": ("afirst", DJANGO_ASYNC_ORM),
    "last": ("alast", DJANGO_ASYNC_ORM),
    "earliest": ("aearliest", DJANGO_ASYNC_ORM),
    "latest": ("alatest", DJANGO_ASYNC_ORM),
    "count": ("acount", DJANGO_ASYNC_ORM),
    "exists": ("aexists", DJANGO_ASYNC_ORM),
    "contains": ("acontains", DJANGO_ASYNC_ORM),
    "aggregate": ("aaggregate", DJANGO_ASYNC_ORM),
    "in_bulk": ("ain_bulk", DJANGO_ASYNC_ORM),
    "iterator": ("aiterator", DJANGO_ASYNC_ORM),
    "explain": ("aexplain", DJANGO_ASYNC_ORM),
    "update": ("aupdate", DJANGO_ASYNC_ORM),
    "delete": ("adelete", DJANGO_ASYNC_ORM),
    "create": ("acreate", DJANGO_ASYNC_ORM),
    "get_or_create": ("aget_or_create", DJANGO_ASYNC_ORM),
    "update_or_create": ("aupdate_or_create", DJANGO_ASYNC_ORM),
    "bulk_create": ("abulk_create", DJANGO_ASYNC_ORM),
    "bulk_update": ("abulk_update", DJANGO_ASYNC_ORM),
    # Related managers' writes: always a query, whatever was prefetched.
    "add": ("aadd", DJANGO_ASYNC_RELATED),
    "remove": ("aremove", DJANGO_ASYNC_RELATED),
    "clear": ("aclear", DJANGO_ASYNC_RELATED),
    "set": ("aset", DJANGO_ASYNC_RELATED),
}
# Evaluations a prefetched relation serves from its cache (`.all()` chains only).
CACHED_EVALUATIONS = frozenset(
    {"iterate", "len", "truth", "count", "exists", "first", "last", "earliest", "latest"}
)
# Builtins that evaluate a queryset handed to them.
EVALUATING_BUILTINS = {
    "builtins.list": "iterate",
    "builtins.tuple": "iterate",
    "builtins.set": "iterate",
    "builtins.sorted": "iterate",
    "builtins.len": "len",
    "builtins.bool": "truth",
}
_LAZY = frozenset(
    {
        "all", "filter", "exclude", "order_by", "distinct", "select_related", "prefetch_related",
        "annotate", "alias", "only", "defer", "using", "reverse", "none", "complex_filter",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Fetched:
    """A model instance, and the queryset that fetched it when known."""

    model: Model
    qs: QuerySet | None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """How a related manager chain (`order.items.filter(...).count()`) is used."""

    node: cst.BaseExpression  # the outermost node of the chain
    kind: str  # a method name of RELATED_QUERY_METHODS, or iterate/len/truth/index
    methods: tuple[str, ...]  # the lazy methods chained before it

    @property
    def bypasses_cache(self) -> bool:
        """Queries whatever was prefetched (`filter()`, `get()`, writes)."""
        return any(m != "all" for m in self.methods) or self.kind not in CACHED_EVALUATIONS

    def alternative(self, ctx: FileContext) -> str:
        twin = RELATED_QUERY_METHODS.get(self.kind)
        if twin is not None and has_version(ctx.index, "django", twin[1]):
            return f"await `.{twin[0]}()` instead"
        if self.kind in ("iterate", "len", "truth") and has_version(
            ctx.index, "django", DJANGO_ASYNC_ORM
        ):
            return {
                "iterate": "iterate it with `async for`",
                "len": "await `.acount()` instead",
                "truth": "await `.aexists()` instead",
            }[self.kind]
        return "wrap it in `sync_to_async`"


def fetched(ctx: FileContext, name: cst.Name, scope: Scope | None = None) -> Fetched | None:
    """The model instance a name is bound to, with its fetching queryset."""
    scope = scope or ctx.scope
    owner, bindings = ctx.bindings(name.value, scope)
    if owner is None or not bindings:
        return None
    memo = _memo(ctx)
    key = (id(owner.node), name.value)
    if key in memo.names:
        return memo.names[key]
    qsets = querysets(ctx)
    found: list[Fetched | None] = []
    for binding in bindings:
        if isinstance(binding, Assigned) and binding.value is not None:
            found.append(fetch_of(ctx, binding.value, owner))
        elif isinstance(binding, LoopTarget) and binding.whole_target:
            qs = qsets.queryset(binding.loop.iter, owner)
            ok = qs is not None and not qs.values and not qs.is_manager
            found.append(Fetched(qs.model, _effective(ctx, qs)) if ok and qs else None)
        elif isinstance(binding, Parameter | Assigned):
            model = qsets.instance(name, scope)
            found.append(Fetched(model, None) if model is not None else None)
        else:
            found.append(None)
    result = _combine(found)
    memo.names[key] = result
    return result


def fetch_of(ctx: FileContext, value: cst.BaseExpression, scope: Scope) -> Fetched | None:
    """What an expression that yields one instance fetched it with."""
    qsets = querysets(ctx)
    call = value.expression if isinstance(value, cst.Await) else value
    if isinstance(call, cst.Call):
        func = call.func
        methods = ASYNC_FETCH_METHODS if isinstance(value, cst.Await) else FETCH_METHODS
        if isinstance(func, cst.Attribute) and func.attr.value in methods:
            qs = qsets.queryset(func.value, scope)
            if qs is not None and not qs.values:
                return Fetched(qs.model, _effective(ctx, qs))
            return None
        if ctx.qualified_name(func, scope) in FETCH_FUNCTIONS and call.args:
            first = call.args[0].value
            model = qsets.model_named(first, scope)
            if model is not None:
                return Fetched(model, _effective(ctx, QuerySet(model, is_manager=True)))
            qs = qsets.queryset(first, scope)
            if qs is not None and not qs.values:
                return Fetched(qs.model, _effective(ctx, qs))
            return None
    model = qsets.instance(value, scope)
    return Fetched(model, None) if model is not None else None


def comprehension_fetch(
    ctx: FileContext, comp: cst.CompFor, scope: Scope
) -> tuple[str, Fetched] | None:
    """`[... for x in <queryset>]` (async or not): x and its queryset."""
    if not isinstance(comp.target, cst.Name):
        return None
    qs = querysets(ctx).queryset(comp.iter, scope)
    if qs is None or qs.values or qs.is_manager:
        return None
    return comp.target.value, Fetched(qs.model, _effective(ctx, qs))


def evaluation(ctx: FileContext, manager: cst.Attribute) -> Evaluation | None:
    """How the related manager `manager` (`order.items`) is used where it
    stands: the query it runs, or None when it is not evaluated here (built
    and passed on, awaited through an `a*` method, iterated with `async for`)."""
    methods: list[str] = []
    node: cst.BaseExpression = manager
    while True:
        parent = ctx.parent(node)
        if isinstance(parent, cst.Attribute) and parent.value is node:
            grand = ctx.parent(parent)
            if not (isinstance(grand, cst.Call) and grand.func is parent):
                return None  # `order.items.model`: no query
            methods.append(parent.attr.value)
            node = grand
            continue
        break
    if methods and methods[-1] in RELATED_QUERY_METHODS:
        lazy = methods[:-1]
        if all(m in _LAZY for m in lazy):
            return Evaluation(node, methods[-1], tuple(lazy))
        return None
    if not all(m in _LAZY for m in methods):
        return None  # an `a*` method, `values()`, a custom method: not judged
    kind = _context_evaluation(ctx, node)
    return Evaluation(node, kind, tuple(methods)) if kind is not None else None


def _context_evaluation(ctx: FileContext, node: cst.BaseExpression) -> str | None:
    parent = ctx.parent(node)
    if isinstance(parent, cst.For) and parent.iter is node:
        return "iterate" if parent.asynchronous is None else None
    if isinstance(parent, cst.CompFor) and parent.iter is node:
        return "iterate" if parent.asynchronous is None else None
    if isinstance(parent, cst.Arg) and parent.keyword is None:
        call = ctx.parent(parent)
        if isinstance(call, cst.Call) and call.args and call.args[0] is parent:
            return EVALUATING_BUILTINS.get(ctx.qualified_name(call.func) or "")
        return None
    if isinstance(parent, cst.If | cst.While) and parent.test is node:
        return "truth"
    if isinstance(parent, cst.UnaryOperation) and isinstance(parent.operator, cst.Not):
        return "truth"
    if (
        isinstance(parent, cst.Subscript)
        and parent.value is node
        and all(isinstance(el.slice, cst.Index) for el in parent.slice)
    ):
        return "index"
    return None


_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)


def callers_rows(
    ctx: FileContext, fn: cst.FunctionDef, param: str, model: Model
) -> list[QuerySet] | None:
    """For a private helper of this module (`def _encode(self, invoice)`, a
    module function or a method whose name starts with one underscore), the
    queryset that fetched what each of its calls in the module passes for
    `param` (`self._encode(i) for i in invoices.prefetch_related("lines")`).
    None when there is no call, or when one call or reference cannot be read:
    a name handed on uncalled (`map(self._encode, rows)`), an argument that
    is not the row of a readable queryset; every caller must be known."""
    name = fn.name.value
    if not name.startswith("_") or name.startswith("__") or fn.decorators:
        return None
    key = (f"django_fetch.callers.{param}", id(fn))
    if key in ctx.cache:
        found: list[QuerySet] | None = ctx.cache[key]
        return found
    result = _callers_rows(ctx, fn, param, model)
    ctx.cache[key] = result
    return result


def _callers_rows(
    ctx: FileContext, fn: cst.FunctionDef, param: str, model: Model
) -> list[QuerySet] | None:
    name = fn.name.value
    parents: dict[int, cst.CSTNode] = {}
    positional = [p.name.value for p in (*fn.params.posonly_params, *fn.params.params)]
    if param not in positional:
        return None
    method = False
    calls: list[cst.Call] = []
    for node in descendants(ctx.tree, parents=parents):
        if node is fn and isinstance(parents.get(id(fn)), cst.IndentedBlock):
            holder = parents.get(id(parents[id(fn)]))
            method = isinstance(holder, cst.ClassDef)
        if not (isinstance(node, cst.Name) and node.value == name) or node is fn.name:
            continue
        above = parents.get(id(node))
        expr: cst.CSTNode = node
        if isinstance(above, cst.Attribute) and above.attr is node:
            expr = above  # `self._encode`
        call = parents.get(id(expr))
        if not (isinstance(call, cst.Call) and call.func is expr):
            return None  # handed on uncalled: its callers are out of sight
        calls.append(call)
    if not calls:
        return None
    index = positional.index(param) - (1 if method else 0)
    found: list[QuerySet] = []
    for call in calls:
        value = _argument(call, param, index)
        if value is None:
            return None
        qs = _rows_passed(ctx, value, call, parents, model)
        if qs is None:
            return None
        found.append(qs)
    return found


def _argument(call: cst.Call, param: str, index: int) -> cst.BaseExpression | None:
    if any(arg.star for arg in call.args):
        return None
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == param:
            return arg.value
    positional = [arg for arg in call.args if arg.keyword is None]
    return positional[index].value if 0 <= index < len(positional) else None


def _rows_passed(
    ctx: FileContext,
    value: cst.BaseExpression,
    call: cst.Call,
    parents: dict[int, cst.CSTNode],
    model: Model,
) -> QuerySet | None:
    """The queryset whose row `value` is: the loop variable of a `for` or a
    comprehension clause over it, or a name fetched by it."""
    chain: list[cst.CSTNode] = []
    node: cst.CSTNode | None = call
    while node is not None:
        chain.append(node)
        node = parents.get(id(node))
    scope = ctx.module_scope
    for ancestor in reversed(chain[1:]):
        inner = scope_of_node(ancestor, scope)
        if inner is not None:
            scope = inner
    if not isinstance(value, cst.Name):
        return None
    for ancestor in chain:
        if isinstance(ancestor, _COMPREHENSIONS):
            first = ancestor.for_in
            if isinstance(first.target, cst.Name) and first.target.value == value.value:
                return rows_of(ctx, first.iter, scope, model)
            comp: cst.CompFor | None = first
            while comp is not None:
                if value.value in _target_names(comp.target):
                    return None  # an inner clause's variable: not followed
                comp = comp.inner_for_in
        if (
            isinstance(ancestor, cst.For)
            and isinstance(ancestor.target, cst.Name)
            and ancestor.target.value == value.value
        ):
            return rows_of(ctx, ancestor.iter, scope, model)
        if isinstance(ancestor, cst.FunctionDef | cst.Lambda | cst.ClassDef):
            break
    found = fetched(ctx, value, scope)
    if found is None or found.qs is None or found.model is not model:
        return None
    return found.qs


def rows_of(
    ctx: FileContext, expr: cst.BaseExpression, scope: Scope, model: Model, depth: int = 0
) -> QuerySet | None:
    """The queryset `expr` iterates, as rows of `model`: one backlint reads
    whole, or, when its base is out of sight (`self.event.invoices`), what
    the chain's `select_related()`/`prefetch_related()` load (the rows are
    `model`'s: the helper's annotation says so). None when unknown."""
    qsets = querysets(ctx)
    qs = qsets.queryset(expr, scope)
    if qs is not None:
        if qs.values or qs.is_manager or qs.model is not model:
            return None
        return _effective(ctx, qs)
    if isinstance(expr, cst.Name):
        # `qs = <chain>`, then maybe `qs = qs.filter(...)` (which keeps the
        # loads): what every other assignment loads.
        owner, bindings = ctx.bindings(expr.value, scope)
        if depth >= 3 or owner is None or not bindings:
            return None
        found: list[QuerySet] = []
        for binding in bindings:
            if not isinstance(binding, Assigned) or binding.value is None:
                return None
            if _refines(binding.value, expr.value):
                continue
            qs = rows_of(ctx, binding.value, owner, model, depth + 1)
            if qs is None:
                return None
            found.append(qs)
        if not found:
            return None
        return replace(
            found[0],
            select_all=all(q.select_all for q in found),
            select=frozenset.intersection(*(q.select for q in found)),
            prefetch=frozenset.intersection(*(q.prefetch for q in found)),
            opaque=all(q.opaque for q in found),
        )
    select: set[str] = set()
    prefetch: set[str] = set()
    loads = False
    current: cst.BaseExpression = expr
    while isinstance(current, cst.Call) and isinstance(current.func, cst.Attribute):
        method = current.func.attr.value
        if method in ("select_related", "prefetch_related"):
            if not current.args or any(arg.keyword is not None for arg in current.args):
                return None
            for arg in current.args:
                paths = (
                    qsets.prefetch_paths(arg.value, scope)
                    if method == "prefetch_related"
                    else _string(arg.value)
                )
                if paths is None:
                    return None
                (select if method == "select_related" else prefetch).update(paths)
            loads = True
        elif method not in LAZY_METHODS:
            return None
        current = current.func.value
    if not loads:
        return None
    return QuerySet(
        model,
        select=frozenset(select),
        prefetch=frozenset(prefetch),
        rooted_at_manager=False,
    )


def _refines(value: cst.BaseExpression, name: str) -> bool:
    """`name.filter(...)...`: lazy methods on the name itself."""
    current = value
    while isinstance(current, cst.Call) and isinstance(current.func, cst.Attribute):
        if current.func.attr.value not in LAZY_METHODS:
            return False
        current = current.func.value
    return current is not value and isinstance(current, cst.Name) and current.value == name


def _target_names(target: cst.BaseExpression) -> set[str]:
    return {n.value for n in (target, *descendants(target)) if isinstance(n, cst.Name)}


def _string(expr: cst.BaseExpression) -> set[str] | None:
    if isinstance(expr, cst.SimpleString):
        text = expr.evaluated_value
        return {text} if isinstance(text, str) else None
    return None


def _effective(ctx: FileContext, qs: QuerySet) -> QuerySet:
    """A queryset from a manager whose class overrides `get_queryset()` may
    load anything: treat everything as loaded."""
    if qs.opaque or not qs.model.manager_classes:
        return qs
    memo = _memo(ctx).overrides
    overrides = memo.get(qs.model.qualname)
    if overrides is None:
        qsets = querysets(ctx)
        overrides = any(
            qsets.manager_method(name, "get_queryset") is not None
            for name in qs.model.manager_classes
        )
        memo[qs.model.qualname] = overrides
    return replace(qs, opaque=True) if overrides else qs


def _combine(found: list[Fetched | None]) -> Fetched | None:
    first = found[0]
    if first is None or any(f is None or f.model is not first.model for f in found):
        return None
    if any(f is not None and f.qs is None for f in found):
        return Fetched(first.model, None)
    qss = [f.qs for f in found if f is not None and f.qs is not None]
    # Several assignments: what any of them loads counts as loaded (no false alarm).
    merged = replace(
        qss[0],
        select_all=any(q.select_all for q in qss),
        select=frozenset().union(*(q.select for q in qss)),
        prefetch=frozenset().union(*(q.prefetch for q in qss)),
        opaque=any(q.opaque for q in qss),
    )
    return Fetched(first.model, merged)


@dataclass(slots=True)
class _Memo:
    names: dict[tuple[int, str], Fetched | None] = field(default_factory=dict)
    overrides: dict[str, bool] = field(default_factory=dict)


def _memo(ctx: FileContext) -> _Memo:
    found = ctx.cache.get(("django_fetch", 0))
    if not isinstance(found, _Memo):
        found = _Memo()
        ctx.cache[("django_fetch", 0)] = found
    return found
