"""BKL203 fastapi-untyped-body."""

from __future__ import annotations

import libcst as cst

from backlint.rules.fastapi import FastAPIRule
from backlint.semantics.context import FileContext, Parameter, Scope
from backlint.semantics.facts import Call, Const, Ref, Subscript, Value, dotted
from backlint.semantics.fastapi import (
    ANNOTATED,
    REQUEST_CLASSES,
    Route,
    function_scope,
    is_forwarding_route,
    is_pydantic_model,
    param_type,
    route_of,
)
from backlint.semantics.python import body_calls
from backlint.semantics.tree import descendants

# A free-form mapping, whatever its parameters say about the keys.
MAPPINGS = frozenset(
    {
        "builtins.dict",
        "typing.Dict",
        "typing.Mapping",
        "typing.MutableMapping",
        "collections.abc.Mapping",
        "collections.abc.MutableMapping",
    }
)
# Containers of bodies: a list of free-form mappings is free-form too.
SEQUENCES = frozenset(
    {
        "builtins.list",
        "builtins.set",
        "builtins.tuple",
        "typing.List",
        "typing.Set",
        "typing.Tuple",
        "typing.Sequence",
        "collections.abc.Sequence",
    }
)
ANY = frozenset({"typing.Any", "typing_extensions.Any", "builtins.object"})
OPTIONAL = frozenset({"typing.Optional", "typing.Union"})
# FastAPI parameter markers, and which of them make a JSON body.
BODY_MARKERS = frozenset({"fastapi.Body", "fastapi.param_functions.Body", "fastapi.params.Body"})
OTHER_MARKERS = frozenset(
    f"{module}.{name}"
    for module in ("fastapi", "fastapi.param_functions", "fastapi.params")
    for name in ("Query", "Path", "Header", "Cookie", "Form", "File", "Depends", "Security")
)
# Reading the raw body: the route forwards or verifies it (webhook signatures).
RAW_BODY = frozenset({"body", "stream"})
PARSED_BODY = frozenset({"json", "form"})
# Reading one fixed key of a body: `body.get("name")`, `body.pop("name")`.
KEY_METHODS = frozenset({"get", "pop", "setdefault"})
# Validating a body by hand against a model: `Item.model_validate(body)`.
VALIDATORS = frozenset({"model_validate", "parse_obj", "validate", "from_dict"})
# Validating a body by hand against a type: `TypeAdapter(Union).validate_python(body)`.
TYPE_ADAPTERS = frozenset({"pydantic.TypeAdapter", "pydantic.type_adapter.TypeAdapter"})
ADAPTER_VALIDATORS = frozenset({"validate_python"})
_NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
# A body passed on whole: the keywords of HTTP clients' sends (httpx,
# requests, aiohttp) and the words of converters' names.
SEND_KEYWORDS = frozenset({"json", "data", "content", "body", "payload"})
PASS_ON_WORDS = frozenset(
    {"convert", "passthrough", "forward", "proxy", "relay", "translate", "transform"}
)
# How many fixed keys a route may read of a body it passes on whole.
PASS_ON_KEYS = 2
HTTP_EXCEPTIONS = frozenset(
    {
        "fastapi.HTTPException",
        "fastapi.exceptions.HTTPException",
        "starlette.exceptions.HTTPException",
    }
)


