"""One traversal of a file's CST that serves every selected rule.

LibCST's own visitor walks every node, whitespace and commas included, through
several layers of calls: about 8 s on Django's source, more than parsing it.
This walker dispatches the same `visit_<Node>`/`leave_<Node>` methods from one
shared pass, in LibCST's order, but

* never descends into whitespace, comments and punctuation,
* reads children through per-class functions generated once from LibCST's
  typed node fields (no reflection per node),
* descends below statements only when a rule wants expression nodes, and only
  inside `async def` bodies when every such rule is limited to async code.

It also keeps the file context current: the scope stack (entered at a def's
body, so decorators and defaults belong to the enclosing scope, as in Python)
and a parent link for every visited node.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import libcst as cst

from backlint.semantics.context import FileContext, Scope, scope_of_node
from backlint.semantics.tree import (
    FULL,
    FULL_HEADER,
    STATEMENT_HEADER,
    STATEMENT_LEVEL,
    STATEMENTS,
    warm_up,
)

__all__ = ["Dispatch", "Walker", "warm_up"]

_SCOPE_NODES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)

# ---------------------------------------------------------------------------
# Dispatch.


class Visitor(Protocol):
    """What the walker needs of a rule: its handlers, and whether it only looks
    at code in async functions."""

    only_in_async: typing.ClassVar[bool]

    def handlers(self) -> Sequence[tuple[type[cst.CSTNode], bool, Callable[[Any], None]]]: ...


Handlers = dict[type, list[Callable[[Any], None]]]


class Dispatch:
    """Handlers of the rules that run on one file, indexed by node class."""

    def __init__(self, visitors: Sequence[Visitor]) -> None:
        self.visit: Handlers = {}
        self.leave: Handlers = {}
        self.async_visit: Handlers = {}
        self.async_leave: Handlers = {}
        self.expressions_everywhere = False
        self.expressions_in_async = False
        for visitor in visitors:
            for node_type, is_leave, handler in visitor.handlers():
                if visitor.only_in_async:
                    table = self.async_leave if is_leave else self.async_visit
                else:
                    table = self.leave if is_leave else self.visit
                table.setdefault(node_type, []).append(handler)
                if not issubclass(node_type, STATEMENT_LEVEL):
                    if visitor.only_in_async:
                        self.expressions_in_async = True
                    else:
                        self.expressions_everywhere = True

    @property
    def empty(self) -> bool:
        return not (self.visit or self.leave or self.async_visit or self.async_leave)


# Stack markers (tuples, told apart from nodes by type).
_LEAVE, _ENTER, _EXIT, _FULL_WALK = range(4)


class Walker:
    def __init__(self, ctx: FileContext, dispatch: Dispatch) -> None:
        self.ctx = ctx
        self.d = dispatch
        # Rules whose handler raised: the node it was visiting and the error.
        self.failures: dict[object, tuple[cst.CSTNode, BaseException]] = {}

    def _fail(self, handler: Callable[[Any], None], node: cst.CSTNode, exc: Exception) -> None:
        """Isolate a rule that raised: stop calling it on this file."""
        owner = getattr(handler, "__self__", handler)
        if owner in self.failures:
            return
        self.failures[owner] = (node, exc)
        for table in (self.d.visit, self.d.leave, self.d.async_visit, self.d.async_leave):
            for node_type, handlers in list(table.items()):
                table[node_type] = [h for h in handlers if getattr(h, "__self__", h) is not owner]

    def walk(self) -> None:
        full = self.d.expressions_everywhere
        self._run(self.ctx.tree, full)

    def _run(self, root: cst.CSTNode, full: bool) -> None:
        ctx = self.ctx
        d = self.d
        visit, leave, avisit, aleave = d.visit, d.leave, d.async_visit, d.async_leave
        getters = FULL if full else STATEMENTS
        headers = FULL_HEADER if full else STATEMENT_HEADER
        switch_in_async = not full and d.expressions_in_async
        par = ctx.parents
        stack: list[Any] = [root]
        push = stack.append
        pop = stack.pop
        while stack:
            node = pop()
            cls = type(node)
            if cls is tuple:
                tag, payload = node
                if tag == _LEAVE:
                    cls = type(payload)
                    for handler in leave.get(cls, ()):
                        try:
                            handler(payload)
                        except Exception as exc:
                            self._fail(handler, payload, exc)
                    if ctx.scope.in_async_function:
                        for handler in aleave.get(cls, ()):
                            try:
                                handler(payload)
                            except Exception as exc:
                                self._fail(handler, payload, exc)
                elif tag == _ENTER:
                    ctx.scope = payload
                elif tag == _EXIT:
                    ctx.scope = payload.parent
                else:  # _FULL_WALK
                    self._run(payload, True)
                continue
            handlers = visit.get(cls)
            if handlers:
                for handler in handlers:
                    try:
                        handler(node)
                    except Exception as exc:
                        self._fail(handler, node, exc)
            if avisit and ctx.scope.in_async_function:
                for handler in avisit.get(cls, ()):
                    try:
                        handler(node)
                    except Exception as exc:
                        self._fail(handler, node, exc)
            if cls in leave or cls in aleave:
                push((_LEAVE, node))
            if cls in _SCOPE_NODES:
                scope: Scope | None = scope_of_node(node, ctx.scope)
                assert scope is not None
                body = node.body
                push((_EXIT, scope))
                par[id(body)] = node
                if switch_in_async and scope.in_async_function:
                    push((_FULL_WALK, body))
                elif full or cls is not cst.Lambda:
                    push(body)
                push((_ENTER, scope))
                headers[cls](node, push, par)
            else:
                getters[cls](node, push, par)
