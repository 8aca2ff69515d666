"""BKL303 django-inefficient-queryset-check."""

from __future__ import annotations

import re
from typing import Any

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import Assigned, FileContext, ScopeKind
from backlint.semantics.django import QuerySet, mentions_querysets, querysets
from backlint.semantics.index import ProjectIndex
from backlint.semantics.tree import descendants
from backlint.types import Fix, FixKind, SourceFile

# `qs.count() <op> n` that means "there are rows" (True) or "there are none" (False).
_EXISTS: dict[tuple[type[cst.BaseCompOp], int], bool] = {
    (cst.GreaterThan, 0): True,
    (cst.NotEqual, 0): True,
    (cst.GreaterThanEqual, 1): True,
    (cst.Equal, 0): False,
    (cst.LessThan, 1): False,
    (cst.LessThanEqual, 0): False,
}
# The same comparison written the other way round (`0 < qs.count()`).
_MIRRORED: dict[type[cst.BaseCompOp], type[cst.BaseCompOp]] = {
    cst.LessThan: cst.GreaterThan,
    cst.GreaterThan: cst.LessThan,
    cst.LessThanEqual: cst.GreaterThanEqual,
    cst.GreaterThanEqual: cst.LessThanEqual,
    cst.Equal: cst.Equal,
    cst.NotEqual: cst.NotEqual,
}
# Queryset methods that build a new query rather than read the rows a
# previous evaluation cached: using a queryset only through them after
# `len(qs)` / `if qs:` means the rows were never needed.
_FRESH_QUERY_METHODS = frozenset(
    {
        "all", "filter", "exclude", "order_by", "distinct", "annotate", "alias", "values",
        "values_list", "select_related", "prefetch_related", "only", "defer", "using",
        "update", "delete", "aggregate", "create", "get_or_create", "update_or_create",
        "bulk_create", "bulk_update", "none", "model", "query",
    }
)  # fmt: skip
_NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
# `name = ...objects...`, `name = qs.filter(...)`: an assignment that may be of a
# queryset (a generous text filter before resolving a name's bindings).
# Words of a queryset expression, looked for just after `name = `.
_QUERYSET_WORD = re.compile(
    r"\b(?:objects|_manager|queryset|get_queryset|filter|exclude|all|order_by|"
    r"select_related|prefetch_related|annotate|distinct|values|values_list|only|defer|"
    r"using|none)\b"
)
# How far after `=` the queryset words are looked for (a wrapped chain).
_ASSIGNED_REACH = 180
_ASSIGNMENT = re.compile(r"^[ \t]*(\w+)[ \t]*(?::[^=\n]*)?=(?!=)", re.MULTILINE)


