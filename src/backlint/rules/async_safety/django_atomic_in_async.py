"""BKL108 django-atomic-in-async."""

from __future__ import annotations

from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.django import querysets
from backlint.types import SourceFile

# `transaction.atomic`, however it is imported.
ATOMIC = frozenset({"django.db.transaction.atomic"})


class DjangoAtomicInAsync(Rule):
    """`transaction.atomic()` or `select_for_update()` inside an async function.

    What it flags:
    Inside an `async def`: `with transaction.atomic():` (or `async with`),
    `@transaction.atomic` on an `async def`, and `select_for_update()` on a
    queryset (`Model.objects...`, a related manager, a queryset variable).

    Why:
    Django's transactions are bound to a database connection of one thread and
    do not work across the event loop: `atomic()` in async code raises
    `SynchronousOnlyOperation`, and as a decorator of an `async def` it wraps
    only the creation of the coroutine, so the body runs outside any
    transaction. `select_for_update()` needs a transaction to hold its locks.

    Example:
    ```python
    from django.db import models, transaction

    class Account(models.Model):
        balance = models.IntegerField()

    async def withdraw(pk, amount):
        with transaction.atomic():
            account = await Account.objects.aget(pk=pk)
            account.balance -= amount
            await account.asave()
    ```

    Use instead:
    ```python
    from asgiref.sync import sync_to_async
    from django.db import models, transaction

    class Account(models.Model):
        balance = models.IntegerField()

    @sync_to_async
    def _withdraw(pk, amount):
        with transaction.atomic():
            account = Account.objects.select_for_update().get(pk=pk)
            account.balance -= amount
            account.save()

    async def withdraw(pk, amount):
        await _withdraw(pk, amount)
    ```

    Not flagged:
    The same in a sync function, including one nested in an async function and
    handed to `sync_to_async` or `database_sync_to_async`; `transaction.on_commit`
    and other transaction functions; `select_for_update` on objects that are
    not Django querysets.

    Fix:
    None: move the transactional code into a sync function and call it with
    `sync_to_async`.
    """

    code = "BKL108"
    name = "django-atomic-in-async"
    message = "{what} in an async function does not work across the event loop: {cure}"
    frameworks = frozenset({"django"})
    markers = ("atomic", "select_for_update")

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        return "async " in source and super().applies(file, source, packages, options)

    def visit_With(self, node: cst.With) -> None:
        if not self.ctx.in_async_function:
            return
        for item in node.items:
            expr = item.item
            if isinstance(expr, cst.Call):
                expr = expr.func
            if self.ctx.qualified_name(expr) in ATOMIC:
                self.report(
                    item.item,
                    what="`transaction.atomic()`",
                    cure="move the transactional code into a sync function called with "
                    "`sync_to_async`",
                )

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.asynchronous is None:
            return
        for decorator in node.decorators:
            expr = decorator.decorator
            if isinstance(expr, cst.Call):
                expr = expr.func
            if self.ctx.qualified_name(expr) in ATOMIC:
                self.report(
                    decorator.decorator,
                    "`@transaction.atomic` on an `async def` wraps only the creation of the "
                    "coroutine, so the body runs outside the transaction: decorate a sync "
                    "function called with `sync_to_async` instead",
                )

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (
            isinstance(func, cst.Attribute)
            and func.attr.value == "select_for_update"
            and self.ctx.in_async_function
        ):
            return
        if querysets(self.ctx).queryset(func.value) is None:
            return
        self.report(
            node,
            what="`select_for_update()`",
            cure="its locks need a transaction: lock rows in a sync function called with "
            "`sync_to_async`",
        )
