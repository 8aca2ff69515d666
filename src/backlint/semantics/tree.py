"""Fast traversal of LibCST trees, shared by the engine's walker and semantics.

LibCST's own traversal visits every node, whitespace and commas included,
through several layers of calls. Here each node class gets a child getter
generated once from LibCST's typed node fields: it pushes only the children
worth visiting (no whitespace, comments or punctuation), in LibCST's order,
and records each child's parent. A second set stops at statements, for rules
that never look inside expressions.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import typing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import libcst as cst

# Nodes that carry only layout or punctuation.
_SKIP: tuple[type[cst.CSTNode], ...] = (
    cst.BaseParenthesizableWhitespace,
    cst.TrailingWhitespace,
    cst.EmptyLine,
    cst.Comment,
    cst.Newline,
    cst.Comma,
    cst.Dot,
    cst.Colon,
    cst.AssignEqual,
    cst.Semicolon,
    cst.LeftParen,
    cst.RightParen,
    cst.LeftSquareBracket,
    cst.RightSquareBracket,
    cst.LeftCurlyBrace,
    cst.RightCurlyBrace,
    cst.BaseBinaryOp,
    cst.BaseBooleanOp,
    cst.BaseCompOp,
    cst.BaseUnaryOp,
    cst.BaseAugOp,
    cst.Asynchronous,
)

# Nodes at or above the statement level.
STATEMENT_LEVEL: tuple[type[cst.CSTNode], ...] = (
    cst.Module,
    cst.BaseSuite,
    cst.BaseStatement,
    cst.BaseSmallStatement,
    cst.Else,
    cst.ExceptHandler,
    cst.ExceptStarHandler,
    cst.Finally,
    cst.MatchCase,
)

Getter = Callable[[Any, Callable[[Any], None], dict[int, Any]], None]


def is_kind(cls: type, kinds: tuple[type, ...]) -> bool:
    """`issubclass(cls, kinds)` by the MRO: LibCST's bases are ABCs, whose
    subclass check costs a third of a second over every node class at start-up."""
    return any(base in kinds for base in cls.__mro__)


def _leaf_types(tp: Any) -> tuple[list[Any], bool]:
    """The alternatives of a field's type, and whether it is a sequence."""
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        leaves: list[Any] = []
        seq = False
        for arg in typing.get_args(tp):
            sub, sub_seq = _leaf_types(arg)
            leaves += sub
            seq = seq or sub_seq
        return leaves, seq
    if origin in (list, tuple, collections.abc.Sequence):
        leaves = []
        for arg in typing.get_args(tp):
            if arg is not Ellipsis:
                leaves += _leaf_types(arg)[0]
        return leaves, True
    return [tp], False


def _source_order(cls: type[cst.CSTNode]) -> list[str]:
    """Field names in the order LibCST visits them (read off its own visitor)."""
    names = [f.name for f in dataclasses.fields(cls)]
    code = getattr(getattr(cls, "_visit_and_replace_children", None), "__code__", None)
    seen = [n for n in code.co_names if n in names] if code is not None else []
    ordered = list(dict.fromkeys(seen))
    return ordered + [n for n in names if n not in ordered]


