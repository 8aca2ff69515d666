"""BKL902 celery-enqueue-in-transaction."""

from __future__ import annotations

from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.celery import Enqueue, enqueue, is_task
from backlint.semantics.context import FileContext, Imported, Scope
from backlint.semantics.django import Model, querysets
from backlint.semantics.facts import Attr, Call, Const, FunctionFacts, Value, dotted
from backlint.semantics.security import name_words
from backlint.semantics.tree import descendants
from backlint.types import FixKind, SourceFile

ATOMIC = frozenset({"django.db.transaction.atomic"})
TRANSACTION_MODULE = "django.db.transaction"
ON_COMMIT = "django.db.transaction.on_commit"
_LOOPS = (cst.For, cst.While, cst.CompFor)
# Keywords of `apply_async` that send the task later.
_DELAYS = frozenset({"countdown", "eta"})
_NOT_RUN = (cst.FunctionDef, cst.ClassDef, cst.Lambda)

# Calls that read or build, not write: first words of method and function
# names (`get_billing`, `is_valid`, `has_perm`, `parse_path`, `show_errors`)...
_READ_VERBS = frozenset(
    """
    get is has can should parse show render redirect reverse check validate find
    lookup format read fetch list count filter select compute calculate resolve
    build to as serialize describe display escape quote encode decode dumps
    loads match search split join strip exists prefetch values iter copy keys
    items lower upper startswith endswith replace append extend setdefault on
    gettext ngettext pgettext info debug warning error exception success
    """.split()  # noqa: SIM905 - a word list
)
# ... and queryset methods that only read (`select_for_update()` locks).
_READ_METHODS = frozenset(
    """
    all exclude first last only defer annotate aggregate order_by distinct using
    latest earliest none in_bulk iterator select_related prefetch_related
    select_for_update values_list union intersection difference reverse
    """.split()  # noqa: SIM905 - a word list
)
# Library modules whose calls write nothing to the project's database.
_NO_DB_PREFIXES = (
    "builtins.",
    "logging.",
    "django.contrib.messages.",
    "django.utils.",
    "django.urls.",
    "django.shortcuts.",
    "django.http.",
    "django.conf.",
)


def writes_before(
    ctx: FileContext,
    call: cst.Call,
    atomic: cst.CSTNode,
    scope: Scope,
    exempt: frozenset[int] = frozenset(),
) -> bool:
    """Whether the transaction may have written something when `call` runs:
    a call that may write (see `_may_write`) in the `atomic` block (or
    function) on the path before it: earlier statements of each enclosing
    block, the tests of enclosing `if`s, the bodies of enclosing loops
    (earlier iterations) and of a `try` whose handler it is in, and its own
    arguments (context managers entered are not judged). Branches that
    exclude it (`elif` siblings) do not count, nor the calls whose ids are in
    `exempt`."""
    before: list[cst.CSTNode] = [*call.args]
    receiver = call.func.value if isinstance(call.func, cst.Attribute) else None
    if isinstance(receiver, cst.Call):
        before.extend(receiver.args)  # `task.s(order.save()).delay()`
    child: cst.CSTNode = call
    for parent in ctx.ancestors(call):
        if parent is atomic:
            break
        if isinstance(
            parent, (cst.IndentedBlock, cst.SimpleStatementLine, cst.SimpleStatementSuite)
        ):
            for statement in parent.body:
                if statement is child:
                    break
                before.extend(_on_the_way(statement))
        elif isinstance(parent, cst.If):
            before.append(parent.test)
        elif isinstance(parent, (cst.For, cst.While)):
            before.append(parent.iter if isinstance(parent, cst.For) else parent.test)
            before.append(parent.body)
        elif isinstance(parent, cst.Try) and child is not parent.body:
            before.append(parent.body)
        child = parent
    for root in before:
        nodes = (root, *descendants(root, prune=_NOT_RUN))
        if any(
            isinstance(n, cst.Call) and id(n) not in exempt and _may_write(ctx, n, scope)
            for n in nodes
        ):
            return True
    return False


