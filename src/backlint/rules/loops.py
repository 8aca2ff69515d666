"""Rules about what a loop does once per row (BKL301, BKL501): the enclosing
`for` loops and comprehension clauses of the node being visited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import FileContext

LoopT = TypeVar("LoopT")

Comprehension = cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp


class LoopRule(Rule, Generic[LoopT]):
    """Tracks loops, innermost last in `loops`: for each sync `for` and
    comprehension clause, `loop()` says what it iterates (None: nothing the
    rule cares about), and `scan()` is called once with the code that runs per
    item (a comprehension clause's: the element, its `if`s and the inner
    clauses' iterables and `if`s)."""

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        self.loops: list[LoopT | None] = []
        self._comprehension_sizes: list[int] = []

    def loop(self, target: cst.BaseExpression, iterable: cst.BaseExpression) -> LoopT | None:
        raise NotImplementedError

    def scan(self, loop: LoopT, roots: Sequence[cst.CSTNode]) -> None:
        raise NotImplementedError

    def visit_For(self, node: cst.For) -> None:
        loop = self.loop(node.target, node.iter) if node.asynchronous is None else None
        if loop is not None:
            self.scan(loop, [node.body])
        self.loops.append(loop)

    def leave_For(self, node: cst.For) -> None:
        self.loops.pop()

    def _visit_comprehension(self, node: Comprehension) -> None:
        body: list[cst.CSTNode] = (
            [node.key, node.value] if isinstance(node, cst.DictComp) else [node.elt]
        )
        count = 0
        comp: cst.CompFor | None = node.for_in
        while comp is not None:
            loop = self.loop(comp.target, comp.iter) if comp.asynchronous is None else None
            if loop is not None:
                inner: list[cst.CSTNode] = [*body, *comp.ifs]
                nxt = comp.inner_for_in
                while nxt is not None:
                    inner += [nxt.iter, *nxt.ifs]
                    nxt = nxt.inner_for_in
                self.scan(loop, inner)
            self.loops.append(loop)
            count += 1
            comp = comp.inner_for_in
        self._comprehension_sizes.append(count)

    def _leave_comprehension(self, node: cst.CSTNode) -> None:
        del self.loops[len(self.loops) - self._comprehension_sizes.pop() :]

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_comprehension
    leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comprehension