def _make_getter(cls: type[cst.CSTNode], statements_only: bool, exclude: Sequence[str]) -> Getter:
    """Generate `get(node, push, parents)`, pushing the children worth visiting
    (in reverse, so that the stack pops them in source order)."""
    hints = typing.get_type_hints(cls)
    # LibCST's base classes are ABCs, whose isinstance() is slow: test the
    # concrete class against a set instead.
    wanted = "type(c) in KEEP"
    lines: list[str] = []
    for name in reversed(_source_order(cls)):
        if name in exclude or name not in hints:
            continue
        leaves, seq = _leaf_types(hints[name])
        nodes = [t for t in leaves if isinstance(t, type) and is_kind(t, (cst.CSTNode,))]
        keep = [
            t
            for t in nodes
            if not is_kind(t, _SKIP) and (not statements_only or is_kind(t, STATEMENT_LEVEL))
        ]
        if not keep:
            continue
        # Test each child unless the type guarantees a wanted node.
        guard = f"if {wanted}: " if len(keep) < len(leaves) else ""
        if seq:
            lines.append(
                f"    v = n.{name}\n"
                f"    if isinstance(v, CSTNode):\n"
                f"        c = v\n"
                f"        {guard}push(c); par[id(c)] = n\n"
                f"    elif v:\n"
                f"        for c in reversed(v):\n"
                f"            {guard}push(c); par[id(c)] = n"
            )
        else:
            lines.append(f"    c = n.{name}\n    {guard}push(c); par[id(c)] = n")
    source = "def get(n, push, par):\n" + ("\n".join(lines) if lines else "    pass") + "\n"
    namespace: dict[str, Any] = {
        "CSTNode": cst.CSTNode,
        "KEEP": _STATEMENT_TYPES if statements_only else _VISITED_TYPES,
    }
    exec(compile(source, f"<backlint getter {cls.__name__}>", "exec"), namespace)
    getter: Getter = namespace["get"]
    return getter


def _all_node_types() -> list[type[cst.CSTNode]]:
    """Every node class, exported or not (walking the subclass tree)."""
    found: dict[type[cst.CSTNode], None] = {}
    pending: list[type[cst.CSTNode]] = [cst.CSTNode]  # type: ignore[type-abstract]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                found[sub] = None
                pending.append(sub)
    return list(found)


# Concrete node classes worth visiting, in each mode.
_VISITED_TYPES = frozenset(t for t in _all_node_types() if not is_kind(t, _SKIP))
_STATEMENT_TYPES = frozenset(t for t in _VISITED_TYPES if is_kind(t, STATEMENT_LEVEL))


class _Getters(dict[type, Getter]):
    """Child getters per node class, generated on first use."""

    def __init__(self, statements_only: bool, exclude: Sequence[str] = ()) -> None:
        super().__init__()
        self.statements_only = statements_only
        self.exclude = exclude

    def __missing__(self, cls: type[cst.CSTNode]) -> Getter:
        getter = _make_getter(cls, self.statements_only, self.exclude)
        self[cls] = getter
        return getter


FULL = _Getters(False)
STATEMENTS = _Getters(True)
# For scope nodes: everything but the body, which the walker enters itself.
FULL_HEADER = _Getters(False, ("body",))
STATEMENT_HEADER = _Getters(True, ("body",))


def warm_up() -> None:
    """Generate every getter now (before forking workers, so they inherit them)."""
    for cls in _all_node_types():
        if not getattr(cls, "__abstractmethods__", None):
            for table in (FULL, STATEMENTS, FULL_HEADER, STATEMENT_HEADER):
                table[cls]


def descendants(
    root: cst.CSTNode,
    prune: tuple[type[cst.CSTNode], ...] = (),
    parents: dict[int, Any] | None = None,
) -> Iterator[cst.CSTNode]:
    """The nodes below `root` (not `root` itself), depth first, in source order,
    without whitespace and punctuation; below a `prune` node nothing is yielded.

    `parents` (a file context's `parents`) receives each yielded node's parent,
    so that a node a rule reports is located without generating the module."""
    stack: list[Any] = []
    scratch: dict[int, Any] = {} if parents is None else parents
    FULL[type(root)](root, stack.append, scratch)
    # isinstance() on LibCST's classes goes through ABCMeta: decide per type, once.
    pruned = _PRUNED.get(prune)
    if pruned is None:
        pruned = _PRUNED[prune] = {}
    while stack:
        node = stack.pop()
        yield node
        kind = type(node)
        stop = pruned.get(kind)
        if stop is None:
            stop = pruned[kind] = issubclass(kind, prune)
        if not stop:
            FULL[kind](node, stack.append, scratch)


# prune tuple -> node type -> whether `descendants` stops below it.
_PRUNED: dict[tuple[type[cst.CSTNode], ...], dict[type, bool]] = {}