_LEAVES = (cst.Return, cst.Raise, cst.Continue, cst.Break)


def _on_the_way(statement: cst.BaseStatement | cst.BaseSmallStatement) -> list[cst.CSTNode]:
    """What of an earlier statement runs on the way to a later one: all of
    it, but of an `if` whose branch ends in `return`/`raise` only the test and
    the other branches (that branch never reaches the enqueue)."""
    if not isinstance(statement, cst.If):
        return [statement]
    parts: list[cst.CSTNode] = [statement.test]
    if not _leaves(statement.body):
        parts.append(statement.body)
    orelse = statement.orelse
    if isinstance(orelse, cst.If):
        parts.extend(_on_the_way(orelse))
    elif isinstance(orelse, cst.Else) and not _leaves(orelse.body):
        parts.append(orelse.body)
    return parts


def _leaves(body: cst.BaseSuite) -> bool:
    """The block's last statement returns, raises or leaves the loop."""
    statements = body.body if isinstance(body, cst.IndentedBlock) else []
    if isinstance(body, cst.SimpleStatementSuite):
        return bool(body.body) and isinstance(body.body[-1], _LEAVES)
    if not statements or not isinstance(statements[-1], cst.SimpleStatementLine):
        return False
    last = statements[-1].body
    return bool(last) and isinstance(last[-1], _LEAVES)


def _may_write(ctx: FileContext, call: cst.Call, scope: Scope) -> bool:
    """A call that may write to the database: a method call (`order.save()`,
    `Order.objects.create()`, `thread.merge()`, `super().form_valid(form)`) or
    a project function, unless its name reads (`_READ_VERBS`,
    `_READ_METHODS`); not a library call outside `django.db` (`requests.post`,
    `messages.success`), another enqueue, nor a plain constructor."""
    func = call.func
    if isinstance(func, cst.Attribute):
        name = func.attr.value
    elif isinstance(func, cst.Name):
        name = func.value
    else:
        return True
    if name in _READ_METHODS or enqueue(ctx, call) is not None:
        return False
    words = name_words(name)
    if words and words[0] in _READ_VERBS:
        return False
    qualified = ctx.qualified_name(func, scope)
    if qualified is not None and qualified.startswith(_NO_DB_PREFIXES):
        return False
    if isinstance(func, cst.Name):
        # A plain name: a project function may write; a class only builds.
        if qualified is None:
            return False
        return ctx.index.find_function(ctx.index.canonical(qualified)) is not None
    if qualified is not None and not qualified.startswith("django.db"):
        root = qualified.split(".", 1)[0]
        if root not in ctx.project_roots() and ctx.index.lookup(qualified) is None:
            return False  # a library function (`requests.post`, `os.unlink`)
    return True


_ROW_KEYS = frozenset({"pk", "id"})


def _row_deletes(loop: cst.For, row: str) -> frozenset[int]:
    """The ids of the `row.delete()` calls of the loop body: a dispatcher
    consuming its queue entries (a row it deletes is one no task can be meant
    to read). Other calls on the row (`row.save()`, `row.mark_paid()`) write
    what a task may read through other rows, and still count."""
    return frozenset(
        id(n)
        for n in descendants(loop.body, prune=_NOT_RUN)
        if isinstance(n, cst.Call)
        and isinstance(n.func, cst.Attribute)
        and isinstance(n.func.value, cst.Name)
        and n.func.value.value == row
        and n.func.attr.value == "delete"
    )


def _hands_over(call: cst.Call, row: str) -> bool:
    """Whether the enqueue hands the task the row itself or its key (`row`,
    `row.pk`, `row.id`), rather than only values copied from it
    (`row.logentry_id`, `row.retry_count`)."""
    roots: list[cst.CSTNode] = [*call.args]
    receiver = call.func.value if isinstance(call.func, cst.Attribute) else None
    if isinstance(receiver, cst.Call):
        roots.extend(receiver.args)  # `task.s(row.pk).delay()`
    copied: set[int] = set()
    for root in roots:
        for n in (root, *descendants(root)):
            if (
                isinstance(n, cst.Attribute)
                and isinstance(n.value, cst.Name)
                and n.value.value == row
                and n.attr.value not in _ROW_KEYS
            ):
                copied.add(id(n.value))
            elif isinstance(n, cst.Name) and n.value == row and id(n) not in copied:
                return True
    return False


