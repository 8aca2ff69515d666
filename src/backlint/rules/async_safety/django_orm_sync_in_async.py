"""BKL101 django-orm-sync-in-async."""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.django import querysets
from backlint.types import Fix, FixKind

# Manager/queryset methods that run a query, and their async twins.
QUERY_METHODS = {
    "get": "aget",
    "first": "afirst",
    "last": "alast",
    "count": "acount",
    "exists": "aexists",
    "create": "acreate",
    "get_or_create": "aget_or_create",
    "update_or_create": "aupdate_or_create",
    "update": "aupdate",
    "delete": "adelete",
    "bulk_create": "abulk_create",
    "bulk_update": "abulk_update",
    "in_bulk": "ain_bulk",
    "aggregate": "aaggregate",
    "earliest": "aearliest",
    "latest": "alatest",
    "contains": "acontains",
    "iterator": "aiterator",
    "explain": "aexplain",
}
INSTANCE_METHODS = {"save": "asave", "delete": "adelete", "refresh_from_db": "arefresh_from_db"}
# Twins that are not awaited: `aiterator()` is an async iterator (`async for`).
NOT_AWAITABLE = frozenset({"aiterator"})
# Where an `await` expression needs parentheses: as the object of a trailer.
_TRAILERS = (cst.Attribute, cst.Subscript, cst.Call)
# Builtins that evaluate a queryset, and what to write instead.
EVALUATING_BUILTINS = {
    "builtins.list": "use `[obj async for obj in qs]`",
    "builtins.tuple": "use `[obj async for obj in qs]`",
    "builtins.set": "use `{obj async for obj in qs}`",
    "builtins.sorted": "use `[obj async for obj in qs]` and sort that",
    "builtins.len": "use `await qs.acount()`",
    "builtins.bool": "use `await qs.aexists()`",
}


