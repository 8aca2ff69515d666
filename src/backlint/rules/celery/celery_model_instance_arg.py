"""BKL903 celery-model-instance-arg."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.celery import enqueue
from backlint.semantics.django import querysets
from backlint.types import SourceFile


class CeleryModelInstanceArg(Rule):
    """A Django model instance passed to a Celery task.

    What it flags:
    A model instance among the arguments of `task.delay(...)`,
    `task.apply_async(args=[...], kwargs={...})` (or positional `args`,
    `kwargs`) or `app.send_task(name, args=[...])`: an instance bound from
    `Model.objects.get(...)`, `first()`, `create(...)`, `get_object_or_404`,
    a loop over a queryset, a parameter annotated with a model, or `self` in a
    model's method.

    Why:
    The instance is serialised when the task is enqueued: with the JSON
    serializer the call fails, with pickle the worker gets a snapshot that may
    be stale by the time it runs (or describe a row since deleted), and saving
    it overwrites newer changes.

    Example:
    ```python
    from celery import shared_task
    from django.db import models

    class Invoice(models.Model):
        total = models.IntegerField()

    @shared_task
    def render_pdf(invoice) -> None:
        print(invoice.total)

    def issue(pk: int) -> None:
        invoice = Invoice.objects.get(pk=pk)
        render_pdf.delay(invoice)
    ```

    Use instead:
    ```python
    from celery import shared_task
    from django.db import models

    class Invoice(models.Model):
        total = models.IntegerField()

    @shared_task
    def render_pdf(invoice_id: int) -> None:
        print(Invoice.objects.get(pk=invoice_id).total)

    def issue(pk: int) -> None:
        invoice = Invoice.objects.get(pk=pk)
        render_pdf.delay(invoice.pk)
    ```

    Not flagged:
    `obj.pk`, `obj.id` and other plain values; rows of `values()` /
    `values_list()` querysets (`values_list("pk", flat=True)` yields plain
    values); querysets and lists of instances; instances whose origin backlint
    cannot follow; tasks whose definition is not in the project (missed
    alarms rather than guesses).

    Fix:
    None: pass the primary key and fetch the row inside the task.
    """

    code = "BKL903"
    name = "celery-model-instance-arg"
    message = (
        "`{call}()` is passed the `{model}` instance `{arg}`: pass its primary key "
        "(`{arg}.pk`) and fetch the row in the task"
    )
    frameworks = frozenset({"celery"})
    markers = ("delay", "apply_async", "send_task")

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        return "django" in packages and super().applies(file, source, packages, options)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in (
            "delay",
            "apply_async",
            "send_task",
        ):
            return
        found = enqueue(self.ctx, node)
        if found is None:
            return
        qsets = querysets(self.ctx)
        for arg in _task_arguments(found.method, node):
            model = qsets.instance(arg)
            if model is not None:
                shown = self.ctx.tree.code_for_node(arg)
                self.report(node, call=found.shown, model=model.name, arg=shown)
                return


def _task_arguments(method: str, call: cst.Call) -> Iterator[cst.BaseExpression]:
    """The expressions a call hands to the task as its arguments."""
    if method == "delay":
        for arg in call.args:
            if arg.star == "":
                yield arg.value
        return
    # apply_async(args, kwargs, ...) / send_task(name, args, kwargs, ...)
    first = 0 if method == "apply_async" else 1
    positional = [a for a in call.args if a.keyword is None and a.star == ""]
    containers: list[cst.BaseExpression] = [a.value for a in positional[first : first + 2]]
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in ("args", "kwargs"):
            containers.append(arg.value)
    for container in containers:
        if isinstance(container, cst.List | cst.Tuple):
            for element in container.elements:
                if isinstance(element, cst.Element):
                    yield element.value
        elif isinstance(container, cst.Dict):
            for entry in container.elements:
                if isinstance(entry, cst.DictElement):
                    yield entry.value