def _locks_skipping(expr: cst.BaseExpression) -> bool:
    """`Model.objects.select_for_update(skip_locked=...)` somewhere in `expr`."""
    for n in (expr, *descendants(expr)):
        if (
            isinstance(n, cst.Call)
            and isinstance(n.func, cst.Attribute)
            and n.func.attr.value == "select_for_update"
            and any(a.keyword is not None and a.keyword.value == "skip_locked" for a in n.args)
        ):
            return True
    return False


# Keywords of `select_for_update()` that stop it from waiting for a lock.
_NO_WAIT = frozenset({"skip_locked", "nowait"})
# Saves and queryset updates: writes to rows that exist (and so lock them).
_SAVES = frozenset({"save", "asave"})
_UPDATES = frozenset({"update", "aupdate"})


def _atomic_value(value: Value) -> bool:
    """`transaction.atomic`, called or not, as the index summarises it."""
    if isinstance(value, Call):
        value = value.func
    return dotted(value) in ATOMIC


def _waits_in_transaction(fn: FunctionFacts) -> Value | None:
    """The chain of the row lock a task takes first (`FunctionFacts.first_lock`),
    when it is taken in a transaction the task opens itself (`@transaction.atomic`,
    or `with transaction.atomic():` around it and nothing else entered) and
    waits for locked rows (no `skip_locked=`, `nowait=`)."""
    if fn.first_lock is None:
        return None
    chain, entered = fn.first_lock
    if entered:
        if not all(_atomic_value(v) for v in entered):
            return None
    elif not any(_atomic_value(d) for d in fn.decorators):
        return None
    current: Value = chain
    while isinstance(current, Call | Attr):
        if isinstance(current, Call):
            if (
                isinstance(current.func, Attr)
                and current.func.attr == "select_for_update"
                and any(k in _NO_WAIT and v != Const(False) for k, v in current.kwargs)
            ):
                return None
            current = current.func
        else:
            current = current.value
    return chain