class DjangoOrmSyncInAsync(Rule):
    """A synchronous Django ORM query inside an async function.

    What it flags:
    Inside an `async def`, a query rooted at a model's manager that runs
    synchronously: `get first last count exists create get_or_create
    update_or_create update delete bulk_create bulk_update in_bulk aggregate
    earliest latest contains iterator explain` on `Model.objects` or a
    queryset built from it; iterating a queryset with `for` or a comprehension;
    `list(qs)`, `len(qs)`, `bool(qs)`, `if qs:`, `qs[i]`; and `save()`,
    `delete()`, `refresh_from_db()` on a model instance.

    Why:
    Django raises `SynchronousOnlyOperation` for these calls in an async
    context, or, where that check is disabled, blocks the event loop for the
    length of the query: every other request served by that worker waits.

    Example:
    ```python
    from django.db import models
    from django.http import JsonResponse

    class Order(models.Model):
        total = models.IntegerField()

    async def order_detail(request, pk):
        order = Order.objects.get(pk=pk)
        return JsonResponse({"id": order.pk, "total": order.total})
    ```

    Use instead:
    ```python
    from django.db import models
    from django.http import JsonResponse

    class Order(models.Model):
        total = models.IntegerField()

    async def order_detail(request, pk):
        order = await Order.objects.aget(pk=pk)
        return JsonResponse({"id": order.pk, "total": order.total})
    ```

    Not flagged:
    Building a lazy queryset (`qs = Order.objects.filter(...)`), `async for`
    over a queryset, the awaited `a*` methods (`aget`, `acount`, `asave`...),
    code in a nested `def` or `lambda` (such as a callable handed to
    `sync_to_async`), and queries through an instance's relation
    (`order.items.all()`: BKL106 covers those, knowing about prefetching).
    A queryset whose model backlint cannot resolve (a model from a package
    outside the project that is not imported from a `models` module) is not
    seen: missed alarm rather than guess.

    Fix:
    `X.objects.get(...)` becomes `await X.objects.aget(...)`, and likewise for
    the other query methods with an awaitable `a*` twin and for
    `save`/`delete`/`refresh_from_db` on an instance. The fix is safe when the
    call is a whole statement or the whole value of an assignment directly in
    the `async def` body; elsewhere (inside an `if`, a loop, an expression) it
    is unsafe: the code around it is worth a look. No fix for `iterator()`
    (use `async for ... in qs.aiterator()`), inside a generator expression
    (awaiting would turn it into an async generator), or for iterating,
    `len()`, `bool()` and indexing.
    """

    code = "BKL101"
    name = "django-orm-sync-in-async"
    message = "{what} runs a synchronous query in an async function: {instead}"
    frameworks = frozenset({"django"})
    markers = ("async ",)
    only_in_async = True
    fix_kind = FixKind.SAFE

    def visit_Call(self, node: cst.Call) -> None:
        qsets = querysets(self.ctx)
        func = node.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in QUERY_METHODS:
                qs = qsets.queryset(func.value)
                if qs is not None and qs.rooted_at_manager:
                    fix, replacement = self._fix(node, func, QUERY_METHODS[method])
                    self.report(
                        node,
                        fix=fix,
                        replacement=replacement,
                        what=f"`.{method}()` on `{qs.model.name}`",
                        instead=f"await `.{QUERY_METHODS[method]}()` instead",
                    )
                    return
            if method in INSTANCE_METHODS:
                model = qsets.instance(func.value)
                if model is not None:
                    fix, replacement = self._fix(node, func, INSTANCE_METHODS[method])
                    self.report(
                        node,
                        fix=fix,
                        replacement=replacement,
                        what=f"`.{method}()` on a `{model.name}`",
                        instead=f"await `.{INSTANCE_METHODS[method]}()` instead",
                    )
            return
        name = self.ctx.qualified_name(func)
        if name in EVALUATING_BUILTINS and node.args and node.args[0].keyword is None:
            qs = qsets.queryset(node.args[0].value)
            if qs is not None and not qs.is_manager and qs.rooted_at_manager:
                builtin = name.rsplit(".", 1)[1]
                self.report(
                    node, what=f"`{builtin}()` of a queryset", instead=EVALUATING_BUILTINS[name]
                )

    def _fix(
        self, node: cst.Call, func: cst.Attribute, twin: str
    ) -> tuple[Fix | None, cst.CSTNode | None]:
        """`fix` and `replacement` for `report`: the call to the awaited twin."""
        if twin in NOT_AWAITABLE:
            return None, None
        renamed = node.with_changes(func=func.with_changes(attr=cst.Name(twin)))
        parent = self.ctx.parent(node)
        if isinstance(parent, cst.Await):  # awaited already (a TypeError): rename only
            return Fix(FixKind.SAFE, f"Call `.{twin}()`"), renamed
        safe = _is_whole_statement(node, parent, self.ctx.parent)
        if not safe:
            for ancestor in self.ctx.ancestors(node):
                if isinstance(ancestor, cst.GeneratorExp):
                    return None, None
                if isinstance(ancestor, cst.BaseStatement | cst.BaseSmallStatement):
                    break
        lpar, rpar = node.lpar, node.rpar
        needs_parens = isinstance(parent, _TRAILERS) and getattr(parent, "value", None) is node
        needs_parens |= isinstance(parent, cst.Call) and parent.func is node
        if needs_parens and not lpar:
            lpar, rpar = [cst.LeftParen()], [cst.RightParen()]
        awaited = cst.Await(expression=renamed.with_changes(lpar=[], rpar=[]), lpar=lpar, rpar=rpar)
        kind = FixKind.SAFE if safe else FixKind.UNSAFE
        return Fix(kind, f"Await `.{twin}()`"), awaited

    def visit_For(self, node: cst.For) -> None:
        if node.asynchronous is None:
            self._iterated(node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        if node.asynchronous is None:
            self._iterated(node.iter)

    def _iterated(self, expr: cst.BaseExpression) -> None:
        qs = querysets(self.ctx).queryset(expr)
        if qs is not None and not qs.is_manager and qs.rooted_at_manager:
            self.report(expr, what="iterating a queryset", instead="use `async for`")

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if all(isinstance(el.slice, cst.Index) for el in node.slice):
            qs = querysets(self.ctx).queryset(node.value)
            if qs is not None and not qs.is_manager and qs.rooted_at_manager:
                self.report(node, what="indexing a queryset", instead="use `await qs[i:].afirst()`")

    def visit_If(self, node: cst.If) -> None:
        self._truth(node.test)

    def visit_While(self, node: cst.While) -> None:
        self._truth(node.test)

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        if isinstance(node.operator, cst.Not):
            self._truth(node.expression)

    def _truth(self, expr: cst.BaseExpression) -> None:
        if isinstance(expr, cst.Name | cst.Call | cst.Attribute):
            qs = querysets(self.ctx).queryset(expr)
            if qs is not None and not qs.is_manager and qs.rooted_at_manager:
                self.report(
                    expr, what="testing a queryset's truth", instead="use `await qs.aexists()`"
                )


def _is_whole_statement(
    node: cst.Call,
    parent: cst.CSTNode | None,
    parent_of: Callable[[cst.CSTNode], cst.CSTNode | None],
) -> bool:
    """`X.objects.get(...)` or `x = X.objects.get(...)` (with no parentheses
    around the call) as a statement of the `async def` body itself."""
    if node.lpar:
        return False
    if isinstance(parent, cst.Expr | cst.Assign | cst.AnnAssign):
        if parent.value is not node:
            return False
    else:
        return False
    line = parent_of(parent)
    block = parent_of(line) if isinstance(line, cst.SimpleStatementLine) else None
    function = parent_of(block) if isinstance(block, cst.IndentedBlock) else None
    return isinstance(function, cst.FunctionDef) and function.asynchronous is not None
