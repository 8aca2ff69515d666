"""BKL901 celery-result-get-in-task."""

from __future__ import annotations

from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.celery import is_async_result, is_task
from backlint.semantics.context import ScopeKind
from backlint.types import SourceFile

# Methods of a result that wait for the task.
WAITING_METHODS = frozenset({"get", "wait", "join"})


class CeleryResultGetInTask(Rule):
    """`.get()` on a task's result inside a Celery task.

    What it flags:
    Inside a Celery task (a function decorated with `@shared_task`,
    `@app.task` or `@celery.task`, the app possibly imported from another
    module), `.get()` (or `.wait()`, `.join()`) on an `AsyncResult`: the
    result of `.delay()`, `.apply_async()`, `send_task()` or `AsyncResult(...)`,
    directly or through a local variable.

    Why:
    The task blocks a worker process while it waits for another task that
    needs a free worker too: with a busy pool every worker ends up waiting and
    the queue deadlocks. Celery raises `RuntimeError` for it unless told
    otherwise.

    Example:
    ```python
    from celery import shared_task

    @shared_task
    def resize(image_id: int) -> str:
        return f"{image_id}.png"

    @shared_task
    def publish(image_id: int) -> None:
        path = resize.delay(image_id).get()
        print(path)
    ```

    Use instead:
    ```python
    from celery import chain, shared_task

    @shared_task
    def resize(image_id: int) -> str:
        return f"{image_id}.png"

    @shared_task
    def announce(path: str) -> None:
        print(path)

    @shared_task
    def publish(image_id: int) -> None:
        chain(resize.s(image_id), announce.s()).delay()
    ```

    Not flagged:
    `.get()` outside tasks (a view or a script may wait); `.get()` on dicts,
    managers and other objects that are not results; code in a function
    nested in the task; `.get(disable_sync_subtasks=False)`, an explicit
    choice. Task classes (`class T(Task): def run(...)`) are not recognised
    (missed alarm).

    Fix:
    None: chain the follow-up work (`chain`, `chord`, a callback `link=`)
    instead of waiting.
    """

    code = "BKL901"
    name = "celery-result-get-in-task"
    message = (
        "`.{method}()` on a task result inside a Celery task can deadlock the worker pool: {cure}"
    )
    frameworks = frozenset({"celery"})
    markers = (".get(", ".wait(", ".join(")

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        return any(m in source for m in ("delay", "apply_async", "AsyncResult", "send_task")) and (
            super().applies(file, source, packages, options)
        )

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in WAITING_METHODS:
            return
        function = self.ctx.scope
        if function.kind is not ScopeKind.FUNCTION:
            return
        if not isinstance(function.node, cst.FunctionDef):
            return
        if not is_task(self.ctx, function.node, function.parent):
            return
        for arg in node.args:
            if (
                arg.keyword is not None
                and arg.keyword.value == "disable_sync_subtasks"
                and isinstance(arg.value, cst.Name)
                and arg.value.value == "False"
            ):
                return
        if is_async_result(self.ctx, func.value, self.ctx.scope):
            self.report(
                node,
                method=func.attr.value,
                cure="chain the follow-up work (`chain`, `chord`, `link=`) instead of waiting",
            )
