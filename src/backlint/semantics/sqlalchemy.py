"""SQLAlchemy knowledge: is an object a sync or an async session / engine /
connection, and where did it come from.

Sources of that knowledge, each resolved across modules through the index:
constructors (`Session(engine)`, `create_engine()`, `AsyncSession()`),
factories (`SessionLocal = sessionmaker(...)`, `async_sessionmaker(...)`,
`scoped_session(...)`), annotations (`db: Session`), FastAPI dependencies that
yield a session (`Depends(get_db)`, `Annotated[Session, Depends(get_db)]`),
`with` targets, and flask-sqlalchemy's `db.session`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import libcst as cst

from backlint.semantics.context import Assigned, FileContext, Parameter, Scope, WithTarget
from backlint.semantics.facts import (
    Attr,
    Await,
    Call,
    ClassFacts,
    FunctionFacts,
    Ref,
    Value,
    dotted,
)
from backlint.semantics.fastapi import param_type
from backlint.semantics.index import ProjectIndex

Kind = Literal["sync", "async"]

# Classes whose instances do I/O synchronously / asynchronously.
SYNC_OBJECTS = frozenset(
    {
        "sqlalchemy.orm.Session",
        "sqlalchemy.orm.session.Session",
        "sqlalchemy.orm.scoped_session",
        "sqlalchemy.orm.scoping.scoped_session",
        "sqlalchemy.engine.Engine",
        "sqlalchemy.engine.base.Engine",
        "sqlalchemy.Engine",
        "sqlalchemy.engine.Connection",
        "sqlalchemy.engine.base.Connection",
        "sqlalchemy.Connection",
        "sqlmodel.Session",
        "sqlmodel.orm.session.Session",
    }
)
ASYNC_OBJECTS = frozenset(
    {
        "sqlalchemy.ext.asyncio.AsyncSession",
        "sqlalchemy.ext.asyncio.session.AsyncSession",
        "sqlalchemy.ext.asyncio.async_scoped_session",
        "sqlalchemy.ext.asyncio.AsyncEngine",
        "sqlalchemy.ext.asyncio.engine.AsyncEngine",
        "sqlalchemy.ext.asyncio.AsyncConnection",
        "sqlalchemy.ext.asyncio.engine.AsyncConnection",
        "sqlmodel.ext.asyncio.session.AsyncSession",
    }
)
# Calls that return such objects (a session class called is in the tables above).
SYNC_FACTORY_CALLS = frozenset(
    {"sqlalchemy.create_engine", "sqlalchemy.engine.create_engine", "sqlmodel.create_engine"}
)
ASYNC_FACTORY_CALLS = frozenset(
    {
        "sqlalchemy.ext.asyncio.create_async_engine",
        "sqlalchemy.ext.asyncio.engine.create_async_engine",
    }
)
# Calls that return a *factory* of sessions: calling the factory gives a session.
SESSIONMAKERS = frozenset({"sqlalchemy.orm.sessionmaker", "sqlalchemy.orm.session.sessionmaker"})
ASYNC_SESSIONMAKERS = frozenset(
    {
        "sqlalchemy.ext.asyncio.async_sessionmaker",
        "sqlalchemy.ext.asyncio.session.async_sessionmaker",
    }
)
SCOPED = frozenset({"sqlalchemy.orm.scoped_session", "sqlalchemy.orm.scoping.scoped_session"})
FLASK_SQLALCHEMY = frozenset(
    {"flask_sqlalchemy.SQLAlchemy", "flask_sqlalchemy.extension.SQLAlchemy"}
)
# Methods of a session/engine/connection that do I/O (RULES.md BKL102); `add`,
# `add_all` and `expunge` only touch the unit of work.
IO_METHODS = frozenset(
    {
        "query",
        "execute",
        "scalars",
        "scalar",
        "get",
        "commit",
        "flush",
        "refresh",
        "merge",
        "delete",
        "connect",
        "begin",
    }
)
# `engine.connect()` / `engine.begin()` give a connection of the engine's kind.
_CONNECTING = frozenset({"connect", "begin"})

_DEPTH = 12


# --------------------------------------------------------------------------
# Values summarised in the index (other modules, dependency functions).


def _class_kind(name: str) -> Kind | None:
    if name in SYNC_OBJECTS:
        return "sync"
    if name in ASYNC_OBJECTS:
        return "async"
    return None


def value_kind(index: ProjectIndex, value: Value | None, depth: int = 0) -> Kind | None:
    """The kind of session object a summarised value is."""
    if value is None or depth > _DEPTH:
        return None
    if isinstance(value, Await):
        return value_kind(index, value.value, depth + 1)
    if isinstance(value, Ref):
        found = index.lookup(value.name)
        if isinstance(found, ClassFacts | FunctionFacts) or found is None:
            return None
        return value_kind(index, found, depth + 1)
    if isinstance(value, Attr):
        if value.attr == "session" and _is_flask_db(index, value.value, depth):
            return "sync"
        return None
    if not isinstance(value, Call):
        return None
    func = value.func
    if isinstance(func, Attr) and func.attr in _CONNECTING:
        return value_kind(index, func.value, depth + 1)
    name = index.canonical(dotted(func) or "")
    if name in SYNC_FACTORY_CALLS:
        return "sync"
    if name in ASYNC_FACTORY_CALLS:
        return "async"
    kind = _class_kind(name)
    if kind is not None:
        return kind
    # Calling a factory: `SessionLocal()`.
    return factory_value_kind(index, func, depth + 1)


def factory_value_kind(index: ProjectIndex, value: Value | None, depth: int = 0) -> Kind | None:
    """The kind of session that calling this summarised factory gives."""
    if value is None or depth > _DEPTH:
        return None
    if isinstance(value, Ref):
        found = index.lookup(value.name)
        if isinstance(found, ClassFacts | FunctionFacts) or found is None:
            return None
        return factory_value_kind(index, found, depth + 1)
    if not isinstance(value, Call):
        return None
    name = index.canonical(dotted(value.func) or "")
    if name in ASYNC_SESSIONMAKERS:
        return "async"
    if name in SESSIONMAKERS:
        class_ = value.kwarg("class_")
        if class_ is not None:
            return _class_kind(index.canonical(dotted(class_) or "")) or "sync"
        return "sync"
    if name in SCOPED:
        return "sync"
    return None


def _is_flask_db(index: ProjectIndex, value: Value, depth: int) -> bool:
    if isinstance(value, Ref):
        found = index.lookup(value.name)
        if isinstance(found, Call):
            return index.canonical(dotted(found.func) or "") in FLASK_SQLALCHEMY
    return False


def dependency_kind(index: ProjectIndex, qualname: str) -> Kind | None:
    """What a FastAPI dependency function yields or returns, when all of it is
    one kind of session."""
    fn = index.find_function(qualname)
    if fn is None:
        return None
    produced = [*fn.yields, *fn.returned]
    kinds = {value_kind(index, v) for v in produced}
    if len(kinds) == 1:
        (kind,) = kinds
        return kind
    return None


# --------------------------------------------------------------------------
# Expressions in the file being linted.


def session_kind(
    ctx: FileContext, expr: cst.BaseExpression, scope: Scope | None = None
) -> Kind | None:
    """Whether `expr` is a sync or an async session/engine/connection (None: unknown)."""
    return _kind(ctx, expr, scope or ctx.scope, 0)


def _kind(ctx: FileContext, expr: cst.BaseExpression, scope: Scope, depth: int) -> Kind | None:
    if depth > _DEPTH:
        return None
    index = ctx.index
    if isinstance(expr, cst.Name):
        owner, bindings = ctx.bindings(expr.value, scope)
        if owner is None or not bindings:
            return None
        if owner.parent is None:  # module level: the index knows, across modules too
            return value_kind(
                index, Ref(f"{ctx.module}.{expr.value}"), depth + 1
            ) or _module_binding(ctx, bindings, owner, depth)
        kinds = {_binding_kind(ctx, b, owner, depth) for b in bindings}
        return kinds.pop() if len(kinds) == 1 else None
    if isinstance(expr, cst.Attribute):
        if expr.attr.value == "session" and _is_flask_db_cst(ctx, expr.value, scope):
            return "sync"
        name = ctx.qualified_name(expr, scope)
        return value_kind(index, Ref(name), depth + 1) if name else None
    if isinstance(expr, cst.Await):
        return _kind(ctx, expr.expression, scope, depth + 1)
    if not isinstance(expr, cst.Call):
        return None
    func = expr.func
    if isinstance(func, cst.Attribute) and func.attr.value in _CONNECTING:
        return _kind(ctx, func.value, scope, depth + 1)
    name = ctx.qualified_name(func, scope)
    if name is not None:
        name = index.canonical(name)
        if name in SYNC_FACTORY_CALLS:
            return "sync"
        if name in ASYNC_FACTORY_CALLS:
            return "async"
        kind = _class_kind(name)
        if kind is not None:
            return kind
    return _factory_kind(ctx, func, scope, depth + 1)


def _factory_kind(
    ctx: FileContext, expr: cst.BaseExpression, scope: Scope, depth: int
) -> Kind | None:
    if isinstance(expr, cst.Name):
        owner, bindings = ctx.bindings(expr.value, scope)
        if owner is not None and owner.parent is None:
            return factory_value_kind(ctx.index, Ref(f"{ctx.module}.{expr.value}"), depth)
        if owner is None:
            return None
        kinds = set()
        for binding in bindings:
            if not (isinstance(binding, Assigned) and isinstance(binding.value, cst.Call)):
                return None
            kinds.add(_factory_call_kind(ctx, binding.value, owner))
        return kinds.pop() if len(kinds) == 1 else None
    name = ctx.qualified_name(expr, scope)
    return factory_value_kind(ctx.index, Ref(name), depth) if name else None


def _factory_call_kind(ctx: FileContext, call: cst.Call, scope: Scope) -> Kind | None:
    name = ctx.index.canonical(ctx.qualified_name(call.func, scope) or "")
    if name in ASYNC_SESSIONMAKERS:
        return "async"
    if name in SESSIONMAKERS:
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "class_":
                return (
                    _class_kind(ctx.index.canonical(ctx.qualified_name(arg.value, scope) or ""))
                    or "sync"
                )
        return "sync"
    return "sync" if name in SCOPED else None


def _module_binding(
    ctx: FileContext, bindings: Sequence[object], owner: Scope, depth: int
) -> Kind | None:
    kinds = {_binding_kind(ctx, b, owner, depth) for b in bindings}
    return kinds.pop() if len(kinds) == 1 else None


def _binding_kind(ctx: FileContext, binding: object, owner: Scope, depth: int) -> Kind | None:
    if isinstance(binding, Assigned):
        if binding.value is not None:
            return _kind(ctx, binding.value, owner, depth + 1)
        if binding.annotation is not None:
            return _annotation_kind(ctx, binding.annotation, owner)
        return None
    if isinstance(binding, WithTarget):
        return _kind(ctx, binding.item.item, owner, depth + 1)
    if isinstance(binding, Parameter):
        declared = param_type(ctx, binding.param, owner)
        kind = _class_kind(declared.annotation) if declared.annotation else None
        if kind is None and declared.dependency is not None:
            kind = dependency_kind(ctx.index, declared.dependency)
        return kind
    return None


def _annotation_kind(ctx: FileContext, annotation: cst.BaseExpression, scope: Scope) -> Kind | None:
    name = ctx.qualified_name(annotation, scope)
    return _class_kind(ctx.index.canonical(name)) if name else None


def _is_flask_db_cst(ctx: FileContext, expr: cst.BaseExpression, scope: Scope) -> bool:
    name = ctx.qualified_name(expr, scope)
    return name is not None and _is_flask_db(ctx.index, Ref(name), 0)
