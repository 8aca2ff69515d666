"""BKL106 django-lazy-relation-in-async."""

from __future__ import annotations

from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import FileContext
from backlint.semantics.django import Model, Relation, querysets
from backlint.semantics.django_fetch import Fetched, comprehension_fetch, evaluation, fetched

Comprehension = cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp


class DjangoLazyRelationInAsync(Rule):
    """A Django relation read in an async function without having been loaded.

    What it flags:
    Inside an `async def`, on a model instance:
    reading a forward ForeignKey/OneToOne (or reverse OneToOne, or generic
    foreign key) attribute that the query which fetched the instance did not
    `select_related`/`prefetch_related` (`order.customer`, also one step
    further: `order.customer.address`); and evaluating a reverse or
    many-to-many manager synchronously (`order.items.count()`,
    `for item in order.items.all()`, `list(...)`, `order.tags.add(...)`)
    when it was not prefetched, or in a way no prefetch serves
    (`order.items.filter(...)`, `.get(...)`, writes). The instance is known
    to be fetched by `await qs.aget()/afirst()/...`, `qs.get()`,
    `get_object_or_404`, `async for x in qs` or a comprehension over a
    queryset; instances of other origins (parameters, `acreate()`) are judged
    only on reads that query whatever was loaded.

    Why:
    The related row is fetched on first access, synchronously: in an async
    context Django raises `SynchronousOnlyOperation` (or, with that check
    disabled, blocks the event loop for the query).

    Example:
    ```python
    from django.db import models
    from django.http import JsonResponse

    class Customer(models.Model):
        name = models.CharField(max_length=100)

    class Order(models.Model):
        customer = models.ForeignKey(Customer, on_delete=models.CASCADE)

    async def order_detail(request, pk):
        order = await Order.objects.aget(pk=pk)
        return JsonResponse({"customer": order.customer.name})
    ```

    Use instead:
    ```python
    from django.db import models
    from django.http import JsonResponse

    class Customer(models.Model):
        name = models.CharField(max_length=100)

    class Order(models.Model):
        customer = models.ForeignKey(Customer, on_delete=models.CASCADE)

    async def order_detail(request, pk):
        order = await Order.objects.select_related("customer").aget(pk=pk)
        return JsonResponse({"customer": order.customer.name})
    ```

    Not flagged:
    Relations covered by the fetching query's `select_related` /
    `prefetch_related` (`__` paths and `Prefetch` objects included, also
    one held in a variable bound once: `p = Prefetch("setting", ...)`, then
    `prefetch_related(p)`);
    `<fk>_id` attributes; `async for` over a related manager and its `a*`
    methods (`await order.items.acount()`); a relation assigned earlier in the
    function (`order.customer = c`: cached); building a related queryset
    without evaluating it; code in a nested `def` or `lambda` (such as a
    callable handed to `sync_to_async`). Instances whose model's managers
    override `get_queryset()` (which may load relations), and instances
    reached through containers or other objects, are not judged: missed
    alarms rather than guesses. In async code these reads are this rule's
    only: BKL301 does not report them.

    Fix:
    None: add the relation to `select_related` (ForeignKey, OneToOne) or
    `prefetch_related` (reverse and many-to-many) of the query that fetched the
    instance, or use the `a*` methods and `async for` on related managers.
    """

    code = "BKL106"
    name = "django-lazy-relation-in-async"
    message = "`{expr}` {does} in an async function (raises `SynchronousOnlyOperation`): {cure}"
    frameworks = frozenset({"django"})
    markers = ("async ",)
    only_in_async = True

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        # Comprehension variables over querysets, innermost last.
        # (None: a variable of something else, shadowing outer names.)
        self.comprehensions: list[dict[str, Fetched | None]] = []
        # (scope, variable, relation path) already reported or assigned.
        self.done: set[tuple[int, str, str]] = set()

    # Comprehensions ----------------------------------------------------------

    def _visit_comprehension(self, node: Comprehension) -> None:
        names: dict[str, Fetched | None] = {}
        comp: cst.CompFor | None = node.for_in
        while comp is not None:
            found = comprehension_fetch(self.ctx, comp, self.ctx.scope)
            if found is not None:
                names[found[0]] = found[1]
            elif isinstance(comp.target, cst.Name):
                names[comp.target.value] = None
            comp = comp.inner_for_in
        self.comprehensions.append(names)

    def _leave_comprehension(self, node: Comprehension) -> None:
        self.comprehensions.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_comprehension
    leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comprehension

    # Relation reads ------------------------------------------------------------

    def visit_Attribute(self, node: cst.Attribute) -> None:
        root = node.value
        if not isinstance(root, cst.Name):
            return
        instance = self._instance(root)
        if instance is None:
            return
        models = querysets(self.ctx).models
        model: Model | None = instance.model
        current = node
        path = ""
        while model is not None:
            relation = model.relation(current.attr.value)
            if relation is None:
                return
            path = f"{path}__{relation.name}" if path else relation.name
            key = (id(self.ctx.scope.node), root.value, path)
            if relation.single:
                if self._is_written(current):
                    self.done.add(key)
                    return
                if instance.qs is None:
                    return  # origin unknown: it may have been loaded
                if not instance.qs.covers(path, single=True):
                    if key not in self.done:
                        self.done.add(key)
                        self._report_single(current, root.value, relation, path)
                    return
                parent = self.ctx.parent(current)
                if not (isinstance(parent, cst.Attribute) and parent.value is current):
                    return
                model = models.get(relation.target)
                current = parent
                continue
            if relation.manager:
                self._manager(current, root.value, instance, path)
            return

    def _instance(self, name: cst.Name) -> Fetched | None:
        for names in reversed(self.comprehensions):
            if name.value in names:
                return names[name.value]
        return fetched(self.ctx, name)

    def _is_written(self, node: cst.Attribute) -> bool:
        parent = self.ctx.parent(node)
        if isinstance(parent, cst.AssignTarget | cst.AnnAssign | cst.AugAssign):
            return parent.target is node
        return isinstance(parent, cst.Del) and parent.target is node

    def _report_single(self, node: cst.Attribute, var: str, relation: Relation, path: str) -> None:
        method = "prefetch_related" if relation.kind == "generic_fk" else "select_related"
        self.report(
            node,
            expr=self.ctx.tree.code_for_node(node),
            does="loads a related row on first read",
            cure=f'add `{method}("{path}")` to the query that fetched `{var}`',
        )

    def _manager(self, node: cst.Attribute, var: str, instance: Fetched, path: str) -> None:
        use = evaluation(self.ctx, node)
        if use is None:
            return
        if use.bypasses_cache:
            cure = use.alternative(self.ctx)
        elif instance.qs is not None and not instance.qs.covers(path, single=False):
            if "prefetch_related_objects" in self.ctx.source:
                return  # prefetched after the fetch: not followed
            cure = (
                f'add `prefetch_related("{path}")` to the query that fetched `{var}`, '
                f"or {use.alternative(self.ctx)}"
            )
        else:
            return
        shown = self.ctx.tree.code_for_node(use.node)
        if len(shown) > 60 or "\n" in shown:
            shown = self.ctx.tree.code_for_node(node)
        self.report(use.node, expr=shown, does="queries the database", cure=cure)
