"""Plain Python semantics shared by rules: what kind of function a def is."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from backlint.semantics.context import FileContext, Scope, ScopeKind, nested_suites
from backlint.semantics.tree import descendants

# Decorators that make a method abstract: its body is never the implementation.
ABSTRACT_DECORATORS = frozenset(
    {
        "abc.abstractmethod",
        "abc.abstractproperty",
        "abc.abstractclassmethod",
        "abc.abstractstaticmethod",
    }
)
# Typing-only signatures: never run, annotated for the checker anyway.
OVERLOAD_DECORATORS = frozenset({"typing.overload", "typing_extensions.overload"})
PROPERTY_DECORATORS = frozenset({"builtins.property", "functools.cached_property"})
# Bases whose methods are interface declarations.
PROTOCOL_BASES = frozenset({"typing.Protocol", "typing_extensions.Protocol"})
# The standard library's enum bases.
ENUM_BASES = frozenset({"enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "enum.IntFlag"})


def decorator_names(ctx: FileContext, node: cst.FunctionDef | cst.ClassDef) -> Iterator[str]:
    """Qualified names of a def's decorators (`@x` and `@x(...)` alike)."""
    for decorator in node.decorators:
        expr = decorator.decorator
        if isinstance(expr, cst.Call):
            expr = expr.func
        name = ctx.qualified_name(expr)
        if name is not None:
            yield name


def is_public_name(name: str) -> bool:
    """Public: no leading underscore, except dunder methods (`__init__`)."""
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def is_nested_in_function(scope: Scope) -> bool:
    """True for a def whose enclosing scope (`scope`) is a function body."""
    s: Scope | None = scope
    while s is not None:
        if s.kind in (ScopeKind.FUNCTION, ScopeKind.LAMBDA):
            return True
        s = s.parent
    return False


def is_abstract(ctx: FileContext, node: cst.FunctionDef, enclosing: Scope) -> bool:
    """Abstract: decorated @abstractmethod, or a method of a Protocol class."""
    if any(name in ABSTRACT_DECORATORS for name in decorator_names(ctx, node)):
        return True
    if enclosing.kind is ScopeKind.CLASS and isinstance(enclosing.node, cst.ClassDef):
        for base in enclosing.node.bases:
            if ctx.qualified_name(base.value, enclosing.parent) in PROTOCOL_BASES:
                return True
    return False


def body_statements(
    node: cst.FunctionDef,
) -> Iterator[cst.BaseSmallStatement | cst.BaseCompoundStatement]:
    """Every statement of a function body, nested blocks included, nested defs
    and classes excluded (their returns and yields are their own)."""
    stack: list[cst.BaseSuite] = [node.body]
    while stack:
        suite = stack.pop()
        if isinstance(suite, cst.SimpleStatementSuite):
            yield from suite.body
            continue
        for stmt in suite.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                yield from stmt.body
            elif isinstance(stmt, cst.BaseCompoundStatement):
                yield stmt
                if not isinstance(stmt, cst.FunctionDef | cst.ClassDef):
                    stack.extend(nested_suites(stmt))


def returns_value_or_yields(ctx: FileContext, node: cst.FunctionDef) -> bool:
    """Whether the body has `return <value>` or `yield` (so `-> None` is wrong)."""
    for stmt in body_statements(node):
        if isinstance(stmt, cst.Return) and stmt.value is not None:
            return True
    if "yield" not in ctx.source:
        return False
    nested = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
    return any(isinstance(n, cst.Yield) for n in descendants(node.body, prune=nested))


_NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


def body_calls(ctx: FileContext, node: cst.FunctionDef) -> list[cst.Call]:
    """The calls in a def's body, nested defs, lambdas and classes excluded, in
    source order; one walk per def shared by every rule that asks (parents are
    recorded, so that a reported call is located cheaply)."""
    key = ("python.body_calls", id(node))
    found = ctx.cache.get(key)
    if found is None:
        found = [
            child
            for child in descendants(node.body, prune=_NESTED_SCOPES, parents=ctx.parents)
            if isinstance(child, cst.Call)
        ]
        ctx.cache[key] = found
    assert isinstance(found, list)
    return found
