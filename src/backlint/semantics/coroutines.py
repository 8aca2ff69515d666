"""Which calls create a coroutine: known async APIs, and every `async def` of
the project, resolved through imports and the project index.

A call is a coroutine call only when backlint knows the callee: an
`async def` (not an async generator, not wrapped by a decorator that may
change what it returns), a coroutine function of a known library, or a
coroutine method of a known async object (an `AsyncSession`, a Django
queryset's `a*` methods, an `httpx.AsyncClient`, a `redis.asyncio` client).
A sync function of the same name somewhere else is not one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import libcst as cst

from backlint.semantics.async_clients import ASYNC_CLIENT_PACKAGES, clients
from backlint.semantics.context import Defined, FileContext, Imported, Scope, ScopeKind
from backlint.semantics.facts import Call as FactCall
from backlint.semantics.facts import FunctionFacts, dotted
from backlint.semantics.tree import descendants

# Coroutine functions of libraries.
COROUTINE_FUNCTIONS = frozenset(
    {
        "asyncio.sleep",
        "asyncio.wait_for",
        "asyncio.wait",
        "asyncio.open_connection",
        "asyncio.open_unix_connection",
        "asyncio.start_server",
        "asyncio.start_unix_server",
        "asyncio.create_subprocess_exec",
        "asyncio.create_subprocess_shell",
        "asyncio.to_thread",
        "anyio.sleep",
        "anyio.to_thread.run_sync",
        # Django's async auth and shortcuts (4.2 / 5.0).
        "django.contrib.auth.aauthenticate",
        "django.contrib.auth.alogin",
        "django.contrib.auth.alogout",
        "django.contrib.auth.aget_user",
        "django.shortcuts.aget_object_or_404",
        "django.shortcuts.aget_list_or_404",
        "django.db.models.aprefetch_related_objects",
    }
)
# AsyncSession / AsyncConnection / AsyncEngine methods that are coroutine
# functions (`add`, `expunge`, `begin` and `connect` are not).
ASYNC_SESSION_COROUTINES = frozenset(
    {
        "execute",
        "scalars",
        "scalar",
        "get",
        "get_one",
        "commit",
        "flush",
        "refresh",
        "merge",
        "delete",
        "close",
        "rollback",
        "run_sync",
        "stream",
        "stream_scalars",
        "invalidate",
        "reset",
        "dispose",
    }
)
# Django queryset/manager coroutine methods (4.1+), instance ones (4.2+) and
# related managers' (4.2+). `aiterator()` returns an async iterator instead.
DJANGO_QUERYSET_COROUTINES = frozenset(
    {
        "aget",
        "afirst",
        "alast",
        "acount",
        "aexists",
        "acreate",
        "aget_or_create",
        "aupdate_or_create",
        "aupdate",
        "adelete",
        "abulk_create",
        "abulk_update",
        "ain_bulk",
        "aaggregate",
        "aearliest",
        "alatest",
        "acontains",
        "aexplain",
        "aadd",
        "aremove",
        "aclear",
        "aset",
    }
)
DJANGO_INSTANCE_COROUTINES = frozenset({"asave", "adelete", "arefresh_from_db"})
# Decorators that leave an `async def` a coroutine function.
TRANSPARENT_DECORATORS = frozenset(
    {
        "builtins.staticmethod",
        "builtins.classmethod",
        "abc.abstractmethod",
        "typing.override",
        "typing_extensions.override",
        "functools.wraps",
    }
)

_SQLALCHEMY = frozenset({"sqlalchemy", "sqlmodel"})
_NESTED = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_DEPTH = 8


@dataclass(frozen=True, slots=True)
class CoroutineCall:
    """What a coroutine call calls, for the message."""

    callee: str


def coroutine_call(ctx: FileContext, call: cst.Call) -> CoroutineCall | None:
    """Whether calling `call` creates a coroutine, and of what."""
    func = call.func
    if isinstance(func, cst.Name):
        return _named(ctx, func.value, ctx.scope)
    if not isinstance(func, cst.Attribute):
        return None
    method = func.attr.value
    receiver = func.value
    name = ctx.qualified_name(func)
    if name is not None:
        if name in COROUTINE_FUNCTIONS:
            return CoroutineCall(name)
        found = _project(ctx, name)
        if found is not None:
            return found
    if isinstance(receiver, cst.Name) and receiver.value in ("self", "cls"):
        return _own_method(ctx, receiver.value, method)
    if method in ASYNC_SESSION_COROUTINES and ctx.index.packages & _SQLALCHEMY:
        from backlint.semantics.sqlalchemy import session_kind

        if session_kind(ctx, receiver) == "async":
            return CoroutineCall(f"AsyncSession.{method}")
    if method in DJANGO_QUERYSET_COROUTINES or method in DJANGO_INSTANCE_COROUTINES:
        from backlint.semantics.django import querysets

        qsets = querysets(ctx)
        if method in DJANGO_QUERYSET_COROUTINES and qsets.queryset(receiver) is not None:
            return CoroutineCall(f"QuerySet.{method}")
        if method in DJANGO_INSTANCE_COROUTINES:
            model = qsets.instance(receiver)
            if model is not None:
                return CoroutineCall(f"{model.name}.{method}")
    found_client = (
        clients(ctx).coroutine_call(call) if ctx.index.packages & ASYNC_CLIENT_PACKAGES else None
    )
    if found_client is not None:
        return CoroutineCall(f"{found_client.client.what} `{method}`")
    return None


def _named(ctx: FileContext, name: str, scope: Scope) -> CoroutineCall | None:
    owner, bindings = ctx.bindings(name, scope)
    if owner is None or not bindings:
        return None
    verdicts: list[CoroutineCall | None] = []
    for binding in bindings:
        if isinstance(binding, Defined) and isinstance(binding.node, cst.FunctionDef):
            verdicts.append(_cst_coroutine(ctx, binding.node, owner, name))
        elif isinstance(binding, Imported):
            if binding.qualified in COROUTINE_FUNCTIONS:
                verdicts.append(CoroutineCall(binding.qualified))
            else:
                verdicts.append(_project(ctx, binding.qualified))
        else:
            return None
    first = verdicts[0]
    return first if first is not None and all(v is not None for v in verdicts) else None


def _cst_coroutine(
    ctx: FileContext, node: cst.FunctionDef, owner: Scope, shown: str
) -> CoroutineCall | None:
    """An `async def` of this file: a coroutine function unless it is an async
    generator or decorated by something that may wrap it."""
    if node.asynchronous is None:
        return None
    for decorator in node.decorators:
        expr = decorator.decorator
        if isinstance(expr, cst.Call):
            expr = expr.func
        if ctx.qualified_name(expr, owner) not in TRANSPARENT_DECORATORS:
            return None
    key = ("coroutines.generator", id(node))
    generator = ctx.cache.get(key)
    if generator is None:
        generator = any(isinstance(n, cst.Yield) for n in descendants(node.body, prune=_NESTED))
        ctx.cache[key] = generator
    return None if generator else CoroutineCall(shown)


def _facts_coroutine(ctx: FileContext, fn: FunctionFacts, shown: str) -> CoroutineCall | None:
    if not fn.is_async or fn.yields:
        return None
    for decorator in fn.decorators:
        value = decorator.func if isinstance(decorator, FactCall) else decorator
        name = dotted(value)
        if name is None or ctx.index.canonical(name) not in TRANSPARENT_DECORATORS:
            return None
    return CoroutineCall(shown)


def _project(ctx: FileContext, qualified: str) -> CoroutineCall | None:
    """A function (or a class's static/class method) of the project, by name."""
    canonical = ctx.index.canonical(qualified)
    found = ctx.index.lookup(canonical)
    if isinstance(found, FunctionFacts):
        return _facts_coroutine(ctx, found, canonical.rsplit(".", 1)[-1])
    return None


def _own_method(ctx: FileContext, receiver: str, method: str) -> CoroutineCall | None:
    """`self.method()` / `cls.method()` in a method of a class that defines (or
    inherits from a project class) `async def method`."""
    function = ctx.scope.function()
    if function is None or not isinstance(function.node, cst.FunctionDef):
        return None
    cls_scope = function.parent
    if cls_scope is None or cls_scope.kind is not ScopeKind.CLASS:
        return None
    params = function.node.params.posonly_params or function.node.params.params
    if not params or params[0].name.value != receiver:
        return None
    cls = cls_scope.node
    assert isinstance(cls, cst.ClassDef)
    key = (f"coroutines.method.{method}", id(cls))
    if key in ctx.cache:
        found: CoroutineCall | None = ctx.cache[key]
        return found
    found = _class_method(ctx, cls, cls_scope, method)
    ctx.cache[key] = found
    return found


def _class_method(
    ctx: FileContext, cls: cst.ClassDef, cls_scope: Scope, method: str
) -> CoroutineCall | None:
    defs = [s for s in cls.body.body if isinstance(s, cst.FunctionDef) and s.name.value == method]
    if defs:
        verdicts = [_cst_coroutine(ctx, d, cls_scope, method) for d in defs]
        return verdicts[-1] if all(v is not None for v in verdicts) else None
    if any(
        isinstance(s, cst.SimpleStatementLine)
        and any(
            isinstance(small, cst.Assign | cst.AnnAssign) and method in _assigned(small)
            for small in s.body
        )
        for s in cls.body.body
    ):
        return None  # `method = other_function`: not followed
    for base in cls.bases:
        name = ctx.qualified_name(base.value, cls_scope.parent)
        if name is None:
            return None
        verdict = _inherited(ctx, ctx.index.canonical(name), method, 0)
        if verdict is not False:
            return verdict
    return None


def _inherited(
    ctx: FileContext, qualname: str, method: str, depth: int
) -> CoroutineCall | Literal[False] | None:
    """The verdict from a project base class (False: the class and its bases
    do not define `method`; None: unknown, or not a coroutine function)."""
    if depth > _DEPTH:
        return None
    cls = ctx.index.find_class(qualname)
    if cls is None:
        return None if qualname != "builtins.object" else False
    fn = cls.method(method)
    if fn is not None:
        return _facts_coroutine(ctx, fn, method)
    if cls.attribute(method) is not None:
        return None
    for base in cls.bases:
        name = dotted(base)
        if name is None:
            return None
        verdict = _inherited(ctx, ctx.index.canonical(name), method, depth + 1)
        if verdict is not False:
            return verdict
    return False


def _assigned(stmt: cst.Assign | cst.AnnAssign) -> set[str]:
    targets = [t.target for t in stmt.targets] if isinstance(stmt, cst.Assign) else [stmt.target]
    return {t.value for t in targets if isinstance(t, cst.Name)}
