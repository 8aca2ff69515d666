"""BKL201 fastapi-missing-response-model."""

from __future__ import annotations

import libcst as cst

from backlint.rule import Rule
from backlint.semantics.context import Assigned, OtherBinding, Parameter, Scope, ScopeKind
from backlint.semantics.fastapi import (
    JSON_RESPONSES,
    Route,
    function_scope,
    is_forwarding_route,
    is_hidden_route,
    is_model_dump,
    is_relayed_json,
    is_response_value,
    is_runtime_relay,
    path_parameters,
    route_of,
)
from backlint.semantics.python import body_statements
from backlint.semantics.tree import descendants

# Types that say nothing about the data (RULES.md BKL201).
UNTYPED = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.set",
        "builtins.object",
        "typing.Any",
        "typing_extensions.Any",
        "typing.Dict",
        "typing.List",
        "typing.Tuple",
        "typing.Mapping",
        "typing.MutableMapping",
        "collections.abc.Mapping",
        "collections.abc.MutableMapping",
    }
)
# Mappings: typed when their value type is (`Dict[UUID, Optional[Model]]`,
# `dict[str, int]`), free-form when it is not (`Dict[str, Any]`, `dict[str, dict]`).
UNTYPED_MAPPINGS = frozenset(
    {
        "builtins.dict",
        "typing.Dict",
        "typing.Mapping",
        "typing.MutableMapping",
        "collections.abc.Mapping",
        "collections.abc.MutableMapping",
    }
)
CONTAINERS = frozenset(
    {
        "builtins.list",
        "builtins.tuple",
        "builtins.set",
        "typing.List",
        "typing.Tuple",
        "typing.Set",
        "typing.Sequence",
        "collections.abc.Sequence",
        "typing.Iterable",
        "collections.abc.Iterable",
    }
)
OPTIONAL = frozenset({"typing.Optional", "typing.Union"})
NO_CONTENT = frozenset({"204", "304"})
# Parameter types an acknowledgement may echo (`{"sent": True, "data": data}`).
SCALARS = frozenset(
    {"builtins.str", "builtins.int", "builtins.float", "builtins.bool", "uuid.UUID"}
)
# Calls whose result is a scalar that says nothing of the data it was given.
SCALAR_CALLS = frozenset({"builtins.bool", "builtins.len"})
# Expressions whose value is made of their children's.
_COMPOSITE_NODES = (
    cst.BinaryOperation,
    cst.Comparison,
    cst.UnaryOperation,
    cst.BooleanOperation,
    cst.IfExp,
    cst.List,
    cst.Tuple,
    cst.Set,
    cst.Dict,
)
_CONSTANT_NODES = (
    cst.SimpleString,
    cst.ConcatenatedString,
    cst.FormattedString,
    cst.Integer,
    cst.Float,
    cst.Comparison,
)


