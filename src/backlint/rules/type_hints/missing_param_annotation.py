"""BKL801 missing-param-annotation."""

from __future__ import annotations

import libcst as cst

from backlint.rules.type_hints import TypeHintRule

_EXEMPT = frozenset({"self", "cls"})


class MissingParamAnnotation(TypeHintRule):
    """A public function or method has parameters without type annotations.

    What it flags:
    A parameter without an annotation in a public function or method (a name
    not starting with `_`, or `__init__`), including `*args` and `**kwargs`.
    One finding per function, on its `def` line, naming every such parameter.

    Why:
    Unannotated parameters are `Any` to type checkers: a wrong argument in a
    call from a view or a task goes unnoticed until it fails in production.
    Annotations on the public surface of a backend are what lets mypy and
    pyright check the code that calls it.

    Example:
    ```python
    def total_price(order, discount=0):
        return order.subtotal - discount
    ```

    Use instead:
    ```python
    def total_price(order: Order, discount: int = 0) -> int:
        return order.subtotal - discount
    ```

    Not flagged:
    `self` and `cls`; private functions (`_helper`) and dunder methods other
    than `__init__`; lambdas; functions nested in another function's body
    (closures and decorator wrappers are not an interface); test files unless
    the `include-tests` option is set; migrations (Django `migrations/`, Alembic
    `versions/` and `env.py`: generated code) unless `include-migrations` is set.

    Fix:
    None: only the author knows the types.
    """

    code = "BKL801"
    name = "missing-param-annotation"
    message = "`{function}` has parameters without type annotations: {params}"

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        name = node.name.value
        if name.startswith("_") and name != "__init__":
            return
        if not self.is_interface(node):
            return
        params = node.params
        star_arg = params.star_arg if isinstance(params.star_arg, cst.Param) else None
        missing: list[str] = []
        for prefix, group in (
            ("", params.posonly_params),
            ("", params.params),
            ("*", (star_arg,) if star_arg else ()),
            ("", params.kwonly_params),
            ("**", (params.star_kwarg,) if params.star_kwarg else ()),
        ):
            for param in group:
                if param.annotation is None and param.name.value not in _EXEMPT:
                    missing.append(f"`{prefix}{param.name.value}`")
        if missing:
            self.report(node, function=name, params=", ".join(missing))
