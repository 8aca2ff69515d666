"""Mutations of real Python files that still parse: the mutation fuzz test
(`test_mutation_fuzz.py`, seeded and bounded) and `scripts/fuzz_mutations.py`
(longer runs) lint what they give with every rule and demand no BKL002.

Each mutation keeps the module valid Python: identifiers renamed, `async`
added to defs, bodies wrapped in `for`/`while`/`with`/`try` blocks, `await`
put before calls inside async defs.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable

import libcst as cst

Mutation = Callable[[cst.Module, random.Random], cst.Module]


class _Rename(cst.CSTTransformer):
    """Rename one identifier everywhere (a name, an attribute, a parameter)."""

    def __init__(self, old: str, new: str) -> None:
        self.old = old
        self.new = new

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        return updated.with_changes(value=self.new) if updated.value == self.old else updated


class _Names(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


def rename(module: cst.Module, rng: random.Random) -> cst.Module:
    collector = _Names()
    module.visit(collector)
    if not collector.names:
        return module
    old = rng.choice(sorted(collector.names))
    new = rng.choice(["objects", "session", "request", "db", "select_related", "save", "x_1"])
    return module.visit(_Rename(old, new))


class _Pick(cst.CSTTransformer):
    """Apply `change` to the `nth` node of type `kind` (in walk order)."""

    def __init__(
        self, kind: type[cst.CSTNode], nth: int, change: Callable[[cst.CSTNode], cst.CSTNode]
    ) -> None:
        self.kind = kind
        self.nth = nth
        self.seen = 0
        self.change = change

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode) -> cst.CSTNode:  # type: ignore[override]
        if isinstance(original, self.kind):
            self.seen += 1
            if self.seen - 1 == self.nth:
                return self.change(updated)
        return updated


class _Count(cst.CSTVisitor):
    def __init__(self, kind: type[cst.CSTNode]) -> None:
        self.kind = kind
        self.count = 0

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, self.kind):
            self.count += 1
        return True


def _pick(
    module: cst.Module,
    rng: random.Random,
    kind: type[cst.CSTNode],
    change: Callable[[cst.CSTNode], cst.CSTNode],
) -> cst.Module:
    counter = _Count(kind)
    module.visit(counter)
    if not counter.count:
        return module
    result = module.visit(_Pick(kind, rng.randrange(counter.count), change))
    assert isinstance(result, cst.Module)
    return result


def make_async(module: cst.Module, rng: random.Random) -> cst.Module:
    def change(node: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(node, cst.FunctionDef)
        return node.with_changes(asynchronous=cst.Asynchronous())

    return _pick(module, rng, cst.FunctionDef, change)


_WRAPPERS = (
    "for _item in items:\n    pass\n",
    "while True:\n    pass\n",
    "with transaction.atomic():\n    pass\n",
    "async with session.begin():\n    pass\n",
    "try:\n    pass\nexcept Exception:\n    raise\n",
    "if settings.DEBUG:\n    pass\n",
)


def _statements(
    suite: cst.BaseSuite,
) -> list[cst.BaseStatement]:
    """The statements of a def's body, one-line suites as a statement line."""
    if isinstance(suite, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=suite.body)]
    assert isinstance(suite, cst.IndentedBlock)
    return list(suite.body)


def wrap_body(module: cst.Module, rng: random.Random) -> cst.Module:
    template = rng.choice(_WRAPPERS)

    def change(node: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(node, cst.FunctionDef)
        wrapper = cst.parse_statement(template)
        assert isinstance(wrapper, cst.BaseCompoundStatement)
        statements = _statements(node.body)
        body = wrapper.body.with_changes(body=statements)
        wrapped = wrapper.with_changes(body=body)
        asynchronous = node.asynchronous
        if template.startswith("async") and asynchronous is None:
            asynchronous = cst.Asynchronous()
        # A one-line body (`def f(): ...`) cannot hold a compound statement:
        # the wrapped def always gets an indented block.
        block = node.body
        if isinstance(block, cst.SimpleStatementSuite):
            block = cst.IndentedBlock(body=[], header=block.trailing_whitespace)
        return node.with_changes(body=block.with_changes(body=[wrapped]), asynchronous=asynchronous)

    return _pick(module, rng, cst.FunctionDef, change)


class _AwaitCalls(cst.CSTTransformer):
    """`await` before the calls of async defs (not of nested sync defs/lambdas)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.stack: list[bool] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.stack.append(node.asynchronous is not None)

    def leave_FunctionDef(
        self, original: cst.FunctionDef, updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        self.stack.pop()
        return updated

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.stack.append(False)

    def leave_Lambda(self, original: cst.Lambda, updated: cst.Lambda) -> cst.Lambda:
        self.stack.pop()
        return updated

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.stack.append(False)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        self.stack.pop()
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if self.stack and self.stack[-1] and self.rng.random() < 0.5:
            return cst.Await(expression=updated)
        return updated


def insert_await(module: cst.Module, rng: random.Random) -> cst.Module:
    return make_async(module, rng).visit(_AwaitCalls(rng))


MUTATIONS: tuple[Mutation, ...] = (rename, make_async, wrap_body, insert_await)


def mutate(source: str, rng: random.Random, steps: int = 3) -> str | None:
    """`source` after `steps` random mutations, or None when the result is not
    valid Python (comprehension-level `await`, `yield` inside `async`...)."""
    module = cst.parse_module(source)
    for _ in range(steps):
        module = rng.choice(MUTATIONS)(module, rng)
    code = module.code
    try:
        compile(ast.parse(code), "<mutant>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    return code
