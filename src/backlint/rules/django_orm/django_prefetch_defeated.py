"""BKL304 django-prefetch-defeated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import libcst as cst

from backlint.rules.django_orm.django_n_plus_one import (
    _MANAGER_WRITES,
    DjangoNPlusOne,
    _chain,
    _Loop,
)
from backlint.semantics.django import Model, querysets
from backlint.types import SourceFile

# Methods of a related manager that build a new query, ignoring the rows a
# prefetch cached (`all()`, `count()`, `exists()` are answered from the cache).
_NEW_QUERY = frozenset(
    {
        "filter", "exclude", "order_by", "get", "annotate", "alias", "values", "values_list",
        "distinct", "select_related", "prefetch_related", "aggregate", "in_bulk", "latest",
        "earliest", "only", "defer", "reverse", "extra", "get_or_create", "update_or_create",
    }
)  # fmt: skip
# `first()`/`last()` use the cache only when the rows are ordered: a model
# without `Meta.ordering` makes them add `order_by("pk")`, a new query.
_FIRST_LAST = frozenset({"first", "last"})


class DjangoPrefetchDefeated(DjangoNPlusOne):
    """A prefetched relation is queried again in the loop (`.filter()` on it).

    What it flags:
    In a `for` loop or comprehension over a queryset that
    `prefetch_related()` a to-many relation (`"items"`, `"order__items"`,
    `Prefetch("items")`), a call on that relation of the loop variable that
    builds a new query: `obj.items.filter(...)`, `.exclude()`, `.order_by()`,
    `.get()`, `.values()`, `.annotate()`..., also after `.all()`; and
    `.first()`/`.last()` when the related model has no `Meta.ordering`
    (Django then orders by `pk`: a new query). The loops are BKL301's
    (directly, through a variable, `self.get_queryset()`, a prefetched
    relation of an outer loop). Reported once per loop and relation.

    Why:
    The prefetch loaded every related row in one query, and the call ignores
    them: one more query per row, on top of the prefetch. The code looks
    optimised and is not.

    Example:
    ```python
    from django.db import models

    class Order(models.Model):
        number = models.CharField(max_length=20)

    class Item(models.Model):
        order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
        shipped = models.BooleanField(default=False)

    def pending_counts() -> dict[str, int]:
        orders = Order.objects.prefetch_related("items")
        return {o.number: len(o.items.filter(shipped=False)) for o in orders}
    ```

    Use instead:
    ```python
    from django.db import models

    class Order(models.Model):
        number = models.CharField(max_length=20)

    class Item(models.Model):
        order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
        shipped = models.BooleanField(default=False)

    def pending_counts() -> dict[str, int]:
        orders = Order.objects.prefetch_related("items")
        return {o.number: len([i for i in o.items.all() if not i.shipped]) for o in orders}
    ```

    Not flagged:
    `obj.items.all()`, `.count()`, `.exists()` (served by the cache);
    `first()`/`last()` on a model with `Meta.ordering`; prefetches made only
    inside a custom queryset method of another module (the file must say
    `prefetch_related` or `Prefetch(`: a missed alarm); relations the
    queryset did not prefetch (BKL301 reports those); writes (`add`,
    `create`, `update`, `delete`...: no prefetch serves them); loops in async
    functions; test files. A `Prefetch(..., to_attr=...)` leaves the
    relation itself unloaded (BKL301's).

    Fix:
    None: filter the prefetched rows in Python, or prefetch exactly the rows
    needed with `Prefetch("items", queryset=Item.objects.filter(...),
    to_attr="...")`.
    """

    code = "BKL304"
    name = "django-prefetch-defeated"

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        # The prefetch is written in the file (a queryset chain, or the class's
        # own `get_queryset()`); one hidden in a custom queryset method defined
        # elsewhere is not looked for (a missed alarm), which spares the loop
        # analysis on every other file.
        if "prefetch_related" not in source and "Prefetch(" not in source:
            return False
        return super().applies(file, source, packages, options)

    message = (
        "`{expr}` ignores the prefetched `{path}` rows and queries once per row: "
        "filter them in Python, or use `Prefetch(..., queryset=..., to_attr=...)`"
    )

    def scan(self, loop: _Loop, roots: Sequence[cst.CSTNode]) -> None:
        chains = []
        for attribute in self._attributes(roots):
            found = _chain(attribute)
            if found is not None and found[0] == loop.var:
                chains.append(found)
        # Judge each chain whole: `x.items.filter(...).update(...)` is a write.
        inner = {id(node) for _, nodes, _ in chains for node in nodes[:-1]}
        reported: set[str] = set()
        for _, nodes, steps in chains:
            if id(nodes[-1]) in inner or _MANAGER_WRITES.intersection(steps):
                continue
            hit = self._defeated(loop, steps)
            if hit is None:
                continue
            index, path = hit
            if path in reported:
                continue
            reported.add(path)
            expr = ".".join([loop.var, *steps[: index + 1]])
            self.report(nodes[index], expr=expr, path=path)

    def _defeated(self, loop: _Loop, steps: list[str]) -> tuple[int, str] | None:
        """(index of the method step, `__` path) of a new query built on a
        prefetched relation along the chain."""
        models = querysets(self.ctx).models
        model: Model | None = loop.qs.model
        path = ""
        for i, step in enumerate(steps):
            relation = model.relation(step) if model is not None else None
            if relation is None:
                return None
            path = f"{path}__{step}" if path else step
            if relation.single:
                if not loop.qs.covers(path, single=True):
                    return None  # BKL301's
                model = models.get(relation.target)
                continue
            if not relation.manager or not loop.qs.covers(path, single=False):
                return None
            j = i + 1
            if j < len(steps) and steps[j] == "all":
                j += 1
            if j >= len(steps):
                return None
            method = steps[j]
            target = models.get(relation.target)
            if method in _NEW_QUERY or (
                method in _FIRST_LAST
                and target is not None
                and models.meta_option(target, "ordering") is None
            ):
                return j, path
            return None
        return None
