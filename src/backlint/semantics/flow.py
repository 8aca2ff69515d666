"""Following values through local variables, within one function.

Flow-insensitive, on top of `FileContext.bindings()`: a name stands for every
value it is bound to anywhere in its scope (`sql = ...` on one line, `sql +=
...` on another). Rules ask "could this expression carry X" (SQL text built
from strings, an exception's text) and get an answer that looks through
locals, with a depth limit and a guard against `x = x + ...` cycles.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import libcst as cst

from backlint.semantics.context import (
    Assigned,
    FileContext,
    OtherBinding,
    Scope,
    ScopeKind,
)
from backlint.semantics.facts import Const
from backlint.semantics.names import assigned_names
from backlint.semantics.tree import descendants

# How many names deep a value is followed (`a = b`, `b = c`, ...).
MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class LocalValues:
    """What a name is bound to in its scope.

    `values`: right-hand sides of `name = v` and of `name += v`; `complete`:
    every binding is one of those (no parameter, loop target, unpacking...).
    """

    scope: Scope
    values: tuple[cst.BaseExpression, ...]
    complete: bool


def local_values(ctx: FileContext, name: str, scope: Scope | None = None) -> LocalValues | None:
    """The values `name` is bound to, when a function (or lambda) binds it."""
    owner, bindings = ctx.bindings(name, scope or ctx.scope)
    if owner is None or owner.kind not in (ScopeKind.FUNCTION, ScopeKind.LAMBDA):
        return None
    values: list[cst.BaseExpression] = []
    complete = True
    for binding in bindings:
        if isinstance(binding, Assigned) and binding.value is not None:
            values.append(binding.value)
        elif isinstance(binding, OtherBinding) and isinstance(binding.node, cst.AugAssign):
            values.append(binding.node.value)
        else:
            complete = False
    return LocalValues(owner, tuple(values), complete)


def module_constant(
    ctx: FileContext, expr: cst.BaseExpression, scope: Scope | None = None
) -> Const | None:
    """The literal a module-level constant (here or imported) is bound to:
    `TABLE = "orders"`, `from .constants import TABLE`."""
    if not isinstance(expr, cst.Name | cst.Attribute):
        return None
    scope = scope or ctx.scope
    if isinstance(expr, cst.Name):
        owner, bindings = ctx.bindings(expr.value, scope)
        if owner is not None and owner.kind is ScopeKind.MODULE:
            literal = [b for b in bindings if isinstance(b, Assigned) and b.value is not None]
            if literal and len(literal) == len(bindings):
                consts = [literal_value(b.value) for b in literal if b.value is not None]
                if all(c is not None for c in consts) and len(set(consts)) == 1:
                    return consts[0]
                return None
    name = ctx.qualified_name(expr, scope)
    if name is None:
        return None
    found = ctx.index.lookup(name)
    return found if isinstance(found, Const) else None


def literal_value(expr: cst.BaseExpression) -> Const | None:
    """A literal string, number, bool or None (implicit concatenation too)."""
    if isinstance(expr, cst.SimpleString | cst.ConcatenatedString):
        value = expr.evaluated_value
        return Const(value) if isinstance(value, str | bytes) else None
    if isinstance(expr, cst.FormattedString) and all(
        isinstance(part, cst.FormattedStringText) for part in expr.parts
    ):
        return Const("".join(p.value for p in expr.parts if isinstance(p, cst.FormattedStringText)))
    if isinstance(expr, cst.Integer):
        return Const(int(expr.value.replace("_", ""), 0))
    if isinstance(expr, cst.Name) and expr.value in ("True", "False", "None"):
        return Const({"True": True, "False": False, "None": None}[expr.value])
    return None


def caught_types(kind: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The classes an `except` clause names: `(A, B)` -> [A, B], `A` -> [A]."""
    return [el.value for el in kind.elements] if isinstance(kind, cst.Tuple) else [kind]


def except_handler(
    ctx: FileContext, name: str, scope: Scope | None = None, node: cst.CSTNode | None = None
) -> cst.ExceptHandler | None:
    """The `except ... as name` handler that binds `name` in a function: its
    only binding there, or, when several handlers bind it, the one around
    `node` (a node the walker visited)."""
    owner, bindings = ctx.bindings(name, scope or ctx.scope)
    if owner is None or owner.kind is not ScopeKind.FUNCTION or not bindings:
        return None
    handlers = [
        b.node
        for b in bindings
        if isinstance(b, OtherBinding) and isinstance(b.node, cst.ExceptHandler)
    ]
    if len(handlers) != len(bindings):
        return None
    if len(handlers) == 1:
        return handlers[0]
    if node is not None:
        for ancestor in ctx.ancestors(node):
            if any(ancestor is h for h in handlers):
                return ancestor  # type: ignore[return-value]
    return None


_NESTED = (cst.Lambda, cst.FunctionDef, cst.ClassDef)


def names_in(expr: cst.CSTNode) -> Iterator[cst.Name]:
    """Names read in an expression (not inside a nested lambda)."""
    if isinstance(expr, cst.Name):
        yield expr
        return
    for node in descendants(expr, prune=_NESTED):
        if isinstance(node, cst.Name):
            yield node


def reaching_assignment(
    ctx: FileContext, name: str, statement: cst.CSTNode
) -> cst.BaseExpression | None:
    """The value of `name = value` earlier in the block that holds
    `statement` (a small statement the walker visited), when that is the last
    thing to bind `name` before it: the value `name` has at `statement`,
    whatever other branches assign (`msg = f"{e}"` in one `except`, `msg =
    "failed"` in the next)."""
    line = ctx.parent(statement)
    block = ctx.parent(line) if line is not None else None
    if not isinstance(line, cst.SimpleStatementLine) or not isinstance(block, cst.IndentedBlock):
        return None
    position = next((i for i, s in enumerate(block.body) if s is line), None)
    if position is None:
        return None
    for small in reversed(line.body[: _index(line.body, statement)]):
        found = _binds(small, name)
        if found is not None:
            return found or None
    for earlier in reversed(block.body[:position]):
        if not isinstance(earlier, cst.SimpleStatementLine):
            if name in _compound_names(earlier):
                return None
            continue
        for small in reversed(earlier.body):
            found = _binds(small, name)
            if found is not None:
                return found or None
    return None


def _index(items: Sequence[cst.CSTNode], node: cst.CSTNode) -> int:
    return next((i for i, item in enumerate(items) if item is node), len(items))


def _binds(small: cst.BaseSmallStatement, name: str) -> cst.BaseExpression | Literal[False] | None:
    """The value `small` assigns to `name`; False when it binds it otherwise;
    None when it does not bind it."""
    if isinstance(small, cst.Assign):
        for target in small.targets:
            if isinstance(target.target, cst.Name) and target.target.value == name:
                return small.value
            if name in assigned_names(target.target):
                return False
    elif (
        isinstance(small, cst.AnnAssign | cst.AugAssign)
        and isinstance(small.target, cst.Name)
        and small.target.value == name
    ):
        return False
    return None


def _compound_names(stmt: cst.CSTNode) -> set[str]:
    """Names a compound statement may bind anywhere inside (conservatively)."""
    return {node.value for node in descendants(stmt, prune=_NESTED) if isinstance(node, cst.Name)}