class DjangoInefficientQuerysetCheck(Rule):
    """A queryset's rows are fetched only to be counted or tested for existence.

    What it flags:
    `len(qs)` where the queryset's rows are not used afterwards (suggest
    `qs.count()`); `if qs:` / `if not qs:` / `bool(qs)` likewise (suggest
    `qs.exists()`); `qs.count() > 0`, `!= 0`, `>= 1`, `== 0`, `< 1`, `<= 0`
    (either way round) and `if qs.count():` (suggest `qs.exists()`, or `not
    qs.exists()`). The queryset is one rooted at a model's manager
    (`Order.objects.filter(...)`, directly or through a local variable); the
    `count()` comparisons also take related managers (`order.items.count()`).

    Why:
    `len(qs)` and `if qs:` fetch every row and build every model instance to
    answer a yes/no or a number; `count()` fetches one number and `exists()`
    stops at the first row. `COUNT(*)` still scans every matching row, where
    `exists()` (`SELECT 1 ... LIMIT 1`) stops at the first.

    Example:
    ```python
    from django.db import models

    class Order(models.Model):
        paid = models.BooleanField(default=False)

    def has_unpaid() -> bool:
        return Order.objects.filter(paid=False).count() > 0
    ```

    Use instead:
    ```python
    from django.db import models

    class Order(models.Model):
        paid = models.BooleanField(default=False)

    def has_unpaid() -> bool:
        return Order.objects.filter(paid=False).exists()
    ```

    Not flagged:
    `len(qs)` or `if qs:` when the same variable is used afterwards in any
    way other than building a new query from it (iterated, indexed, passed on,
    returned: the evaluation filled the cache that use reads, so it costs
    nothing extra); `len()`/`if` on related managers' querysets
    (`len(order.items.all())` is free after `prefetch_related`); querysets
    whose model backlint cannot resolve; `values()` rows are querysets too and
    are flagged. Test files and migrations are not checked.

    Fix:
    `qs.count() > 0` (and the other "some rows" comparisons) -> `qs.exists()`;
    `qs.count() == 0` (and the other "no rows" comparisons) ->
    `not qs.exists()`; `if qs.count():` -> `if qs.exists():`. Safe: the answer
    is the same, from a cheaper query (or from the result cache when there is
    one). `len()` and `if qs:` are not fixed: whether the rows are needed
    later is for the author to say.
    """

    code = "BKL303"
    name = "django-inefficient-queryset-check"
    message = "{what}: use `{cure}`"
    fix_kind = FixKind.SAFE
    frameworks = frozenset({"django"})
    markers = ("len(", "bool(", "if ", ".count()")
    # An inefficient check in a test costs nothing in production.
    skip_tests = True
    skip_migrations = True  # one-off historical code: not worth a change

    @classmethod
    def wants(cls, index: ProjectIndex, file: SourceFile, source: str, options: Any) -> bool:
        # Every flagged queryset comes from a manager or relation the module
        # names (`if ` alone is in nearly every module: walking them all costs).
        return mentions_querysets(index, source)

    def __init__(self, ctx: FileContext, options: Any = None) -> None:
        super().__init__(ctx, options)
        self._queryset_names: dict[str, bool] = {}
        self._assignments: dict[str, list[int]] | None = None  # name -> ends of `name =`

    # `len(qs)`, `bool(qs)` ----------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        if (
            len(node.args) != 1
            or not isinstance(node.func, cst.Name)
            or node.func.value not in ("len", "bool")
        ):
            return
        name = self.ctx.qualified_name(node.func)
        if name == "builtins.len":
            arg = node.args[0].value
            if self._evaluated_for_nothing(arg):
                self.report(
                    node,
                    what=f"`len({_code(arg)})` fetches every row to count them",
                    cure=f"{_code(arg)}.count()",
                )
        elif name == "builtins.bool":
            self._truth_test(node.args[0].value, node)

    # `if qs:`, `if qs.count():` -------------------------------------------------------

    def visit_If(self, node: cst.If) -> None:
        for test in _operands(node.test):
            if _is_count(test):
                assert isinstance(test, cst.Call) and isinstance(test.func, cst.Attribute)
                receiver = test.func.value
                if querysets(self.ctx).queryset(receiver) is not None:
                    fixed = test.with_changes(func=test.func.with_changes(attr=cst.Name("exists")))
                    self.report(
                        test,
                        what=f"`{_code(test)}` as a truth value counts every row",
                        cure=f"{_code(receiver)}.exists()",
                        fix=Fix(FixKind.SAFE, "Replace `.count()` with `.exists()`"),
                        replacement=fixed,
                    )
            else:
                self._truth_test(test, test)

    def _truth_test(self, expr: cst.BaseExpression, at: cst.CSTNode) -> None:
        if self._evaluated_for_nothing(expr):
            self.report(
                at,
                what=f"testing `{_code(expr)}` for rows fetches all of them",
                cure=f"{_code(expr)}.exists()",
            )

    # `qs.count() > 0` ------------------------------------------------------------------

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if len(node.comparisons) != 1:
            return
        target = node.comparisons[0]
        op_type: type[cst.BaseCompOp] = type(target.operator)
        left, right = node.left, target.comparator
        if _is_count(right) and isinstance(left, cst.Integer):
            left, right = right, left
            mirrored = _MIRRORED.get(op_type)
            if mirrored is None:
                return
            op_type = mirrored
        if not (_is_count(left) and isinstance(right, cst.Integer)):
            return
        some = _EXISTS.get((op_type, int(right.value, 0)))
        if some is None:
            return
        assert isinstance(left, cst.Call) and isinstance(left.func, cst.Attribute)
        receiver = left.func.value
        if querysets(self.ctx).queryset(receiver) is None:
            return
        exists = left.with_changes(func=left.func.with_changes(attr=cst.Name("exists")))
        fixed: cst.BaseExpression = (
            exists if some else cst.UnaryOperation(operator=cst.Not(), expression=exists)
        )
        fixed = fixed.with_changes(lpar=node.lpar, rpar=node.rpar)
        cure = f"{_code(receiver)}.exists()" if some else f"not {_code(receiver)}.exists()"
        self.report(
            node,
            what=f"`{_code(node)}` counts every row to test for one",
            cure=cure,
            fix=Fix(FixKind.SAFE, f"Replace with `{cure}`"),
            replacement=fixed,
        )

    # Whether the rows are needed ---------------------------------------------------

    def _evaluated_for_nothing(self, expr: cst.BaseExpression) -> bool:
        """A queryset rooted at a manager whose rows nothing uses afterwards: a
        fresh chain, or a local variable only used to build new queries."""
        if not isinstance(expr, cst.Name | cst.Call | cst.Subscript):
            return False  # an attribute is a manager or a related manager: not ours
        if isinstance(expr, cst.Call) and not isinstance(expr.func, cst.Attribute):
            return False  # a function call: no queryset method chain
        if isinstance(expr, cst.Name) and not self._assigned_queryset(expr.value):
            return False
        qs = querysets(self.ctx).queryset(expr)
        if not _full_queryset(qs):
            return False
        if isinstance(expr, cst.Call | cst.Subscript):
            return True
        if not isinstance(expr, cst.Name):
            return False
        owner, bindings = self.ctx.bindings(expr.value)
        if owner is None or owner.kind is not ScopeKind.FUNCTION:
            return False
        if not all(isinstance(b, Assigned) for b in bindings):
            return False
        return not self._used_elsewhere(owner.node, expr)

    def _assigned_queryset(self, name: str) -> bool:
        """Whether the file assigns `name` from something that looks like a
        queryset (a manager or a queryset method just after `name =`): a
        text search, so that the bindings of every `if x:` are not resolved."""
        if self._assignments is None:
            self._assignments = {}
            for match in _ASSIGNMENT.finditer(self.ctx.source):
                self._assignments.setdefault(match.group(1), []).append(match.end())
        found = self._queryset_names.get(name)
        if found is None:
            source = self.ctx.source
            found = any(
                _QUERYSET_WORD.search(source, end, end + _ASSIGNED_REACH)
                for end in self._assignments.get(name, ())
            )
            self._queryset_names[name] = found
        return found

    def _used_elsewhere(self, function: cst.CSTNode, name: cst.Name) -> bool:
        """Whether the variable is read in the function other than at `name`
        and as the receiver of a method building a new query."""
        assert isinstance(function, cst.FunctionDef)
        harmless: set[int] = {id(name)}
        for node in descendants(function.body, prune=_NESTED_SCOPES):
            if isinstance(node, cst.AssignTarget) and isinstance(node.target, cst.Name):
                harmless.add(id(node.target))
            elif (
                isinstance(node, cst.Attribute)
                and isinstance(node.value, cst.Name)
                and node.attr.value in _FRESH_QUERY_METHODS
            ):
                harmless.add(id(node.value))
            elif (
                isinstance(node, cst.Name) and node.value == name.value and id(node) not in harmless
            ):
                return True
        return False


def _full_queryset(qs: QuerySet | None) -> bool:
    """An iterable queryset rooted at a model's manager (a related manager's
    queryset may be served by a prefetch: `len()` on it is free)."""
    return qs is not None and not qs.is_manager and qs.rooted_at_manager


def _is_count(expr: cst.BaseExpression) -> bool:
    return (
        isinstance(expr, cst.Call)
        and not expr.args
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value == "count"
    )


def _operands(test: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The truth-tested parts of an `if` test: `a and not b` -> [a, b]."""
    if isinstance(test, cst.BooleanOperation):
        return [*_operands(test.left), *_operands(test.right)]
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _operands(test.expression)
    return [test]


def _code(node: cst.CSTNode) -> str:
    code = " ".join(cst.Module(body=[]).code_for_node(node).split())
    return code if len(code) <= 60 else code[:57] + "..."
