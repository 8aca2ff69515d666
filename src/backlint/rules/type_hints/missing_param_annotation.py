"""BKL801 missing-param-annotation."""

from __future__ import annotations

import libcst as cst

from backlint.rules.type_hints import TypeHintRule
from backlint.semantics.tree import descendants

_EXEMPT = frozenset({"self", "cls"})


class MissingParamAnnotation(TypeHintRule):
    """A framework entry point or service function has parameters without type annotations.

    What it flags:
    A parameter without an annotation in a def whose signature something
    outside reads (`semantics/entry_points.py`): a FastAPI route (HTTP or
    websocket) or dependency (a function, or a class's `__init__`/`__call__`,
    handed to `Depends()` anywhere in the project), a Celery task, a
    function-based DRF view (`@api_view`) or a method of a DRF view or
    serializer class of the project, and a service function: a module-level
    function, or a method of a public module-level class, in a module of the
    service layer (a module or package named `services`, `service`,
    `repositories`, `repository`, `repos`, `crud`, `selectors`, `use_cases`,
    `usecases`, `interactors`, or ending in `_<one of them>`:
    `order_services.py`, `user_repository.py`; not under a `models` package,
    where `repository.py` holds a model of that name). `*args` and `**kwargs`
    count, unless the body only hands them on unchanged (`super().send(request,
    *args, **kwargs)`: an override forwarding what it does not read, such as
    an `httpx.AsyncClient.send` override in a `services/` package; their
    types are the callee's).
    One finding per function, on its `def` line, naming every such parameter.
    With `scope = "public"`, every public function and method (a name not
    starting with `_`, or `__init__`) is judged, as before.

    Why:
    FastAPI reads these annotations to parse the request: an unannotated
    route or dependency parameter is a string query parameter, whatever the
    code expects. Elsewhere, unannotated parameters are `Any` to type
    checkers: a wrong argument from a view or a task into the service layer,
    or into a task across the broker, goes unnoticed until it fails in
    production.

    Example:
    ```python
    from fastapi import APIRouter

    router = APIRouter()


    @router.get("/orders/{order_id}")
    async def read_order(order_id, expand=False) -> dict[str, int]:
        return {"id": order_id}
    ```

    Use instead:
    ```python
    from fastapi import APIRouter

    router = APIRouter()


    @router.get("/orders/{order_id}")
    async def read_order(order_id: int, expand: bool = False) -> dict[str, int]:
        return {"id": order_id}
    ```

    Not flagged:
    `self` and `cls`; by default (`scope = "entry-points"`) every def that is
    none of the above: helpers in `utils.py`, model methods, plain Django views
    and forms (no framework reads their hints; a name cannot tell a helper from
    an interface, so functions called from a route but living outside the
    service layer are missed alarms); in service modules and DRF classes,
    private names (`_helper`), methods of private classes and dunder methods
    other than `__init__`, and Django signal receivers (`@receiver`: only the
    dispatcher calls them); a route, dependency or task is judged whatever its
    name, since the framework calls it by reference; lambdas; functions nested
    in another function's body (closures and decorator wrappers), except
    routes defined in an app factory; vendored code (`_vendor/`, `vendor/`,
    `vendored/`, `third_party/` directories); test files unless the
    `include-tests` option is set; migrations (Django `migrations/`, Alembic
    `versions/` and `env.py`, and any Alembic revision: a module assigning
    `down_revision` and defining `upgrade()`) unless `include-migrations` is
    set. Options go in `[tool.backlint.missing-param-annotation]`.

    Fix:
    None: only the author knows the types.
    """

    code = "BKL801"
    name = "missing-param-annotation"
    message = "`{function}` has parameters without type annotations: {params}"

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        name = node.name.value
        if not self.needs_hints(node, public=not name.startswith("_") or name == "__init__"):
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
                    if prefix and _only_passed_on(node, param.name.value, prefix):
                        continue  # `*args` handed on as is: its types are the callee's
                    missing.append(f"`{prefix}{param.name.value}`")
        if missing:
            self.report(node, function=name, params=", ".join(missing))


def _only_passed_on(node: cst.FunctionDef, name: str, star: str) -> bool:
    """Every use of `*args` (`**kwargs`) in the body unpacks it, unchanged, into
    a call (`super().send(request, *args, **kwargs)`): an override forwarding
    what it does not read, whose types are the callee's. Unused ones are
    still flagged."""
    passed = uses = 0
    for child in descendants(node.body):
        if isinstance(child, cst.Arg) and isinstance(child.value, cst.Name):
            if child.value.value == name:
                if child.star != star:
                    return False
                passed += 1
        elif isinstance(child, cst.Name) and child.value == name:
            uses += 1
    return passed > 0 and uses == passed