class FastapiMissingResponseModel(Rule):
    """A FastAPI route that declares no response model.

    What it flags:
    A route (a function decorated by a `FastAPI()`/`APIRouter()` instance's
    `get/post/put/patch/delete/options/head/api_route`, the instance created
    here or imported from another module) with no `response_model=` and no
    return annotation, or whose only declared response type is untyped:
    `dict`, `Any`, `object`, bare `list`, a mapping whose values are untyped
    (`Dict[str, Any]`, `dict[str, dict]`), or a list, tuple or optional of
    those. Reported on the `def` line.

    Why:
    The response model is what FastAPI validates and filters the returned
    data with, and what the OpenAPI schema tells clients. Without it, whatever
    the function returns goes out as is: an ORM object's password hash, an
    internal field added later, a shape that silently changed.

    Example:
    ```python
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/users/{user_id}")
    async def read_user(user_id: int):
        return await users.get(user_id)
    ```

    Use instead:
    ```python
    from fastapi import APIRouter
    from pydantic import BaseModel

    router = APIRouter()

    class UserOut(BaseModel):
        id: int
        email: str

    @router.get("/users/{user_id}")
    async def read_user(user_id: int) -> UserOut:
        return await users.get(user_id)
    ```

    Not flagged:
    Fully typed mappings and generics (`dict[str, int]`,
    `Dict[UUID, Optional[Model]]`, `list[Model]`): FastAPI validates them and
    the schema says what they hold. An explicit `response_model=` (even
    `response_model=None`, a conscious choice, and even with an untyped
    return annotation); `status_code=204`;
    `include_in_schema=False`; `response_class=` a non-JSON response
    (`HTMLResponse`, `RedirectResponse`, `StreamingResponse`, ...); a return
    annotation that is a `Response` class; a route whose every `return` hands
    back a `Response` object (FastAPI sends those untouched), the result of a
    project function or method declared to return one, or of an unannotated
    one that returns one on some path (`return await send_request(...)` where
    the helper answers with a `StreamingResponse` of an upstream's answer or
    its JSON; followed three project functions deep; a method of a
    module-level instance, `oauth_manager.handle_callback(...)`, included);
    Authlib's `authorize_redirect(...)`; routes that
    relay another service's answer, by name (`forward_get`, `proxy`,
    `passthrough`, `relay`); websocket routes;
    Flask and other frameworks' routes.
    Routes whose every `return` (annotated untyped or not) is one of:
    an acknowledgement, a dict literal of string keys whose values are
    constants, f-strings, comparisons, module constants (`VERSION`,
    `__version__`), echoed path or scalar parameters, or locals bound (or
    built up with `+=`) only from those (`{"status": "ok"}`, `{"message": f"{name} deleted"}`),
    or a comprehension giving each of its names a constant
    (`{name: None for name in names}`, not `{row.name: ...}`); the
    JSON of another service's answer, `resp.json()` / `await resp.json()`
    of an outgoing HTTP request (httpx, requests, aiohttp: a `get`/`post`/
    `send`... call, or a local or `async with` target bound to one, after a
    `response = None`), a local
    bound to it, `{**data}` of it, or a project function that returns such
    a `.json()` on some path (three deep); a Pydantic model's dump,
    `x.model_dump(...)`, or `x.dict()` of a parameter or local known to be
    a Pydantic model (the shape is the model's, and a response model would
    undo an `exclude=`). A dict with one value from elsewhere (a row, a
    model, a `**` splat) is still flagged. A status report of an in-process
    object: a route of an app or router made in the function that defines
    the route (`status_app = FastAPI()` in `create_status_server(worker)`),
    whose every return is a dict literal of string keys reading only that
    function's parameters (`worker.limit`, `sorted(worker.task_keys)`),
    builtins and constants: a local diagnostic server of one object's live
    state. A diagnostic dict of a module-level app's live attributes is
    still flagged (missed nuance: backlint cannot tell who reads it).
    A relay of code loaded at run time: a route whose every return is a call
    of a project function (three deep) some of whose returns are what a
    callable resolved at run time returned: an attribute (or a class's
    method, or `getattr(...)`) of a module made at run time
    (`types.ModuleType(...)` filled by `exec`, `module_from_spec(...)` of a
    plugin file), or a
    callable the helper reads the signature of before calling it
    (`action = plugin.action; inspect.signature(action); action(**params)`,
    open-webui's actions): a plugin's result, whose shape is its author's.
    Still flagged: a module imported by its dotted path
    (`importlib.import_module(settings.BACKEND)`: the project's or a
    library's backend), and a callable handed in as a parameter (the caller
    knows it). Missed
    alarm: a dispatcher that reads the signature of the project's own
    handlers (kept in a dict or a list) is taken for a plugin call.

    Fix:
    None: only the author knows the shape of the response.
    """

    code = "BKL201"
    name = "fastapi-missing-response-model"
    message = "{problem}: declare a Pydantic model as `response_model=` or return annotation"
    frameworks = frozenset({"fastapi"})
    markers = ("@",)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        scope = self.ctx.scope
        route = route_of(self.ctx, node, scope)
        if route is None or is_forwarding_route(node) or self._exempt(route, scope):
            return
        if self._returns_known_shapes(route, scope) or self._reports_factory_state(route, scope):
            return
        name = node.name.value
        if node.returns is None:
            if not self._returns_responses(node, scope) and self._returns_data(node):
                self.report(
                    node, problem=f"route `{name}` has no response model and no return annotation"
                )
            return
        annotation = node.returns.annotation
        if self._untyped(annotation, scope):
            shown = self.ctx.tree.code_for_node(annotation)
            self.report(
                node, problem=f"route `{name}` returns `{shown}`, which FastAPI cannot validate"
            )

    def _exempt(self, route: Route, scope: Scope) -> bool:
        if route.keyword("response_model") is not None or is_hidden_route(self.ctx, route):
            return True
        status = route.keyword("status_code")
        if status is not None and _status_value(status) in NO_CONTENT:
            return True
        response_class = route.keyword("response_class")
        if response_class is not None:
            name = self.ctx.qualified_name(response_class, scope)
            # Unknown classes are given the benefit of the doubt.
            return name is None or name not in JSON_RESPONSES
        return False

    def _returns_known_shapes(self, route: Route, scope: Scope) -> bool:
        """Every value the route returns is an acknowledgement (a dict literal
        of fixed keys and constant values), the JSON of another service's
        answer (`resp.json()` of an outgoing request), or a Pydantic model's
        dump (`x.model_dump(...)`): nothing a response model would add."""
        node = route.function
        returns = _value_returns(node)
        if not returns:
            return False
        inner = function_scope(node, scope)
        echoed = path_parameters(self.ctx, route)
        return all(
            ret.value is not None
            and (
                self._ack(ret.value, inner, echoed, 0)
                or is_relayed_json(self.ctx, ret.value, inner)
                or is_model_dump(self.ctx, ret.value, inner)
                or is_runtime_relay(self.ctx, ret.value, inner)
            )
            for ret in returns
        )

    def _reports_factory_state(self, route: Route, scope: Scope) -> bool:
        """A status report of an in-process object (prefect's task worker):
        the app or router was made in the function the route is defined in
        (`status_app = FastAPI()` in `create_status_server(task_worker)`), and
        every value the route returns is a dict literal of string keys whose
        values read only that function's parameters (`task_worker.limit`,
        `sorted(task_worker.task_keys)`), builtins and constants. The app
        serves one object's live state to whoever started it, not data
        from a store or a request: a schema adds nothing."""
        if route.instance is not None or scope.kind is not ScopeKind.FUNCTION:
            return False
        factory = scope
        node = route.function
        returns = _value_returns(node)
        if not returns:
            return False
        inner = function_scope(node, scope)
        return all(
            isinstance(ret.value, cst.Dict)
            and bool(ret.value.elements)
            and all(
                isinstance(e, cst.DictElement)
                and isinstance(e.key, cst.SimpleString)
                and self._reads_parameters(e.value, inner, factory, frozenset())
                for e in ret.value.elements
            )
            for ret in returns
        )

    def _reads_parameters(
        self, value: cst.BaseExpression, inner: Scope, factory: Scope, bound: frozenset[str]
    ) -> bool:
        """`value` reads nothing but `factory`'s parameters (attributes, items,
        method calls of them), builtins, constants and its own comprehension
        variables; and reads at least one parameter."""
        reads = False
        stack: list[tuple[cst.CSTNode, frozenset[str]]] = [(value, bound)]
        while stack:
            expr, names = stack.pop()
            if isinstance(expr, cst.Attribute):
                stack.append((expr.value, names))
            elif isinstance(expr, cst.Name):
                if expr.value in names or expr.value in ("True", "False", "None"):
                    continue
                owner, bindings = self.ctx.bindings(expr.value, inner)
                if (
                    owner is factory
                    and bindings
                    and all(isinstance(b, Parameter) for b in bindings)
                ):
                    reads = True
                elif owner is not None or not (
                    self.ctx.qualified_name(expr, inner) or ""
                ).startswith("builtins."):
                    return False
            elif isinstance(expr, cst.DictComp | cst.ListComp | cst.SetComp | cst.GeneratorExp):
                targets: set[str] = set()
                clause: cst.CompFor | None = expr.for_in
                while clause is not None:
                    targets |= {
                        n.value
                        for n in (clause.target, *descendants(clause.target))
                        if isinstance(n, cst.Name)
                    }
                    stack.append((clause.iter, names | targets))
                    stack.extend((cond.test, names | targets) for cond in clause.ifs)
                    clause = clause.inner_for_in
                inside = names | targets
                if isinstance(expr, cst.DictComp):
                    stack.extend([(expr.key, inside), (expr.value, inside)])
                else:
                    stack.append((expr.elt, inside))
            elif isinstance(expr, cst.Call):
                stack.append((expr.func, names))
                stack.extend((arg.value, names) for arg in expr.args)
            elif isinstance(expr, _CONSTANT_NODES) and not isinstance(expr, cst.Comparison):
                if isinstance(expr, cst.FormattedString):
                    stack.extend(
                        (part.expression, names)
                        for part in expr.parts
                        if isinstance(part, cst.FormattedStringExpression)
                    )
            elif isinstance(expr, cst.Subscript):
                stack.append((expr.value, names))
                stack.extend(
                    (el.slice.value, names) for el in expr.slice if isinstance(el.slice, cst.Index)
                )
            elif isinstance(expr, _COMPOSITE_NODES):
                stack.extend(
                    (child, names)
                    for child in expr.children
                    if isinstance(child, cst.BaseExpression | cst.BaseElement | cst.BaseDictElement)
                )
            elif isinstance(expr, cst.Element | cst.DictElement):
                stack.append((expr.value, names))
                if isinstance(expr, cst.DictElement):
                    stack.append((expr.key, names))
            else:
                return False
        return reads

    def _ack(
        self, value: cst.BaseExpression, scope: Scope, echoed: frozenset[str], depth: int
    ) -> bool:
        """A dict literal whose keys are strings and whose values are constants
        (`{"status": "ok"}`, `{"message": f"{name} deleted"}`,
        `{"version": __version__}`, `{"sent": True, "data": data}` with `data`
        a path or scalar parameter), or a comprehension giving each of its own
        names a constant (`{name: None for name in names}`)."""
        if isinstance(value, cst.DictComp):
            return self._echo_comprehension(value, scope, echoed, depth)
        if not isinstance(value, cst.Dict) or not value.elements:
            return False
        return all(
            isinstance(element, cst.DictElement)
            and isinstance(element.key, cst.SimpleString)
            and self._constant(element.value, scope, echoed, depth)
            for element in value.elements
        )

    def _echo_comprehension(
        self, value: cst.DictComp, scope: Scope, echoed: frozenset[str], depth: int
    ) -> bool:
        """`{name: <constant> for name in names}`: one `for`, no `if`, the loop's
        own names as keys (`dict[str, None]`, a shape a model would not add to;
        a key read off a row, `{row.name: ...}`, is not one)."""
        loop = value.for_in
        if loop.inner_for_in is not None or loop.ifs or not isinstance(loop.target, cst.Name):
            return False
        if not (isinstance(value.key, cst.Name) and value.key.value == loop.target.value):
            return False
        return self._constant(value.value, scope, echoed, depth + 1)

    def _constant(
        self, value: cst.BaseExpression, scope: Scope, echoed: frozenset[str], depth: int
    ) -> bool:
        if depth > 4:
            return False
        if isinstance(value, _CONSTANT_NODES):
            return True
        if isinstance(value, cst.IfExp):
            return self._constant(value.body, scope, echoed, depth + 1) and self._constant(
                value.orelse, scope, echoed, depth + 1
            )
        if isinstance(value, cst.UnaryOperation):
            return self._constant(value.expression, scope, echoed, depth + 1)
        if isinstance(value, cst.Dict):
            return not value.elements or self._ack(value, scope, echoed, depth + 1)
        if isinstance(value, cst.List | cst.Tuple):
            return all(
                isinstance(e, cst.Element) and self._constant(e.value, scope, echoed, depth + 1)
                for e in value.elements
            )
        if isinstance(value, cst.Call):
            name = self.ctx.qualified_name(value.func, scope)
            return name in SCALAR_CALLS
        if isinstance(value, cst.Attribute):
            return _constant_name(value.attr.value)
        if isinstance(value, cst.Name):
            if value.value in ("True", "False", "None") or _constant_name(value.value):
                return True
            owner, bindings = self.ctx.bindings(value.value, scope)
            if owner is None or not bindings:
                return False
            for binding in bindings:
                if isinstance(binding, Parameter):
                    if value.value in echoed:
                        continue
                    declared = binding.param.annotation
                    if (
                        declared is None
                        or self.ctx.qualified_name(declared.annotation, owner.parent or owner)
                        not in SCALARS
                    ):
                        return False
                elif isinstance(binding, OtherBinding) and isinstance(binding.node, cst.AugAssign):
                    # `message += f" with {auth_type}"`: a message built up.
                    if owner is not scope or not self._constant(
                        binding.node.value, scope, echoed, depth + 1
                    ):
                        return False
                elif isinstance(binding, Assigned) and binding.value is not None:
                    # A local of the route, or a module-level constant.
                    if (owner is not scope and owner.parent is not None) or not self._constant(
                        binding.value, owner, echoed, depth + 1
                    ):
                        return False
                else:
                    return False
            return True
        return False

    def _untyped(self, annotation: cst.BaseExpression, scope: Scope) -> bool:
        if isinstance(annotation, cst.BinaryOperation) and isinstance(
            annotation.operator, cst.BitOr
        ):
            parts = [p for p in (annotation.left, annotation.right) if not _is_none(p)]
            return bool(parts) and all(self._untyped(p, scope) for p in parts)
        if isinstance(annotation, cst.Subscript):
            base = self.ctx.qualified_name(annotation.value, scope)
            args = [el.slice.value for el in annotation.slice if isinstance(el.slice, cst.Index)]
            if base in UNTYPED_MAPPINGS:
                return len(args) != 2 or self._untyped(args[1], scope)
            if base in CONTAINERS or base in OPTIONAL:
                items = [a for a in args if not _is_none(a) and not isinstance(a, cst.Ellipsis)]
                return bool(items) and all(self._untyped(a, scope) for a in items)
            return False
        name = self.ctx.qualified_name(annotation, scope)
        return name in UNTYPED

    @staticmethod
    def _returns_data(node: cst.FunctionDef) -> bool:
        """Some `return <value>` other than `return None`: there is data to declare."""
        return any(
            isinstance(s, cst.Return) and s.value is not None and not _is_none(s.value)
            for s in body_statements(node)
        )

    def _returns_responses(self, node: cst.FunctionDef, scope: Scope) -> bool:
        """Every `return` hands back a Response object (`return RedirectResponse(...)`,
        `return templates.TemplateResponse(...)`, or a name bound to one)."""
        returns = [s for s in body_statements(node) if isinstance(s, cst.Return)]
        if not returns:
            return False
        inner = function_scope(node, scope)
        return all(
            ret.value is not None and is_response_value(self.ctx, ret.value, inner)
            for ret in returns
        )


def _status_value(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.Integer):
        return expr.value
    if isinstance(expr, cst.Attribute) and expr.attr.value.startswith("HTTP_"):
        return expr.attr.value.split("_")[1]
    return None


def _constant_name(name: str) -> bool:
    """`VERSION`, `__version__`: a module's constant by convention."""
    stripped = name.strip("_")
    return (name.startswith("__") and name.endswith("__")) or (
        stripped.isupper() and any(c.isalpha() for c in stripped)
    )


def _value_returns(node: cst.FunctionDef) -> list[cst.Return]:
    """The def's `return <value>` statements (not `return` / `return None`)."""
    return [
        s
        for s in body_statements(node)
        if isinstance(s, cst.Return) and s.value is not None and not _is_none(s.value)
    ]


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"