class CeleryEnqueueInTransaction(Rule):
    """A Celery task enqueued inside a database transaction.

    What it flags:
    `.delay()`, `.apply_async()` (on a task, a signature or a canvas) or
    `app.send_task()` inside `with transaction.atomic():` or in a function
    decorated with `@transaction.atomic`, in the same function body, when
    the transaction may already have written something: a call that may
    write (a method call such as `order.save()`, `Order.objects.create()`,
    `thread.merge()`, `super().form_valid(form)`, or a function of the
    project) runs in the block on the path before the enqueue (earlier
    statements, the tests of enclosing `if`s, earlier iterations of an
    enclosing loop, the enqueue's own arguments). Calls whose names read
    (`get_*`, `is_*`, `has_*`, `parse_*`, `filter()`, `select_for_update()`...),
    library calls outside `django.db` and constructors are not writes. In a
    loop over `select_for_update(skip_locked=...)` rows (a dispatcher that
    enqueues, then advances or deletes each row) the message says what is at
    stake there: a rollback sends the task again.

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
    An enqueue before anything is written in the block (a view that checks
    permissions and a form, then schedules the removal of an existing row:
    the task reads only committed data); a queue dispatcher: an enqueue in a
    loop over `select_for_update(skip_locked=...)` rows that hands the task
    only values copied from the row (`row.logentry_id`, `row.attempt`; not
    `row`, `row.pk` or `row.id`), when the only writes before it are
    `row.delete()` calls of the loop (earlier entries consumed): what the
    transaction writes is its queue entries, which the task is not given and
    which are gone once it commits, so a worker reads the same data before
    the commit as after it; a rollback dispatches the entry again, the
    at-least-once delivery such a queue is for (`on_commit` would lose the
    entry's task when the process dies between commit and send). A
    dispatcher that advances its row instead (`row.save()`) or writes other
    rows is still flagged, with the softer message; a task that enqueues itself again
    with `countdown=` or `eta=` (a retry of its own work, due after the
    transaction is over, and wanted whatever it becomes);
    calls wrapped in `transaction.on_commit(...)` (`on_commit(task.delay)`,
    `on_commit(lambda: ...)`), Celery's `delay_on_commit` /
    `apply_async_on_commit`, calls after the `atomic` block closed, calls in
    a nested function or lambda; tasks whose `base=` class of the project
    overrides `apply_async()` or `delay()` (a transaction-aware task class
    that sends on commit itself: how it sends is the project's own).
    Transactions opened by a caller, by `ATOMIC_REQUESTS` or by middleware
    are not seen (missed alarm), nor tasks whose definition is not in the
    project. Writes after the enqueue are not weighed (a rollback then
    undoes them but not the task's run), and a function of the project
    named neutrally is taken to write (its body is not read). A task that
    waits for the commit: one of the project whose first query takes row
    locks (`for s in Status.objects.filter(...).select_for_update():`, or
    `select_for_update().get(...)`, with no call in its arguments and no
    `skip_locked=`/`nowait=`) in a transaction it opens itself
    (`@transaction.atomic`, or `with transaction.atomic():` around that first
    statement), when all the enqueuing transaction has written before is
    updates of that model's rows: `save()` of a row read from the database
    (`get()`, `first()`..., `get_object_or_404()`, a manager method annotated
    to return the model) or a queryset `update()`. Those rows stay locked to
    the commit, so the task's first query waits for it and everything the
    task reads after is committed (weblate's support-status refresh). A task
    that reads without a lock, or locks with `skip_locked=`, a transaction
    that creates a row of the model (`create()`, `Model(...).save()`: a new
    row the task's lock cannot wait for) or writes another model are still
    flagged. backlint does not compare which rows the two lock (a task
    locking other rows of the model does not wait), nor see a manager method
    that returns an unsaved instance on some path.

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
        # is spelled there, the `with` node).
        self.blocks: list[tuple[Scope, bool, str | None, cst.With]] = []
        # Functions decorated with @transaction.atomic: id(scope node) -> on_commit spelling.
        self.atomic_functions: dict[int, str | None] = {}

    def visit_With(self, node: cst.With) -> None:
        for item in node.items:
            expr = item.item.func if isinstance(item.item, cst.Call) else item.item
            if self.ctx.qualified_name(expr) in ATOMIC:
                self.blocks.append((self.ctx.scope, True, self._on_commit(expr), node))
                return
        self.blocks.append((self.ctx.scope, False, None, node))

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
        atomic: cst.CSTNode | None = None
        spelling: str | None = None
        for block_scope, is_atomic, block_spelling, block in reversed(self.blocks):
            if block_scope is scope and is_atomic:
                atomic, spelling = block, block_spelling
                break
        if atomic is None and id(scope.node) in self.atomic_functions:
            atomic, spelling = scope.node, self.atomic_functions[id(scope.node)]
        if atomic is None:
            return
        found = enqueue(self.ctx, node)
        if found is None or found.custom_send:
            return  # the task's class may defer sending (`transaction.on_commit`)
        loop = self._dispatcher_loop(node, atomic)
        row = loop.target.value if loop is not None and isinstance(loop.target, cst.Name) else None
        if (
            row is not None
            and loop is not None
            and not _hands_over(node, row)
            and not writes_before(self.ctx, node, atomic, scope, _row_deletes(loop, row))
        ):
            # A queue dispatcher: it has written only the deletes of entries it
            # consumed, which the task is not handed; rolled back, the entry is
            # dispatched again (at-least-once, what such a queue is for).
            return
        if not writes_before(self.ctx, node, atomic, scope):
            return  # the transaction holds no new data yet: nothing to wait for
        if self._task_waits(node, found, atomic, scope):
            return  # the task locks the rows written first: it runs after the commit
        if self._retries_itself(node, found, scope):
            return
        replacement = None
        if spelling is not None and self._fixable(node):
            replacement = cst.parse_expression(f"{spelling}(lambda: None)")
            assert isinstance(replacement, cst.Call)
            lambda_ = replacement.args[0].value
            assert isinstance(lambda_, cst.Lambda)
            replacement = replacement.with_changes(
                args=[replacement.args[0].with_changes(value=lambda_.with_changes(body=node))]
            )
        if loop is not None:
            self.report(
                node,
                f"`{found.shown}()` inside `transaction.atomic`, for rows locked with "
                "`select_for_update(skip_locked=...)`: a rollback after the enqueue sends the "
                "task again; if the task reads what this transaction writes, enqueue it in "
                "`transaction.on_commit(lambda: ...)`",
                replacement=replacement,
            )
            return
        self.report(node, call=found.shown, replacement=replacement)

    def _task_waits(
        self, node: cst.Call, found: Enqueue, atomic: cst.CSTNode, scope: Scope
    ) -> bool:
        """The task's first query locks rows of a model (`for s in
        SupportStatus.objects.filter(...).select_for_update():`, in its own
        `@transaction.atomic`), and all this transaction has written before
        the enqueue is updates of rows of that model (`support.save()` of a
        row read from the database, `filter(...).update(...)`), which hold
        those rows' locks until the commit: the task waits for the commit
        before it reads anything, then reads the committed data."""
        if found.task is None:
            return False
        fn = self.ctx.index.find_function(found.task)
        chain = _waits_in_transaction(fn) if fn is not None else None
        model = self._locked_model(chain) if chain is not None else None
        if model is None:
            return False
        qsets = querysets(self.ctx)
        updates: set[int] = set()
        for n in descendants(atomic, prune=_NOT_RUN):
            if not isinstance(n, cst.Call) or not isinstance(n.func, cst.Attribute):
                continue
            method = n.func.attr.value
            if method in _SAVES:
                if any(a.keyword is not None and a.keyword.value == "force_insert" for a in n.args):
                    continue
                if qsets.stored_row(n.func.value, scope) is model:
                    updates.add(id(n))
            elif method in _UPDATES:
                qs = qsets.queryset(n.func.value, scope)
                if qs is not None and qs.model is model:
                    updates.add(id(n))
        return bool(updates) and not writes_before(
            self.ctx, node, atomic, scope, frozenset(updates)
        )

    def _locked_model(self, chain: Value) -> Model | None:
        """The model whose manager starts a summarised queryset chain."""
        models = querysets(self.ctx).models
        current: Value = chain
        while isinstance(current, Call | Attr):
            if isinstance(current, Attr):
                model = models.get(dotted(current.value))
                if model is not None and current.attr in (
                    *model.managers,
                    "_default_manager",
                    "_base_manager",
                ):
                    return model
                current = current.value
            else:
                current = current.func
        return None

    def _retries_itself(self, node: cst.Call, found: Enqueue, scope: Scope) -> bool:
        """A task enqueuing itself again later (`send_webhook.apply_async(...,
        countdown=30)` inside `send_webhook`): a retry of its own work, which
        must happen whatever this transaction becomes, and which runs after the
        delay, when the transaction is long over."""
        function = scope.node
        if not isinstance(function, cst.FunctionDef) or found.task is None:
            return False
        if not any(a.keyword is not None and a.keyword.value in _DELAYS for a in node.args):
            return False
        parent = scope.parent
        if parent is None or not is_task(self.ctx, function, parent):
            return False
        own = self.ctx.qualified_name(function.name, parent)
        return own is not None and self.ctx.index.canonical(own) == found.task

    def _dispatcher_loop(self, node: cst.Call, atomic: cst.CSTNode) -> cst.For | None:
        """The innermost loop over `select_for_update(skip_locked=...)` rows
        around `node` (a periodic dispatcher that enqueues, then advances or
        deletes each row): enqueuing before the commit is at-least-once
        delivery, `on_commit` at-most-once."""
        for ancestor in self.ctx.ancestors(node):
            if ancestor is atomic:
                return None
            if isinstance(ancestor, cst.For) and _locks_skipping(ancestor.iter):
                return ancestor
        return None

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
