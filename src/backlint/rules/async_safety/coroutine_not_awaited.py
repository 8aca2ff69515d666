"""BKL105 coroutine-not-awaited."""

from __future__ import annotations

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.coroutines import coroutine_call
from backlint.types import FixKind


class CoroutineNotAwaited(Rule):
    """A coroutine function called as a bare statement: the coroutine never runs.

    What it flags:
    A call used as a statement on its own (not awaited, returned, assigned,
    passed on or scheduled) to a function backlint knows to be a coroutine
    function: `asyncio.sleep`, `asyncio.wait_for` and friends; `AsyncSession`
    methods (`commit`, `execute`, `refresh`...); Django's `a*` ORM methods
    (`aget`, `acreate`, `asave`, related managers' `aadd`...); `httpx.AsyncClient`
    and `redis.asyncio` client methods; and every `async def` of the project,
    resolved through imports (also `self.method()` for an `async def method`
    of the class or of a project base class).

    Why:
    Calling a coroutine function only creates the coroutine object; nothing of
    its body runs. The commit never happens, the email is never sent, and the
    only trace is a "coroutine ... was never awaited" RuntimeWarning in a log
    nobody reads.

    Example:
    ```python
    import asyncio

    async def notify(user_id: int) -> None:
        await asyncio.sleep(0)

    async def signup(user_id: int) -> None:
        notify(user_id)
    ```

    Use instead:
    ```python
    import asyncio

    async def notify(user_id: int) -> None:
        await asyncio.sleep(0)

    async def signup(user_id: int) -> None:
        await notify(user_id)
    ```

    Not flagged:
    Calls that are awaited, returned, assigned, or passed to
    `asyncio.create_task`, `gather`, `ensure_future`, a `TaskGroup` or
    anything else; async generator functions (calling them starts nothing
    either, but there is nothing to await); an `async def` wrapped by a
    decorator other than `staticmethod`/`classmethod`/`abstractmethod`/
    `functools.wraps` (the decorator may return a sync function); a sync
    function of the same name in another module; methods of objects whose
    class backlint does not know (missed alarm rather than guess). A module
    whose text contains neither `async ` nor `await ` is not checked (parsing
    every module for this would double backlint's run time): a purely sync
    module calling a project coroutine is a missed alarm.

    Fix:
    Inside an `async def`, inserts `await` before the call (safe: the call was
    a statement, and awaiting the coroutine is what the code meant). In a sync
    function `await` is a syntax error: no fix there; call it with
    `asyncio.run()` or make the function async.
    """

    code = "BKL105"
    name = "coroutine-not-awaited"
    message = "`{call}(...)` creates a coroutine that is never awaited, so it never runs: {cure}"
    fix_kind = FixKind.SAFE
    # Coroutine code says `async def` or `await` somewhere; a file that says neither
    # is not parsed for this rule (see Not flagged).
    markers = ("async ", "await ")

    def visit_Expr(self, node: cst.Expr) -> None:
        call = node.value
        if not isinstance(call, cst.Call):
            return
        found = coroutine_call(self.ctx, call)
        if found is None:
            return
        shown = self.ctx.tree.code_for_node(call.func)
        if len(shown) > 50 or "\n" in shown:
            shown = found.callee
        if self.ctx.in_async_function:
            self.report(
                node,
                call=shown,
                cure="add `await`",
                replacement=node.with_changes(value=cst.Await(expression=call)),
            )
        else:
            self.report(
                node, call=shown, cure="await it in an async function, or run it with asyncio.run()"
            )
