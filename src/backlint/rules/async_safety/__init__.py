"""BKL1xx: async safety (blocking the event loop)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.async_clients import BlockingCall, Client, Family, clients, user_clients
from backlint.semantics.context import FileContext
from backlint.types import SourceFile


@dataclass(frozen=True, slots=True)
class BlockingCallOptions:
    # Project or third-party blocking callables, each with what to use instead:
    # `{ "mylib.Client" = "use mylib.AsyncClient" }`. A capitalised last part
    # names a client class (calls of its instances' public methods are
    # flagged), anything else a blocking function (its calls are flagged).
    extra_blocking_calls: dict[str, str] = field(default_factory=dict)


class BlockingClientRule(Rule):
    """Shared by BKL103/BKL104: calls on known sync clients in async functions."""

    family: ClassVar[Family]
    packages: ClassVar[frozenset[str]]
    message = "`{call}` is a blocking {what} call in an async function: {instead}"
    markers = ("async ",)
    only_in_async = True
    Options = BlockingCallOptions

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        extra: dict[str, Client] = user_clients(self.options.extra_blocking_calls, self.family)
        self.clients = clients(ctx, extra)

    @classmethod
    def applies(cls, file: SourceFile, source: str, packages: frozenset[str], options: Any) -> bool:
        wanted = cls.packages | {n.split(".", 1)[0] for n in options.extra_blocking_calls}
        if not (wanted & packages):
            return False
        return super().applies(file, source, packages, options)

    def visit_Call(self, node: cst.Call) -> None:
        found = self.clients.blocking_call(node)
        if found is None or found.client.family != self.family:
            return
        parent = self.ctx.parent(node)
        if isinstance(parent, cst.Await):
            return  # awaited: whatever it is, it is not a blocking call
        self.report(
            node,
            call=self._shown(node, found),
            what=found.client.what,
            instead=found.alternative(self.ctx),
        )

    def visit_For(self, node: cst.For) -> None:
        if node.asynchronous is None:
            self._iterated(node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        if node.asynchronous is None:
            self._iterated(node.iter)

    def _iterated(self, expr: cst.BaseExpression) -> None:
        found = self.clients.iterated_blocks(expr)
        if found is not None and found.client.family == self.family:
            self.report(
                expr,
                call=f"for ... in {_short(self.ctx.tree.code_for_node(expr))}",
                what=found.client.what,
                instead=found.client.alternative,
            )

    def _shown(self, node: cst.Call, found: BlockingCall) -> str:
        if found.receiver is None or found.method is None:
            return f"{_short(self.ctx.tree.code_for_node(node.func))}()"
        receiver = self.ctx.tree.code_for_node(found.receiver)
        if len(receiver) > 40 or "\n" in receiver:
            return f".{found.method}()"
        return f"{receiver}.{found.method}()"


def _short(code: str) -> str:
    code = " ".join(code.split())
    return code if len(code) <= 40 else code[:37] + "..."
