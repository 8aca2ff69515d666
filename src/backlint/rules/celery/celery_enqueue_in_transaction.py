"""BKL902 celery-enqueue-in-transaction."""

from __future__ import annotations

from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.celery import enqueue
from backlint.semantics.context import FileContext, Imported, Scope
from backlint.types import FixKind, SourceFile

ATOMIC = frozenset({"django.db.transaction.atomic"})
TRANSACTION_MODULE = "django.db.transaction"
ON_COMMIT = "django.db.transaction.on_commit"
_LOOPS = (cst.For, cst.While, cst.CompFor)


class CeleryEnqueueInTransaction(Rule):
    """A Celery task enqueued inside a database transaction.

    What it flags:
    `.delay()`, `.apply_async()` (on a task, a signature or a canvas) or
    `app.send_task()` inside `with transaction.atomic():` or in a function
    decorated with `@transaction.atomic`, in the same function body.

    Why:
    The message reaches the broker at once, while the transaction is still
    open: a fast worker runs the task before the commit and does not find
    the new row (`DoesNotExist`), or reads the old values; if the transaction
    rolls back, the task runs for data that never existed.

    Example:
    ```python
    from celery import shared_task
    from django.db import models, transaction

    class Order(models.Model):
        total = models.IntegerField()

    @shared_task
    def send_receipt(order_id: int) -> None:
        print(Order.objects.get(pk=order_id).total)

    def place_order(total: int) -> None:
        with transaction.atomic():
            order = Order.objects.create(total=total)
            send_receipt.delay(order.pk)
    ```

    Use instead:
    ```python
    from celery import shared_task
    from django.db import models, transaction

    class Order(models.Model):
        total = models.IntegerField()

    @shared_task
    def send_receipt(order_id: int) -> None:
        print(Order.objects.get(pk=order_id).total)

    def place_order(total: int) -> None:
        with transaction.atomic():
            order = Order.objects.create(total=total)
            transaction.on_commit(lambda: send_receipt.delay(order.pk))
    ```

    Not flagged:
    Calls wrapped in `transaction.on_commit(...)` (`on_commit(task.delay)`,
    `on_commit(lambda: ...)`), Celery's `delay_on_commit` /
    `apply_async_on_commit`, calls after the `atomic` block closed, calls in
    a nested function or lambda; tasks whose `base=` class of the project
    overrides `apply_async()` or `delay()` (a transaction-aware task class
    that sends on commit itself: how it sends is the project's own).
    Transactions opened by a caller, by `ATOMIC_REQUESTS` or by middleware
    are not seen (missed alarm), nor tasks whose definition is not in the
    project.

    Fix:
    Wraps a call used as a statement in `transaction.on_commit(lambda: ...)`
    (unsafe: the task then runs only if the transaction commits, and the
    lambda reads its variables when it runs, at commit). Not offered inside a
    loop, where every lambda would see the loop variable's last value, nor
    when no name for `django.db.transaction` is at hand.
    """

    code = "BKL902"
    name = "celery-enqueue-in-transaction"
    message = (
        "`{call}()` inside `transaction.atomic` enqueues the task before the commit: the "
        "worker may run it before the data is committed, or after a rollback; wrap it in "
        "`transaction.on_commit(lambda: ...)`"
    )
    frameworks = frozenset({"celery"})
    markers = ("atomic",)
    fix_kind = FixKind.UNSAFE

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        return any(m in source for m in ("delay", "apply_async", "send_task")) and (
            super().applies(file, source, packages, options)
        )

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        # Open `with` blocks: (the scope they are in, atomic?, how `on_commit`
        # is spelled there).
        self.blocks: list[tuple[Scope, bool, str | None]] = []
        # Functions decorated with @transaction.atomic: id(scope node) -> on_commit spelling.
        self.atomic_functions: dict[int, str | None] = {}

    def visit_With(self, node: cst.With) -> None:
        for item in node.items:
            expr = item.item.func if isinstance(item.item, cst.Call) else item.item
            if self.ctx.qualified_name(expr) in ATOMIC:
                self.blocks.append((self.ctx.scope, True, self._on_commit(expr)))
                return
        self.blocks.append((self.ctx.scope, False, None))

    def leave_With(self, node: cst.With) -> None:
        self.blocks.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for decorator in node.decorators:
            expr = decorator.decorator
            expr = expr.func if isinstance(expr, cst.Call) else expr
            if self.ctx.qualified_name(expr) in ATOMIC:
                self.atomic_functions[id(node)] = self._on_commit(expr)

    def visit_Call(self, node: cst.Call) -> None:
        scope = self.ctx.scope
        atomic = False
        spelling: str | None = None
        for block_scope, is_atomic, block_spelling in reversed(self.blocks):
            if block_scope is scope and is_atomic:
                atomic, spelling = True, block_spelling
                break
        if not atomic and id(scope.node) in self.atomic_functions:
            atomic, spelling = True, self.atomic_functions[id(scope.node)]
        if not atomic:
            return
        found = enqueue(self.ctx, node)
        if found is None or found.custom_send:
            return  # the task's class may defer sending (`transaction.on_commit`)
        replacement = None
        if spelling is not None and self._fixable(node):
            replacement = cst.parse_expression(f"{spelling}(lambda: None)")
            assert isinstance(replacement, cst.Call)
            lambda_ = replacement.args[0].value
            assert isinstance(lambda_, cst.Lambda)
            replacement = replacement.with_changes(
                args=[replacement.args[0].with_changes(value=lambda_.with_changes(body=node))]
            )
        self.report(node, call=found.shown, replacement=replacement)

    def _on_commit(self, atomic: cst.BaseExpression) -> str | None:
        """How to spell `transaction.on_commit` where `atomic` was written."""
        if isinstance(atomic, cst.Attribute):
            if self.ctx.qualified_name(atomic.value) == TRANSACTION_MODULE:
                return f"{self.ctx.tree.code_for_node(atomic.value)}.on_commit"
            return None
        facts = self.ctx.scope_facts(self.ctx.module_scope)
        imported = {
            b[0].qualified: name
            for name, b in facts.bindings.items()
            if len(b) == 1 and isinstance(b[0], Imported)
        }
        if ON_COMMIT in imported:
            return imported[ON_COMMIT]
        if TRANSACTION_MODULE in imported:
            return f"{imported[TRANSACTION_MODULE]}.on_commit"
        return None

    def _fixable(self, node: cst.Call) -> bool:
        """A call used as a statement, not in a loop of its function."""
        if not isinstance(self.ctx.parent(node), cst.Expr):
            return False
        for ancestor in self.ctx.ancestors(node):
            if ancestor is self.ctx.scope.node:
                return True
            if isinstance(ancestor, _LOOPS):
                return False
        return True