class FastapiUntypedBody(FastAPIRule):
    """A request body typed `dict`/`Any` or parsed by hand instead of a Pydantic model.

    What it flags:
    In a FastAPI route, a body parameter declared as a free-form mapping
    (`dict`, `Dict[str, Any]`, `Mapping`, `dict[str, Any]`), a list of them
    (`list[dict]`), or `Any`/`object` with `Body()`; and a body parsed by
    hand from a `Request` parameter: `await request.json()`,
    `await request.form()`; in both cases only when the route then reads the
    body as a record of fixed fields, so that a model clearly fits:
    `body["model"]`, `body.get("chat_id")`, `"x" in body` (for a list, the
    same on its loop variable), `Item(**body)` or `Item.model_validate(body)`
    with a project class. Reported on the parameter, or on the call.

    Why:
    A Pydantic model is what FastAPI validates a body against, and what
    documents it. A `dict` body accepts anything: missing keys surface as
    `KeyError` (a 500) deep in the code, wrong types reach the database, and
    extra keys flow into `Model(**payload)` (mass assignment). Parsing
    `request.json()` by hand skips validation and the OpenAPI schema alike.

    Example:
    ```python
    from typing import Any

    from fastapi import APIRouter

    router = APIRouter()

    @router.post("/orders")
    async def create_order(payload: dict[str, Any]) -> dict[str, int]:
        return {"id": await orders.create(payload["product_id"], payload["quantity"])}
    ```

    Use instead:
    ```python
    from fastapi import APIRouter
    from pydantic import BaseModel

    router = APIRouter()

    class OrderIn(BaseModel):
        product_id: int
        quantity: int

    @router.post("/orders")
    async def create_order(payload: OrderIn) -> dict[str, int]:
        return {"id": await orders.create(payload.product_id, payload.quantity)}
    ```

    Not flagged:
    Bodies that are arbitrary JSON on purpose, which the rule cannot judge:
    a free-form body the route only passes on whole, merges, stores or
    iterates (a webhook receiver, a JSON-schema validator, a settings or
    UI-preferences blob, user-defined run inputs) is left alone, and so is
    one read by keys only in a helper it is handed to (missed alarm).
    Typed mappings (`dict[str, int]`, `dict[str, Item]`); parameters that are
    not bodies (`Query()`, `Header()`, `Form()`, `Depends()`, and `Any`
    without `Body()`, which FastAPI reads from the query string); routes
    that read the raw body (`await request.body()`, `request.stream()`),
    such as webhooks verifying a signature; routes that forward a body to
    another service, by name (`forward_post`, `proxy_request`), or by what
    they do: the body, or a copy of it (`payload = {**body}`), handed whole
    to an outgoing send (`json=`/`data=`/`content=` of an HTTP client call)
    or to a converter (a function whose name has the word `convert`,
    `passthrough`, `forward`, `proxy`, `relay`, `translate` or
    `transform`) while at most two fixed keys are read, none of them
    opened further (the routing ones, `model`; `body["task"]["metadata"]`
    reads a structure the route relies on): a third-party API's payload (an OpenAI or
    Anthropic-compatible endpoint); a body validated by hand with a
    Pydantic model (`Form(**body)`, `Form.model_validate(body)`), or with a
    `TypeAdapter` of a type that is not free-form (`TypeAdapter(Union of
    models).validate_python(body)`, made on the spot or a module-level
    instance, here or imported; not `TypeAdapter(dict[str, Any])`), in a `try`
    whose handler raises an `HTTPException` (the route answers 400 or 422
    itself, often because project code also calls it with dicts, or after
    defaulting a legacy discriminator); `request.json()`
    in a route that also declares a Pydantic model body parameter (the raw
    body is read beside the validated one for legacy keys); `request.json()` outside routes
    (middleware, dependencies) and in nested functions. Type aliases defined
    in another module are not followed (missed alarm).
    Test files and migrations are not linted.

    Fix:
    None: the model has to be written.
    """

    code = "BKL203"
    name = "fastapi-untyped-body"
    message = "{problem}: declare a Pydantic model parameter so that FastAPI validates the body"
    markers = ("@",)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        scope = self.ctx.scope
        route = route_of(self.ctx, node, scope)
        if route is None or is_forwarding_route(node):
            return
        for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
            shown = self._untyped_body(param, scope)
            if shown is not None and self._has_shape(node, param.name.value, scope):
                self.report(
                    param,
                    problem=f"request body `{param.name.value}` of route `{node.name.value}` "
                    f"is typed `{shown}`",
                )
        if ".json()" in self.ctx.source or ".form()" in self.ctx.source:
            self._parsed_by_hand(route, scope)

    # Declared bodies -------------------------------------------------------------

    def _untyped_body(self, param: cst.Param, scope: Scope) -> str | None:
        if param.annotation is None:
            return None
        annotation = param.annotation.annotation
        markers: list[cst.BaseExpression] = []
        if param.default is not None:
            markers.append(param.default)
        if isinstance(annotation, cst.Subscript):
            base = self.ctx.qualified_name(annotation.value, scope)
            if base in ANNOTATED:
                parts = [
                    el.slice.value for el in annotation.slice if isinstance(el.slice, cst.Index)
                ]
                if not parts:
                    return None
                annotation, markers = parts[0], [*markers, *parts[1:]]
        explicit_body = False
        for marker in markers:
            name = self._marker(marker, scope)
            if name in OTHER_MARKERS:
                return None
            explicit_body = explicit_body or name in BODY_MARKERS
        if self._free_form(annotation, scope, explicit_body, 0):
            return self.ctx.tree.code_for_node(annotation)
        return None

    def _marker(self, expr: cst.BaseExpression, scope: Scope) -> str | None:
        if not isinstance(expr, cst.Call):
            return None
        name = self.ctx.qualified_name(expr.func, scope)
        return self.ctx.index.canonical(name) if name else None

    def _free_form(
        self, annotation: cst.BaseExpression, scope: Scope, explicit_body: bool, depth: int
    ) -> bool:
        if depth > 4:
            return False
        if isinstance(annotation, cst.BinaryOperation) and isinstance(
            annotation.operator, cst.BitOr
        ):
            parts = [p for p in (annotation.left, annotation.right) if not _is_none(p)]
            return len(parts) == 1 and self._free_form(parts[0], scope, explicit_body, depth + 1)
        if isinstance(annotation, cst.Subscript):
            base = self.ctx.qualified_name(annotation.value, scope)
            args = [el.slice.value for el in annotation.slice if isinstance(el.slice, cst.Index)]
            if base in MAPPINGS:
                # `dict[str, Any]`, `dict[str, dict]`: the values say nothing.
                return len(args) == 2 and self._untyped_value(args[1], scope, depth)
            if base in SEQUENCES:
                items = [a for a in args if not isinstance(a, cst.Ellipsis)]
                return len(items) == 1 and self._is_mapping(items[0], scope, depth)
            if base in OPTIONAL:
                items = [a for a in args if not _is_none(a)]
                return len(items) == 1 and self._free_form(
                    items[0], scope, explicit_body, depth + 1
                )
            return False
        name = self.ctx.qualified_name(annotation, scope)
        if name in MAPPINGS:
            return True
        if explicit_body and name in ANY:
            return True
        # A type alias (`JSONDict = dict[str, Any]`), here or in another module.
        return name is not None and _free_form_value(self.ctx.index.lookup(name), self.ctx, 0)

    def _untyped_value(self, value: cst.BaseExpression, scope: Scope, depth: int) -> bool:
        name = self.ctx.qualified_name(value, scope)
        return name in ANY or self._is_mapping(value, scope, depth)

    def _is_mapping(self, annotation: cst.BaseExpression, scope: Scope, depth: int) -> bool:
        """A free-form mapping (bare or with untyped values)."""
        if isinstance(annotation, cst.Subscript):
            base = self.ctx.qualified_name(annotation.value, scope)
            args = [el.slice.value for el in annotation.slice if isinstance(el.slice, cst.Index)]
            return (
                base in MAPPINGS
                and len(args) == 2
                and self._untyped_value(args[1], scope, depth + 1)
            )
        return self.ctx.qualified_name(annotation, scope) in MAPPINGS

    # Bodies parsed by hand ---------------------------------------------------------

    def _parsed_by_hand(self, route: Route, scope: Scope) -> None:
        node = route.function
        requests = self._request_params(node, scope)
        if not requests or self._declares_model_body(node, scope):
            return
        parsed: list[tuple[cst.Call, str]] = []
        for child in body_calls(self.ctx, node):
            if not isinstance(child.func, cst.Attribute):
                continue
            receiver = child.func.value
            if not (isinstance(receiver, cst.Name) and receiver.value in requests):
                continue
            method = child.func.attr.value
            if method in RAW_BODY:
                return  # the raw body is read: forwarded or verified
            if method in PARSED_BODY:
                parsed.append((child, f"{receiver.value}.{method}()"))
        for call, shown in parsed:
            if not self._parsed_shape(node, call, scope):
                continue
            self.report(
                call,
                problem=f"route `{node.name.value}` parses the request body by hand (`{shown}`)",
            )

    def _declares_model_body(self, node: cst.FunctionDef, scope: Scope) -> bool:
        """A parameter is a Pydantic model (not a dependency): FastAPI already
        validates the body, and `request.json()` beside it reads raw or legacy
        keys the model drops (phoenix's `result.metadata`)."""
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            declared = param_type(self.ctx, param, scope)
            if declared.dependency is None and is_pydantic_model(
                self.ctx.index, declared.annotation
            ):
                return True
        return False

    def _parsed_shape(self, node: cst.FunctionDef, call: cst.Call, scope: Scope) -> bool:
        """The parsed body is read by fixed keys, directly or through the name
        it is bound to (`data = await request.json()`, `async with
        request.form() as form`)."""
        expr: cst.CSTNode = call
        parent = self.ctx.parent(call)
        if isinstance(parent, cst.Await):
            expr, parent = parent, self.ctx.parent(parent)
        if self._keyed_use(expr, parent, scope):
            return True
        name: cst.BaseExpression | None = None
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
            name = parent.targets[0].target
        elif isinstance(parent, cst.AnnAssign | cst.NamedExpr):
            name = parent.target
        elif isinstance(parent, cst.WithItem) and parent.asname is not None:
            name = parent.asname.name
        return isinstance(name, cst.Name) and self._has_shape(node, name.value, scope)

    # A fixed shape -----------------------------------------------------------------

    def _has_shape(self, node: cst.FunctionDef, name: str, scope: Scope) -> bool:
        """Whether the route reads the free-form body `name` as a record of fixed
        fields (`body["model"]`, `body.get("chat_id")`, `"x" in body`, for rows
        the same on the loop variable), or unpacks or validates it into a class
        (`Item(**body)`, `Item.model_validate(body)`): a model clearly fits.
        A body only passed on whole, merged, stored or iterated is arbitrary
        JSON on purpose (webhook receivers, schema validators, settings blobs,
        user-defined inputs) and is left alone."""
        names = {name}
        parents: dict[int, cst.CSTNode] = {}
        nodes = list(descendants(node.body, prune=_NESTED_SCOPES, parents=parents))
        for child in nodes:  # `for row in rows:`, `[r["x"] for r in rows]`
            if (
                isinstance(child, cst.For | cst.CompFor)
                and isinstance(child.iter, cst.Name)
                and child.iter.value == name
                and isinstance(child.target, cst.Name)
            ):
                names.add(child.target.value)
        keyed = [
            child
            for child in nodes
            if isinstance(child, cst.Name)
            and child.value in names
            and self._keyed_use(child, parents.get(id(child)), scope, parents)
        ]
        if not keyed:
            return False
        if self._validated_by_hand(node, name, nodes, parents, scope):
            return False
        return not self._passed_on_whole(name, keyed, nodes, parents)

    def _validated_by_hand(
        self,
        node: cst.FunctionDef,
        name: str,
        nodes: list[cst.CSTNode],
        parents: dict[int, cst.CSTNode],
        scope: Scope,
    ) -> bool:
        """`Item(**body)` / `Item.model_validate(body)` with a Pydantic model, in
        a `try` whose handler raises an `HTTPException`: the route validates
        the body itself (open-webui's `GenerateChatCompletionForm(**form_data)`
        answering 400), often because project code also calls it with dicts."""
        for child in nodes:
            if not (isinstance(child, cst.Name) and child.value == name):
                continue
            arg = parents.get(id(child))
            call = parents.get(id(arg)) if isinstance(arg, cst.Arg) else None
            if not (isinstance(arg, cst.Arg) and isinstance(call, cst.Call)):
                continue
            func = call.func
            if arg.star == "**":
                cls = func
            elif isinstance(func, cst.Attribute) and func.attr.value in VALIDATORS:
                cls = func.value
            elif isinstance(func, cst.Attribute) and func.attr.value in ADAPTER_VALIDATORS:
                if not self._typed_adapter(func.value, scope):
                    continue
                cls = None
            else:
                continue
            if cls is not None and not is_pydantic_model(
                self.ctx.index, self.ctx.qualified_name(cls, scope)
            ):
                continue
            current: cst.CSTNode | None = call
            while current is not None and current is not node:
                up = parents.get(id(current))
                if isinstance(up, cst.Try) and current is up.body and self._raises_http(up, scope):
                    return True
                current = up
        return False

    def _typed_adapter(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """A Pydantic `TypeAdapter` of a type that is not free-form: made on
        the spot (`TypeAdapter(Item).validate_python(body)`) or a module-level
        instance, here or imported (skyvern's `_create_from_prompt_adapter =
        TypeAdapter(CreateFromPromptRequest)`, a tagged union of models).
        `TypeAdapter(dict[str, Any])` or `TypeAdapter(Any)` validates nothing."""
        index = self.ctx.index
        if isinstance(expr, cst.Call):
            name = self.ctx.qualified_name(expr.func, scope)
            if name is None or index.canonical(name) not in TYPE_ADAPTERS or not expr.args:
                return False
            typ = expr.args[0].value
            return not self._free_form(typ, scope, True, 0)
        name = self.ctx.qualified_name(expr, scope)
        value = index.lookup(name) if name is not None else None
        if not (isinstance(value, Call) and isinstance(value.func, Ref) and value.args):
            return False
        if index.canonical(value.func.name) not in TYPE_ADAPTERS:
            return False
        typ_value = value.args[0]
        if isinstance(typ_value, Ref) and index.canonical(typ_value.name) in ANY:
            return False
        return not _free_form_value(typ_value, self.ctx, 0)

    def _raises_http(self, node: cst.Try, scope: Scope) -> bool:
        """Some handler of the `try` raises an `HTTPException` (or a project
        subclass of one)."""
        for handler in node.handlers:
            for child in descendants(handler.body, prune=_NESTED_SCOPES):
                if not (isinstance(child, cst.Raise) and isinstance(child.exc, cst.Call)):
                    continue
                name = self.ctx.qualified_name(child.exc.func, scope)
                if name is None:
                    continue
                name = self.ctx.index.canonical(name)
                if name in HTTP_EXCEPTIONS or any(
                    self.ctx.index.canonical(dotted(base) or "") in HTTP_EXCEPTIONS
                    for cls in self.ctx.index.ancestors(name)
                    for base in cls.bases
                ):
                    return True
        return False

    def _passed_on_whole(
        self,
        name: str,
        keyed: list[cst.Name],
        nodes: list[cst.CSTNode],
        parents: dict[int, cst.CSTNode],
    ) -> bool:
        """The body, or a copy of it (`payload = {**body}`, `body.copy()`,
        `dict(body)`), is handed whole to an outgoing send (`json=body`,
        `data=payload`) or a converter (`convert_to_openai(body)`,
        `passthrough_messages(request, body)`), and the route reads at most
        `PASS_ON_KEYS` fixed keys of it (the routing ones: `model`): a
        third-party API's payload relayed, whose fields are not the route's."""
        keys: set[str] = set()
        for use in keyed:
            parent = parents.get(id(use))
            if isinstance(parent, cst.Arg):
                return False  # unpacked or validated into a class: its fields are read
            if isinstance(parent, cst.Subscript) and isinstance(
                parents.get(id(parent)), cst.Subscript
            ):
                return False  # `body["task"]["metadata"]`: the route reads its structure
            key = _read_key(use, parent, parents)
            keys.add(key if key is not None else "?")
        if len(keys) > PASS_ON_KEYS:
            return False
        aliases = {name}
        for child in nodes:
            if isinstance(child, cst.Assign) and len(child.targets) == 1:
                target = child.targets[0].target
                if isinstance(target, cst.Name) and _copies(child.value, aliases):
                    aliases.add(target.value)
        for child in nodes:
            if not isinstance(child, cst.Call):
                continue
            callee = _callee_name(child.func)
            converter = bool(PASS_ON_WORDS & set(callee.lower().split("_")))
            for arg in child.args:
                if not (isinstance(arg.value, cst.Name) and arg.value.value in aliases):
                    continue
                if arg.star:
                    continue
                if arg.keyword is not None and arg.keyword.value in SEND_KEYWORDS:
                    return True
                if converter:
                    return True
        return False

    def _keyed_use(
        self,
        expr: cst.CSTNode,
        parent: cst.CSTNode | None,
        scope: Scope,
        parents: dict[int, cst.CSTNode] | None = None,
    ) -> bool:
        """`expr["key"]`, `expr.get("key")`, `"key" in expr`, `Cls(**expr)`,
        `Cls.model_validate(expr)`, where `parent` is `expr`'s parent."""

        def up(child: cst.CSTNode) -> cst.CSTNode | None:
            return parents.get(id(child)) if parents is not None else self.ctx.parent(child)

        if isinstance(parent, cst.Subscript) and parent.value is expr:
            return len(parent.slice) == 1 and _is_literal_key(parent.slice[0].slice)
        if isinstance(parent, cst.Attribute) and parent.value is expr:
            call = up(parent)
            return (
                parent.attr.value in KEY_METHODS
                and isinstance(call, cst.Call)
                and call.func is parent
                and bool(call.args)
                and isinstance(call.args[0].value, cst.SimpleString)
            )
        if isinstance(parent, cst.ComparisonTarget) and parent.comparator is expr:
            comparison = up(parent)
            return (
                isinstance(parent.operator, cst.In | cst.NotIn)
                and isinstance(comparison, cst.Comparison)
                and isinstance(comparison.left, cst.SimpleString)
            )
        if isinstance(parent, cst.Arg) and parent.value is expr:
            call = up(parent)
            if not isinstance(call, cst.Call):
                return False
            if parent.star == "**":
                return self._is_class(call.func, scope)
            func = call.func
            return (
                isinstance(func, cst.Attribute)
                and func.attr.value in VALIDATORS
                and self._is_class(func.value, scope)
            )
        return False

    def _is_class(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """A class of the project (a Pydantic model, a mapped class...)."""
        name = self.ctx.qualified_name(expr, scope)
        return name is not None and self.ctx.index.find_class(name) is not None

    def _request_params(self, node: cst.FunctionDef, scope: Scope) -> set[str]:
        """Names of the route's `Request` parameters (not rebound in the body)."""
        inner = function_scope(node, scope)
        names: set[str] = set()
        for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
            if param.annotation is None:
                continue
            if param_type(self.ctx, param, scope).annotation in REQUEST_CLASSES:
                _, bindings = self.ctx.bindings(param.name.value, inner)
                if len(bindings) == 1 and isinstance(bindings[0], Parameter):
                    names.add(param.name.value)
        return names


def _free_form_value(value: object, ctx: FileContext, depth: int) -> bool:
    """The same test for an alias summarised in the index."""
    if depth > 4:
        return False
    canonical = ctx.index.canonical
    if isinstance(value, Ref):
        name = canonical(value.name)
        if name in MAPPINGS:
            return True
        found = ctx.index.lookup(name)
        return isinstance(found, Ref | Subscript) and _free_form_value(found, ctx, depth + 1)
    if not isinstance(value, Subscript):
        return False
    base = canonical(dotted(value.value) or "")
    args = [a for a in value.index if a != Const(None)]
    if base in MAPPINGS:
        return len(args) == 2 and _untyped_value_in_index(args[1], ctx, depth)
    if base in SEQUENCES:
        return (
            len(args) == 1
            and _untyped_value_in_index(args[0], ctx, depth)
            and not (isinstance(args[0], Ref) and canonical(args[0].name) in ANY)
        )
    if base in OPTIONAL:
        return len(args) == 1 and _free_form_value(args[0], ctx, depth + 1)
    return False


def _untyped_value_in_index(value: Value, ctx: FileContext, depth: int) -> bool:
    if isinstance(value, Ref) and ctx.index.canonical(value.name) in ANY:
        return True
    return _free_form_value(value, ctx, depth + 1)


def _read_key(
    use: cst.Name, parent: cst.CSTNode | None, parents: dict[int, cst.CSTNode]
) -> str | None:
    """The literal key a keyed use reads (`body["model"]`, `body.get("model")`,
    `"model" in body`)."""
    literal: cst.BaseExpression | None = None
    if isinstance(parent, cst.Subscript) and isinstance(parent.slice[0].slice, cst.Index):
        literal = parent.slice[0].slice.value
    elif isinstance(parent, cst.Attribute):
        call = parents.get(id(parent))
        if isinstance(call, cst.Call) and call.args:
            literal = call.args[0].value
    elif isinstance(parent, cst.ComparisonTarget):
        comparison = parents.get(id(parent))
        if isinstance(comparison, cst.Comparison):
            literal = comparison.left
    if isinstance(literal, cst.SimpleString):
        text = literal.evaluated_value
        return text if isinstance(text, str) else None
    return None


def _copies(value: cst.BaseExpression, names: set[str]) -> bool:
    """`{**body}` (with more keys or not), `body.copy()`, `dict(body)`,
    `copy.deepcopy(body)`: a copy of one of `names`."""
    if isinstance(value, cst.Dict):
        return any(
            isinstance(e, cst.StarredDictElement)
            and isinstance(e.value, cst.Name)
            and e.value.value in names
            for e in value.elements
        )
    if not isinstance(value, cst.Call):
        return False
    func = value.func
    if (
        isinstance(func, cst.Attribute)
        and func.attr.value == "copy"
        and isinstance(func.value, cst.Name)
        and func.value.value in names
    ):
        return True
    return (
        _callee_name(func) in ("dict", "copy", "deepcopy")
        and len(value.args) == 1
        and isinstance(value.args[0].value, cst.Name)
        and value.args[0].value.value in names
    )


def _callee_name(func: cst.BaseExpression) -> str:
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Name):
        return func.value
    return ""


def _is_literal_key(index: cst.BaseSlice) -> bool:
    return isinstance(index, cst.Index) and isinstance(index.value, cst.SimpleString)


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"
