"""BKL802 missing-return-annotation."""

from __future__ import annotations

import libcst as cst

from backlint.rules.type_hints import TypeHintRule
from backlint.semantics.python import (
    OVERLOAD_DECORATORS,
    PROPERTY_DECORATORS,
    decorator_names,
    is_abstract,
    returns_value_or_yields,
)
from backlint.types import Fix, FixKind


class MissingReturnAnnotation(TypeHintRule):
    """A public function or method has no return annotation.

    What it flags:
    A public function or method (a name not starting with `_`; dunder methods
    such as `__init__` are public) without `-> ...`, on its `def` line.
    Generators, async functions, properties and abstract methods need one too.

    Why:
    Without a return type, everything downstream of the call is `Any`: a view
    that returns the wrong shape, or a service whose result is used as the
    wrong type, passes the type checker and fails at run time.

    Example:
    ```python
    class OrderService:
        def __init__(self, repo: OrderRepository):
            self.repo = repo

        def pending(self):
            return self.repo.pending()
    ```

    Use instead:
    ```python
    class OrderService:
        def __init__(self, repo: OrderRepository) -> None:
            self.repo = repo

        def pending(self) -> list[Order]:
            return self.repo.pending()
    ```

    Not flagged:
    Private functions (`_helper`); lambdas; functions nested in another
    function's body; test files unless the `include-tests` option is set;
    migrations (Django `migrations/`, Alembic `versions/` and `env.py`) unless
    `include-migrations` is set.

    Fix:
    Adds `-> None` (safe) when the body has no `return <value>` and no `yield`,
    and the function is not async, a property, an overload or abstract (an
    abstract method's subclasses may return values).
    """

    code = "BKL802"
    name = "missing-return-annotation"
    message = "`{function}` has no return annotation"
    fix_kind = FixKind.SAFE

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.returns is not None:
            return
        name = node.name.value
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            return
        if not self.is_interface(node):
            return
        if self._none_is_certain(node):
            fixed = node.with_changes(returns=cst.Annotation(cst.Name("None")))
            fix = Fix(FixKind.SAFE, "Add `-> None`")
            self.report(
                node,
                f"`{name}` has no return annotation; it returns nothing: add `-> None`",
                fix=fix,
                replacement=fixed,
            )
        else:
            self.report(node, function=name)

    def _none_is_certain(self, node: cst.FunctionDef) -> bool:
        if node.asynchronous is not None:
            return False
        decorators = set(decorator_names(self.ctx, node))
        if decorators & (OVERLOAD_DECORATORS | PROPERTY_DECORATORS):
            return False
        if _is_stub(node) or is_abstract(self.ctx, node, self.ctx.scope):
            return False
        return not returns_value_or_yields(self.ctx, node)


def _is_stub(node: cst.FunctionDef) -> bool:
    """A body of only a docstring, `...`, `pass` or `raise NotImplementedError`:
    an interface whose implementations may return values."""
    body = node.body
    statements = body.body if isinstance(body, cst.IndentedBlock) else (body,)
    smalls: list[cst.CSTNode] = []
    for stmt in statements:
        if isinstance(stmt, cst.SimpleStatementLine | cst.SimpleStatementSuite):
            smalls.extend(stmt.body)
        else:
            return False
    for small in smalls:
        if isinstance(small, cst.Expr) and isinstance(
            small.value, cst.SimpleString | cst.ConcatenatedString | cst.Ellipsis
        ):
            continue
        if isinstance(small, cst.Pass):
            continue
        if isinstance(small, cst.Raise) and _names_not_implemented(small.exc):
            continue
        return False
    return True


def _names_not_implemented(exc: cst.BaseExpression | None) -> bool:
    if isinstance(exc, cst.Call):
        exc = exc.func
    return isinstance(exc, cst.Name) and exc.value == "NotImplementedError"
