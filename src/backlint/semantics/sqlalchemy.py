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

import re
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import libcst as cst

from backlint.semantics.context import (
    Assigned,
    FileContext,
    LoopTarget,
    Parameter,
    Scope,
    WithTarget,
)
from backlint.semantics.facts import (
    Attr,
    Await,
    Call,
    ClassFacts,
    Const,
    FunctionFacts,
    Mapping,
    Ref,
    Subscript,
    Value,
    const_str,
    dotted,
)
from backlint.semantics.fastapi import param_type
from backlint.semantics.index import ProjectIndex, TrackedView, tracked_view
from backlint.semantics.tree import descendants

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

# The one table of "callee -> kind", shared by the index path (`value_kind`,
# `factory_value_kind`) and the CST path (`_kind`, `_factory_call_kind`).
# A call of one of these returns a session/engine/connection of that kind.
OBJECT_CALLS: dict[str, Kind] = {
    **dict.fromkeys(SYNC_OBJECTS | SYNC_FACTORY_CALLS, "sync"),
    **dict.fromkeys(ASYNC_OBJECTS | ASYNC_FACTORY_CALLS, "async"),
}
# A call of one of these returns a factory; calling it gives a session of that
# kind (`sessionmaker(class_=AsyncSession)` overrides it, see `factory_call_kind`).
FACTORY_CALLS: dict[str, Kind] = {
    **dict.fromkeys(SESSIONMAKERS | SCOPED, "sync"),
    **dict.fromkeys(ASYNC_SESSIONMAKERS, "async"),
}


def _class_kind(name: str) -> Kind | None:
    if name in SYNC_OBJECTS:
        return "sync"
    if name in ASYNC_OBJECTS:
        return "async"
    return None


def call_kind(callee: str) -> Kind | None:
    """The kind of object a call of `callee` (a canonical name) returns:
    `create_engine`, `Session`, `AsyncSession`, ...; None when not one of them."""
    return OBJECT_CALLS.get(callee)


def factory_call_kind(callee: str, class_: str | None) -> Kind | None:
    """The kind of session the factory returned by a call of `callee` (a
    canonical name) gives; `class_` is the canonical name of its `class_=`
    argument, if any (`sessionmaker(class_=AsyncSession)` gives async ones)."""
    kind = FACTORY_CALLS.get(callee)
    if kind is not None and class_ and callee in SESSIONMAKERS:
        return _class_kind(class_) or kind
    return kind


# --------------------------------------------------------------------------
# Values summarised in the index (other modules, dependency functions).


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
    kind = call_kind(index.canonical(dotted(func) or ""))
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
    class_ = value.kwarg("class_")
    return factory_call_kind(
        index.canonical(dotted(value.func) or ""),
        index.canonical(dotted(class_) or "") if class_ is not None else None,
    )


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
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind == "sync" and expr.value in awaited_receivers(ctx, owner.node):
            return None  # declared `Session`, awaited like an `AsyncSession`: async in fact
        return kind
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
    kind = call_kind(index.canonical(name)) if name is not None else None
    if kind is not None:
        return kind
    return _factory_kind(ctx, func, scope, depth + 1)


_NESTED = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


def awaited_receivers(ctx: FileContext, node: cst.CSTNode) -> frozenset[str]:
    """Names a function awaits method calls on (`await session.execute(...)`):
    whatever their annotation says, these objects are async in fact (a sync
    `Session`'s results cannot be awaited), so `session: Session` on them is a
    loose hint, not a sync session."""
    if not isinstance(node, cst.FunctionDef) or node.asynchronous is None:
        return frozenset()
    key = ("sqlalchemy.awaited_receivers", id(node))
    found = ctx.cache.get(key)
    if found is None:
        names: set[str] = set()
        for child in descendants(node.body, prune=_NESTED):
            if isinstance(child, cst.Await):
                receiver = _receiver(child.expression)
                if receiver is not None:
                    names.add(receiver)
        found = frozenset(names)
        ctx.cache[key] = found
    assert isinstance(found, frozenset)
    return found


def _receiver(expr: cst.BaseExpression) -> str | None:
    """`session` in `session.execute(...)`."""
    if (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and isinstance(expr.func.value, cst.Name)
    ):
        return expr.func.value.value
    return None


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
    index = ctx.index
    class_ = next(
        (a.value for a in call.args if a.keyword is not None and a.keyword.value == "class_"),
        None,
    )
    return factory_call_kind(
        index.canonical(ctx.qualified_name(call.func, scope) or ""),
        index.canonical(ctx.qualified_name(class_, scope) or "") if class_ is not None else None,
    )


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


# --------------------------------------------------------------------------
# Mapped classes and their relationships (an index view).

# Bases whose direct subclasses are declarative bases (SQLAlchemy 2.0).
DECLARATIVE_BASE_CLASSES = frozenset(
    {
        "sqlalchemy.orm.DeclarativeBase",
        "sqlalchemy.orm.decl_api.DeclarativeBase",
        "sqlalchemy.orm.DeclarativeBaseNoMeta",
        "sqlalchemy.orm.decl_api.DeclarativeBaseNoMeta",
    }
)
# Calls that return a declarative base (`Base = declarative_base()`).
DECLARATIVE_BASE_CALLS = frozenset(
    {
        "sqlalchemy.orm.declarative_base",
        "sqlalchemy.orm.decl_api.declarative_base",
        "sqlalchemy.ext.declarative.declarative_base",
    }
)
# Decorators that make a class a declarative base / a mapped class.
AS_DECLARATIVE = frozenset(
    {"sqlalchemy.orm.as_declarative", "sqlalchemy.ext.declarative.as_declarative"}
)
# SQLModel: only subclasses declared with `table=True` are mapped; the others
# are Pydantic schemas.
SQLMODEL_BASES = frozenset({"sqlmodel.SQLModel", "sqlmodel.main.SQLModel"})
# `relationship()` and its spellings.
RELATIONSHIP_FUNCS = frozenset(
    {
        "sqlalchemy.orm.relationship",
        "sqlalchemy.orm.relation",
        "sqlalchemy.orm.relationships.relationship",
        "sqlalchemy.orm._orm_constructors.relationship",
        "sqlmodel.Relationship",
        "sqlmodel.main.Relationship",
    }
)
BACKREF_FUNCS = frozenset({"sqlalchemy.orm.backref", "sqlalchemy.orm.relationships.backref"})
METADATA_CLASSES = frozenset({"sqlalchemy.MetaData", "sqlalchemy.schema.MetaData"})
TABLE_CLASSES = frozenset({"sqlalchemy.Table", "sqlalchemy.schema.Table"})

# `lazy=` strategies: loaded with the parent, loaded on first access (a query
# of its own), or never loaded implicitly (raise, noload, dynamic...).
EAGER_STRATEGIES = frozenset({"joined", "selectin", "subquery", "immediate"})
LAZY_STRATEGIES = frozenset({"select"})

Strategy = Literal["lazy", "eager", "other"]


def _strategy(value: Value | None) -> Strategy:
    """The loading of a `lazy=` value (default: `"select"`, lazy)."""
    if value is None:
        return "lazy"
    if isinstance(value, Const):
        if value.value is True or value.value in LAZY_STRATEGIES:
            return "lazy"
        if value.value is False or value.value in EAGER_STRATEGIES:
            return "eager"
    # raise, raise_on_sql, noload, dynamic, write_only, or computed.
    return "other"


@dataclass(frozen=True, slots=True)
class Relationship:
    name: str
    target: str | None  # class name as written ("Address"), or qualified name
    strategy: Strategy
    collection: bool | None = None  # a list of objects; None: unknown

    def loader(self, owner: str) -> str:
        """The loader option that suits it, written out (`joinedload(User.team)`)."""
        path = f"{owner}.{self.name}"
        if self.collection is None:
            return f"`selectinload({path})` or `joinedload({path})`"
        return f"`{'selectinload' if self.collection else 'joinedload'}({path})`"


@dataclass(slots=True)
class MappedClass:
    qualname: str
    name: str
    relationships: dict[str, Relationship] = field(default_factory=dict)
    bases: tuple[str, ...] = ()  # canonical names of the bases

    def relationship(self, name: str) -> Relationship | None:
        return self.relationships.get(name)


class SQLAlchemyModels(TrackedView):
    """Every mapped class of the project (declarative, 2.0 `Mapped[]`, classic
    `Column`, SQLModel `table=True`, flask-sqlalchemy `db.Model`), with its
    relationships, inherited ones included, and the declarative bases."""

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self.classes: dict[str, MappedClass] = {}
        self.bases: set[str] = set()  # declarative bases (their `.metadata`)
        self.metadata: set[str] = set()  # module-level `MetaData()` objects
        self._by_name: dict[str, list[str]] = {}
        if not any(index.uses(p) for p in ("sqlalchemy", "sqlmodel", "flask_sqlalchemy")):
            return
        self._find_bases()
        project = {cls.qualname: cls for _, cls in index.classes()}
        memo: dict[str, str | None] = {}
        for qualname, cls in project.items():
            if self._is_mapped(cls, project, memo, 0):
                self.classes[qualname] = MappedClass(
                    qualname, cls.name, bases=tuple(self._canon(b) for b in cls.bases)
                )
                self._by_name.setdefault(cls.name, []).append(qualname)
        pending_backrefs: list[tuple[str, Relationship]] = []
        for qualname, mapped in self.classes.items():
            for cls in self._lineage(project[qualname], project):
                for name, rel, backref in self._relationships(cls):
                    mapped.relationships.setdefault(name, rel)
                    if backref is not None and rel.target is not None:
                        pending_backrefs.append((rel.target, backref))
        for target, backref in pending_backrefs:
            found = self.resolve(target)
            if found is not None:
                found.relationships.setdefault(backref.name, backref)

    def _canon(self, value: Value) -> str:
        name = dotted(value)
        return self.index.canonical(name) if name else ""

    def _find_bases(self) -> None:
        for facts in self.index.modules.values():
            for name, value in facts.assignments.items():
                if not isinstance(value, Call):
                    continue
                func = self._canon(value.func)
                if func in DECLARATIVE_BASE_CALLS or (
                    isinstance(value.func, Attr) and value.func.attr == "generate_base"
                ):
                    self.bases.add(f"{facts.module}.{name}")
                elif func in METADATA_CLASSES:
                    self.metadata.add(f"{facts.module}.{name}")
                elif func in FLASK_SQLALCHEMY:
                    self.bases.add(f"{facts.module}.{name}.Model")
            for cls in facts.classes.values():
                if any(self._canon(b) in DECLARATIVE_BASE_CLASSES for b in cls.bases) or any(
                    self._canon(d.func if isinstance(d, Call) else d) in AS_DECLARATIVE
                    for d in cls.decorators
                ):
                    self.bases.add(cls.qualname)

    def _is_mapped(
        self,
        cls: ClassFacts,
        project: dict[str, ClassFacts],
        memo: dict[str, str | None],
        depth: int,
    ) -> bool:
        """Derives from a declarative base without being one, and is not
        abstract; a SQLModel class only with `table=True`."""
        if cls.qualname in self.bases or cls.attribute("__abstract__") == Const(True):
            return False
        if any(isinstance(d, Attr) and d.attr == "mapped" for d in cls.decorators):
            return True  # `@mapper_registry.mapped`
        root = self._root(cls, project, memo, depth)
        if root == "sqlmodel":
            return any(k == "table" and v == Const(True) for k, v in cls.keywords)
        return root == "declarative"

    def _root(
        self,
        cls: ClassFacts,
        project: dict[str, ClassFacts],
        memo: dict[str, str | None],
        depth: int,
    ) -> str | None:
        """ "declarative" or "sqlmodel": what the class's bases lead to."""
        if cls.qualname in memo:
            return memo[cls.qualname]
        memo[cls.qualname] = None  # cycles
        found: str | None = None
        for base in cls.bases:
            name = self._canon(base)
            if name in SQLMODEL_BASES:
                found = "sqlmodel"
            elif name in self.bases:
                found = "declarative"
            elif name in project and depth < 16:
                found = self._root(project[name], project, memo, depth + 1)
            if found is not None:
                break
        memo[cls.qualname] = found
        return found

    def _lineage(self, cls: ClassFacts, project: dict[str, ClassFacts]) -> list[ClassFacts]:
        """The class and its project ancestors (mixins too), nearest first."""
        out: list[ClassFacts] = []
        pending = [cls]
        seen: set[str] = set()
        while pending and len(out) < 32:
            current = pending.pop(0)
            if current.qualname in seen:
                continue
            seen.add(current.qualname)
            out.append(current)
            for base in current.bases:
                parent = project.get(self._canon(base))
                if parent is not None:
                    pending.append(parent)
        return out

    def _relationships(
        self, cls: ClassFacts
    ) -> Iterator[tuple[str, Relationship, Relationship | None]]:
        annotations = dict(cls.annotations)
        for name, value in cls.attributes:
            if not isinstance(value, Call) or not self._is_relationship_call(value):
                continue
            lazy = value.kwarg("lazy")
            extra = value.kwarg("sa_relationship_kwargs")  # SQLModel
            if lazy is None and isinstance(extra, Mapping):
                lazy = extra.get("lazy")
            inner = value.kwarg("sa_relationship")
            if isinstance(inner, Call) and self._is_relationship_call(inner):
                value, lazy = inner, inner.kwarg("lazy")
            target = _target_name(value.args[0] if value.args else value.kwarg("argument"))
            if target is None:
                target = _target_name(annotations.get(name))
            collection = _collection(value.kwarg("uselist"), annotations.get(name))
            if collection is None and value.kwarg("secondary") is not None:
                collection = True  # many-to-many
            rel = Relationship(name, self._qualify(target), _strategy(lazy), collection)
            yield name, rel, self._backref(value, cls)

    def _is_relationship_call(self, call: Call) -> bool:
        func = self._canon(call.func)
        if func in RELATIONSHIP_FUNCS:
            return True
        # flask-sqlalchemy: `db.relationship(...)`.
        return (
            isinstance(call.func, Attr)
            and call.func.attr in ("relationship", "relation")
            and f"{self._canon(call.func.value)}.Model" in self.bases
        )

    def _backref(self, call: Call, cls: ClassFacts) -> Relationship | None:
        backref = call.kwarg("backref")
        if backref is None:
            return None
        name = const_str(backref)
        lazy: Value | None = None
        if (
            name is None
            and isinstance(backref, Call)
            and self._canon(backref.func) in BACKREF_FUNCS
        ):
            name = const_str(backref.args[0]) if backref.args else None
            lazy = backref.kwarg("lazy")
        if name is None:
            return None
        return Relationship(name, cls.qualname, _strategy(lazy))

    def _qualify(self, target: str | None) -> str | None:
        """A qualified name for a class named in the code (a Ref was already qualified)."""
        if target is None:
            return None
        return self.index.canonical(target)

    # Queries -------------------------------------------------------------------

    def get(self, qualname: str | None) -> MappedClass | None:
        if not qualname:
            return None
        return self.classes.get(qualname) or self.classes.get(self.index.canonical(qualname))

    def resolve(self, target: str | None) -> MappedClass | None:
        """A relationship's target: a qualified name, or a class name (unique in the project)."""
        if target is None:
            return None
        found = self.get(target)
        if found is not None:
            return found
        name = target.rsplit(".", 1)[-1]
        candidates = self._by_name.get(name, [])
        return self.classes[candidates[0]] if len(candidates) == 1 else None

    def is_base(self, qualname: str | None) -> bool:
        return qualname is not None and self.index.canonical(qualname) in self.bases


_COLLECTIONS = frozenset(
    {
        "builtins.list",
        "builtins.set",
        "typing.List",
        "typing.Set",
        "typing.Sequence",
        "collections.abc.Sequence",
        "sqlalchemy.orm.DynamicMapped",
        "sqlalchemy.orm.WriteOnlyMapped",
    }
)
_COLLECTION_TEXT = re.compile(r"\b(list|List|set|Set|Sequence)\[")


def _collection(uselist: Value | None, annotation: Value | None) -> bool | None:
    """Whether a relationship holds a list: `uselist=`, else its annotation."""
    if isinstance(uselist, Const) and isinstance(uselist.value, bool):
        return uselist.value
    if annotation is None:
        return None
    text = const_str(annotation)
    if text is not None:
        return bool(_COLLECTION_TEXT.search(text))
    if isinstance(annotation, Subscript):
        base = dotted(annotation.value)
        if base in ("sqlalchemy.orm.Mapped", "typing.Optional"):
            args = [a for a in annotation.index if a != Const(None)]
            return _collection(None, args[0]) if len(args) == 1 else None
        return base in _COLLECTIONS
    return False


_TARGET = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\]*\s*(?:\|\s*None)?\s*$")


def _target_name(value: Value | None) -> str | None:
    """The class a relationship points to: `"Address"`, `Address`, or the
    annotation `Mapped[list["Address"]]` / `Optional["Team"]` / `List[Hero]`."""
    if value is None:
        return None
    text = const_str(value)
    if text is not None:
        match = _TARGET.search(text.replace('"', "").replace("'", ""))
        return match.group(1) if match else None
    if isinstance(value, Subscript):
        args = [a for a in value.index if a != Const(None)]
        return _target_name(args[-1]) if args else None
    name = dotted(value)
    if name is None or name.startswith(("builtins.", "typing.")):
        return None
    return name


@tracked_view
def sqlalchemy_models(index: ProjectIndex) -> SQLAlchemyModels:
    return SQLAlchemyModels(index)


# --------------------------------------------------------------------------
# Queries in the file being linted: what rows or instance an expression is,
# and which relationships its statement loads.

SELECT_FUNCS = frozenset(
    {
        "sqlalchemy.select",
        "sqlalchemy.sql.select",
        "sqlalchemy.sql.expression.select",
        "sqlalchemy.future.select",
        "sqlmodel.select",
        "sqlmodel.sql.expression.select",
    }
)
# Loader options (`sqlalchemy.orm.<name>`, or chained `.<name>(...)`) by effect:
# loaded with the query; never loaded implicitly (raise / None); lazy; only a
# path prefix; column options that leave relationships alone.
EAGER_LOADERS = frozenset(
    {"selectinload", "joinedload", "subqueryload", "immediateload", "contains_eager"}
)
NO_LOADERS = frozenset({"raiseload", "noload"})
LAZY_LOADERS = frozenset({"lazyload"})
PATH_LOADERS = frozenset({"defaultload", "Load"})
COLUMN_OPTIONS = frozenset(
    {
        "load_only",
        "defer",
        "undefer",
        "undefer_group",
        "with_expression",
        "selectin_polymorphic",
        "options",
    }
)
_LOADER_MODULES = ("sqlalchemy.orm.", "sqlalchemy.orm.strategy_options.")
# Methods of a statement or legacy Query that return one like it.
STATEMENT_CHAIN = frozenset(
    {
        "where",
        "filter",
        "filter_by",
        "order_by",
        "join",
        "outerjoin",
        "join_from",
        "outerjoin_from",
        "distinct",
        "group_by",
        "having",
        "execution_options",
        "with_for_update",
        "select_from",
        "correlate",
        "params",
        "enable_eagerloads",
        "populate_existing",
        "yield_per",
        "autoflush",
        "prefix_with",
        "suffix_with",
        "union",
        "reset_joinpoint",
        "with_parent",
    }
)
# Methods that bound the rows a statement returns.
LIMITS = frozenset({"limit", "offset", "slice", "fetch", "paginate"})
Shape = Literal["statement", "query", "result", "scalars", "list", "instance", "self"]
Path = tuple[str, ...]
# Session methods that run a statement, and the shape of what they return.
_RUNS: dict[str, Shape] = {
    "execute": "result",
    "scalars": "scalars",
    "scalar": "instance",
    "exec": "scalars",  # SQLModel
    "stream": "result",
    "stream_scalars": "scalars",
}


@dataclass(frozen=True, slots=True)
class Loading:
    """Relationship paths (`("addresses", "city")`) a statement's options load
    with the rows (or never load: raiseload, noload), force lazy, or options
    backlint cannot read (then every relationship counts as loaded)."""

    eager: frozenset[Path] = frozenset()
    lazy: frozenset[Path] = frozenset()
    opaque: bool = False

    def union(self, other: Loading) -> Loading:
        return Loading(
            self.eager | other.eager, self.lazy | other.lazy, self.opaque or other.opaque
        )

    def narrowed(self, step: str) -> Loading:
        """The loading of the objects of relationship `step`."""
        return Loading(
            frozenset(p[1:] for p in self.eager if len(p) > 1 and p[0] == step),
            frozenset(p[1:] for p in self.lazy if len(p) > 1 and p[0] == step),
            self.opaque,
        )

    def covers(self, path: Path) -> bool | None:
        """True: loaded; False: forced lazy; None: the relationship's default."""
        wildcard = (*path[:-1], "*")
        if self.opaque or path in self.eager:
            return True
        if path in self.lazy:
            return False
        if wildcard in self.eager:
            return True
        if wildcard in self.lazy:
            return False
        return None


@dataclass(frozen=True, slots=True)
class QueryValue:
    """What a query expression gives: a statement, rows, or one instance.

    `model` is the single mapped entity of the statement (None for columns,
    several entities or unknown); `bounded` says a limit/offset/slice applies."""

    shape: Shape
    model: MappedClass | None
    loading: Loading = Loading()
    is_async: bool = False
    bounded: bool = False

    @property
    def rows(self) -> bool:
        """Iterating it gives the entity (a Query, ScalarResult or list of them)."""
        return self.shape in ("query", "scalars", "list") and self.model is not None

    @property
    def instance(self) -> bool:
        return self.shape == "instance" and self.model is not None


def _loader_kind(name: str) -> str | None:
    if name in EAGER_LOADERS or name in NO_LOADERS:
        return "eager"
    if name in LAZY_LOADERS:
        return "lazy"
    if name in PATH_LOADERS:
        return "path"
    if name in COLUMN_OPTIONS:
        return "column"
    return None


class Queries:
    """The file's query analysis (see `queries(ctx)`)."""

    def __init__(self, ctx: FileContext) -> None:
        # A weak reference: the context's cache holds this object, and a cycle
        # would keep the file's whole tree alive until the cyclic collector
        # runs (30 MiB more at peak on fief-server, and its time to collect).
        self.ctx: FileContext = weakref.proxy(ctx)
        self.models = ctx.index.view(sqlalchemy_models)
        self._memo: dict[tuple[int, int], QueryValue | None] = {}
        self._resolving: set[tuple[int, str]] = set()

    # Entities ----------------------------------------------------------------

    def mapped_class(self, expr: cst.BaseExpression, scope: Scope) -> MappedClass | None:
        """The mapped class an expression names (`User`, `models.User`)."""
        name = self.ctx.qualified_name(expr, scope)
        return self.models.get(name) if name else None

    def _entity(self, args: Sequence[cst.Arg], scope: Scope) -> tuple[bool, MappedClass | None]:
        """(whether the arguments are ORM entities or columns, the single mapped class)."""
        positional = [a.value for a in args if a.keyword is None and not a.star]
        if not positional:
            return False, None
        classes = [self.mapped_class(a, scope) for a in positional]
        if len(positional) == 1 and classes[0] is not None:
            return True, classes[0]
        ormish = all(
            c is not None
            or (isinstance(a, cst.Attribute) and self.mapped_class(a.value, scope) is not None)
            for a, c in zip(positional, classes, strict=True)
        )
        return ormish, None

    # Expressions -------------------------------------------------------------

    def value(self, expr: cst.BaseExpression, scope: Scope | None = None) -> QueryValue | None:
        """What `expr` is, as a query (None: not one, or unknown)."""
        scope = scope or self.ctx.scope
        if self._resolving:  # inside `stmt = stmt.where(...)`: depends on the name's other values
            return self._value(expr, scope, False)
        key = (id(expr), id(scope))
        if key in self._memo:
            return self._memo[key]
        found = self._value(expr, scope, False)
        self._memo[key] = found
        return found

    def _value(self, expr: cst.BaseExpression, scope: Scope, awaited: bool) -> QueryValue | None:
        if isinstance(expr, cst.Await):
            return self._value(expr.expression, scope, True)
        if isinstance(expr, cst.Name):
            return self._from_name(expr, scope)
        if isinstance(expr, cst.Subscript):
            base = self.value(expr.value, scope)
            if base is None or base.model is None:
                return None
            sliced = any(isinstance(el.slice, cst.Slice) for el in expr.slice)
            if base.shape == "query":
                return replace(base, shape="list", bounded=True) if sliced else None
            if base.shape == "list":
                return base if sliced else replace(base, shape="instance")
            return None
        if not isinstance(expr, cst.Call):
            return None
        func = expr.func
        name = self.ctx.qualified_name(func, scope) if not isinstance(func, cst.Call) else None
        if name is not None and self.ctx.index.canonical(name) in SELECT_FUNCS:
            # A statement whatever it selects; the entity only when it is one mapped class.
            return QueryValue("statement", self._entity(expr.args, scope)[1])
        if not isinstance(func, cst.Attribute):
            return None
        method = func.attr.value
        receiver = func.value
        run = self.session_call(method, receiver, expr.args, scope, awaited)
        if run is not None:
            return run
        base = self.value(receiver, scope)
        if base is None:
            return None
        return self._method(base, method, expr.args, scope)

    def session_call(
        self,
        method: str,
        receiver: cst.BaseExpression,
        args: Sequence[cst.Arg],
        scope: Scope,
        awaited: bool,
    ) -> QueryValue | None:
        """`receiver.method(*args)` as a session call: `query(M)`, `get(M, id)`,
        `execute/scalars/scalar/exec/stream(select(...))`. The receiver is a
        session when backlint knows it is, or when the arguments say so (a
        mapped class, a `select()`; `get` also when awaited)."""
        if method == "query":
            ormish, model = self._entity(args, scope)
            if not ormish and session_kind(self.ctx, receiver, scope) is None:
                return None
            return QueryValue("query", model)
        if method in ("get", "get_one"):
            positional = [a.value for a in args if a.keyword is None]
            model = self.mapped_class(positional[0], scope) if positional else None
            if model is None:
                return None
            kind = session_kind(self.ctx, receiver, scope)
            if kind is None and not awaited:
                return None
            loading = Loading()
            for arg in args:
                if arg.keyword is not None and arg.keyword.value == "options":
                    loading = self._options_arg(arg.value, scope)
            return QueryValue("instance", model, loading, awaited or kind == "async")
        shape = _RUNS.get(method)
        if shape is None or not args or args[0].keyword is not None:
            return None
        statement = self.value(args[0].value, scope)
        if statement is None or statement.shape not in ("statement", "self"):
            return None
        is_async = awaited or session_kind(self.ctx, receiver, scope) == "async"
        return replace(statement, shape=shape, is_async=is_async)

    def _method(
        self, base: QueryValue, method: str, args: Sequence[cst.Arg], scope: Scope
    ) -> QueryValue | None:
        shape = base.shape
        if shape in ("statement", "query", "self"):
            if method == "options":
                loading = base.loading
                for arg in args:
                    loading = loading.union(
                        self._options_arg(arg.value, scope)
                        if arg.star
                        else self._option(arg.value, scope)
                    )
                return replace(base, loading=loading)
            if method in LIMITS:
                return replace(base, bounded=True)
            if method in STATEMENT_CHAIN:
                return base
            if shape == "query":
                if method == "all":
                    return replace(base, shape="list")
                if method in ("first", "one", "one_or_none", "scalar", "get"):
                    return replace(base, shape="instance")
            return None
        if shape == "result":
            if method == "scalars":
                return replace(base, shape="scalars")
            if method in ("unique", "yield_per", "execution_options"):
                return base
            if method in ("scalar_one", "scalar_one_or_none", "scalar"):
                return replace(base, shape="instance")
            if method in ("all", "fetchall", "fetchmany"):
                return replace(base, shape="list", model=None)  # rows, not entities
            return None
        if shape == "scalars":
            if method in ("unique", "yield_per"):
                return base
            if method in ("all", "fetchall"):
                return replace(base, shape="list")
            if method in ("first", "one", "one_or_none"):
                return replace(base, shape="instance")
        return None

    def _from_name(self, name: cst.Name, scope: Scope) -> QueryValue | None:
        owner, bindings = self.ctx.bindings(name.value, scope)
        if owner is None or not bindings:
            return None
        key = (id(owner), name.value)
        if key in self._resolving:
            # `stmt = stmt.where(...)`: the other assignments say what it is.
            return QueryValue("self", None)
        self._resolving.add(key)
        try:
            found: list[QueryValue] = []
            for binding in bindings:
                if not isinstance(binding, Assigned) or binding.value is None:
                    return None
                value = self._value(binding.value, owner, False)
                if value is None:
                    return None
                found.append(value)
        finally:
            self._resolving.discard(key)
        concrete = [v for v in found if v.shape != "self"]
        if not concrete:
            return None
        first = concrete[0]
        if any(v.shape != first.shape or v.model is not first.model for v in concrete):
            return None
        loading = first.loading
        for v in found[1:]:
            loading = loading.union(v.loading)
        return QueryValue(
            first.shape,
            first.model,
            loading,
            any(v.is_async for v in concrete),
            any(v.bounded for v in found),
        )

    # Loader options ------------------------------------------------------------

    def _options_arg(self, expr: cst.BaseExpression, scope: Scope) -> Loading:
        """`options=[selectinload(...)]` of `session.get()`, or `*opts`."""
        if isinstance(expr, cst.List | cst.Tuple):
            loading = Loading()
            for element in expr.elements:
                if isinstance(element, cst.StarredElement):
                    return Loading(opaque=True)
                loading = loading.union(self._option(element.value, scope))
            return loading
        return Loading(opaque=True)

    def _option(self, expr: cst.BaseExpression, scope: Scope) -> Loading:
        parsed = self._loader(expr, scope, 0)
        if parsed is None:
            return Loading(opaque=True)
        eager: set[Path] = set()
        lazy: set[Path] = set()
        for kind, path in parsed:
            if kind == "eager":
                eager.add(path)
            elif kind == "lazy":
                lazy.add(path)
        return Loading(frozenset(eager), frozenset(lazy))

    def _loader(
        self, expr: cst.BaseExpression, scope: Scope, depth: int
    ) -> list[tuple[str, Path]] | None:
        """The (effect, path) pairs of a loader option chain, None when unreadable."""
        if not isinstance(expr, cst.Call) or depth > 8:
            return None
        func = expr.func
        prefix: Path = ()
        out: list[tuple[str, Path]] = []
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call):
            inner = self._loader(func.value, scope, depth + 1)
            if inner is None:
                return None
            out = inner
            prefix = inner[-1][1] if inner else ()
            method = func.attr.value
        else:
            name = self.ctx.qualified_name(func, scope)
            if name is None or not name.startswith(_LOADER_MODULES):
                return None
            method = name.rsplit(".", 1)[1]
        kind = _loader_kind(method)
        if kind is None:
            return None
        if kind == "column" or method == "Load":
            out.append(("path", prefix))
            return out
        steps: list[str] = []
        for arg in expr.args:
            if arg.keyword is not None:
                continue
            found = _path_step(arg.value)
            if found is None:
                return None
            steps.extend(found)
        if not steps:
            return None
        path = (*prefix, *steps)
        out.append((kind, path))
        return out


def _path_step(expr: cst.BaseExpression) -> list[str] | None:
    """`User.addresses`, `User.addresses.of_type(X)`, `"addresses"`, `"a.b"`, `"*"`."""
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        if expr.func.attr.value in ("of_type", "and_"):
            return _path_step(expr.func.value)
        return None
    if isinstance(expr, cst.Attribute):
        return [expr.attr.value]
    if isinstance(expr, cst.SimpleString):
        text = expr.evaluated_value
        if isinstance(text, str) and text:
            return text.split(".")
    return None


def queries(ctx: FileContext) -> Queries:
    """The file's query analysis, shared by every rule that asks."""
    found = ctx.cache.get(("sqlalchemy.queries", 0))
    if found is None:
        found = Queries(ctx)
        ctx.cache[("sqlalchemy.queries", 0)] = found
    assert isinstance(found, Queries)
    return found


def first_lazy_step(
    models: SQLAlchemyModels, model: MappedClass, loading: Loading, steps: Sequence[str]
) -> tuple[int, Relationship] | None:
    """The first relationship of an attribute chain (`user.tenant.theme`) that
    a read would lazy-load: (number of steps up to it, the relationship)."""
    current: MappedClass | None = model
    for i, step in enumerate(steps):
        rel = current.relationship(step) if current is not None else None
        if rel is None:
            return None
        covered = loading.covers(tuple(steps[: i + 1]))
        if covered is None:
            if rel.strategy == "lazy":
                return i + 1, rel
            if rel.strategy == "other":
                return None
        elif covered is False:
            return i + 1, rel
        current = models.resolve(rel.target)
    return None


# --------------------------------------------------------------------------
# Sessions created in code.

# Classes whose instances are sessions (not engines or connections).
SESSION_CLASSES = frozenset(
    {
        "sqlalchemy.orm.Session",
        "sqlalchemy.orm.session.Session",
        "sqlmodel.Session",
        "sqlmodel.orm.session.Session",
        "sqlalchemy.ext.asyncio.AsyncSession",
        "sqlalchemy.ext.asyncio.session.AsyncSession",
        "sqlmodel.ext.asyncio.session.AsyncSession",
    }
)
# Top-level packages of the ORMs this module knows.
ORM_PACKAGES = frozenset({"sqlalchemy", "sqlmodel", "flask_sqlalchemy"})
CONTEXT_MANAGER_DECORATORS = frozenset(
    {"contextlib.contextmanager", "contextlib.asynccontextmanager"}
)


def new_session(ctx: FileContext, call: cst.Call, scope: Scope) -> Kind | None:
    """The kind of session a call creates: a session class (`Session(engine)`),
    a session factory (`SessionLocal()` with `SessionLocal = sessionmaker()`),
    or a project context manager that yields one; None for anything else."""
    name = ctx.qualified_name(call.func, scope)
    if name is not None:
        name = ctx.index.canonical(name)
        if name in SESSION_CLASSES:
            return _class_kind(name)
        fn = ctx.index.find_function(name)
        if fn is not None:
            decorators = {ctx.index.canonical(dotted(d) or "") for d in fn.decorators}
            if decorators & CONTEXT_MANAGER_DECORATORS:
                return dependency_kind(ctx.index, name) or _yielded_class_kind(ctx.index, fn)
            return None
    return _factory_kind(ctx, call.func, scope, 0)


# Return annotations of generators: their first argument is what is yielded.
GENERATOR_TYPES = frozenset(
    f"{module}.{name}"
    for module in ("typing", "collections.abc")
    for name in ("Iterator", "Generator", "AsyncIterator", "AsyncGenerator")
)


def _yielded_class_kind(index: ProjectIndex, fn: FunctionFacts) -> Kind | None:
    """A context manager declared to yield a session (`-> AsyncGenerator[AsyncSession,
    None]`, `-> Iterator[Session]`), when its body hands on one backlint cannot
    follow (`async with other_package.session_scope() as session: yield session`)."""
    returns = fn.returns
    if not isinstance(returns, Subscript) or not returns.index:
        return None
    if index.canonical(dotted(returns.value) or "") not in GENERATOR_TYPES:
        return None
    yielded = index.canonical(dotted(returns.index[0]) or "")
    return _class_kind(yielded) if yielded in SESSION_CLASSES else None


# Session methods that issue a query (RULES.md BKL206); unit-of-work calls
# (`add`, `commit`, `refresh`, `delete`, `rollback`) do not count.
QUERY_METHODS = frozenset(
    {"query", "execute", "scalars", "scalar", "get", "get_one", "exec", "stream", "stream_scalars"}
)


def issues_query(ctx: FileContext, call: cst.Call, scope: Scope, awaited: bool) -> bool:
    """`db.query(...)`, `session.execute(select(...))`, `await session.get(M, id)`:
    a query run on a session (known from its origin, or from the statement)."""
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value not in QUERY_METHODS:
        return False
    method, receiver = func.attr.value, func.value
    if session_kind(ctx, receiver, scope) is not None:
        return True
    return queries(ctx).session_call(method, receiver, call.args, scope, awaited) is not None


def is_session_value(index: ProjectIndex, value: Value | None, depth: int = 0) -> bool:
    """A summarised value that is a session (not an engine or connection):
    `Session(engine)`, `SessionLocal()`, `async_session()`, awaited or not."""
    if value is None or depth > _DEPTH:
        return False
    if isinstance(value, Await):
        return is_session_value(index, value.value, depth + 1)
    if isinstance(value, Ref):
        found = index.lookup(value.name)
        return isinstance(found, Call | Await) and is_session_value(index, found, depth + 1)
    if not isinstance(value, Call):
        return False
    name = index.canonical(dotted(value.func) or "")
    if name in SESSION_CLASSES:
        return True
    return factory_value_kind(index, value.func, depth + 1) is not None


def yields_session(index: ProjectIndex, qualname: str) -> bool:
    """A generator dependency (`get_db`) that yields a session: FastAPI closes
    it, by running the code after `yield`, when the response is sent."""
    fn = index.find_function(qualname)
    return fn is not None and bool(fn.yields) and all(is_session_value(index, v) for v in fn.yields)


# --------------------------------------------------------------------------
# Relationship reads on loaded instances.


@dataclass(frozen=True, slots=True)
class Loaded:
    """An instance (or each row of a loop) of a mapped class, and how its
    query loaded relationships."""

    model: MappedClass
    loading: Loading
    is_async: bool


@dataclass(slots=True)
class Reads:
    """What a walk over some code found about names of interest."""

    # (name, attribute nodes from the name outwards, their attribute names)
    chains: list[tuple[str, list[cst.Attribute], list[str]]] = field(default_factory=list)
    # (name, relationship) assigned somewhere (`user.tenant = t`): not read lazily.
    written: set[tuple[str, str]] = field(default_factory=set)
    # name -> attribute names refreshed (`await session.refresh(user, ["tenant"])`).
    refreshed: dict[str, set[str]] = field(default_factory=dict)
    comprehensions: list[cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp] = field(
        default_factory=list
    )


_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)
_NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


def scan_reads(
    ctx: FileContext, roots: Sequence[cst.CSTNode], names: frozenset[str] | set[str]
) -> Reads:
    """Attribute chains rooted at `names` in `roots` (nested defs, lambdas and
    classes excluded), with writes, refreshes and comprehensions on the way."""
    reads = Reads()
    written_ids: set[int] = set()
    attributes: list[cst.Attribute] = []
    for root in roots:
        nodes = [root, *descendants(root, prune=_NESTED_SCOPES, parents=ctx.parents)]
        for node in nodes:
            if isinstance(node, cst.Attribute):
                attributes.append(node)
            elif isinstance(node, cst.AssignTarget | cst.AugAssign | cst.AnnAssign | cst.Del):
                written_ids.add(id(node.target))
            elif isinstance(node, cst.Call):
                _note_refresh(node, names, reads)
            elif isinstance(node, _COMPREHENSIONS):
                reads.comprehensions.append(node)
    inner = {id(a.value) for a in attributes if isinstance(a.value, cst.Attribute)}
    for attribute in attributes:
        if id(attribute) in inner:
            continue
        chain: list[cst.Attribute] = []
        current: cst.BaseExpression = attribute
        while isinstance(current, cst.Attribute):
            chain.append(current)
            current = current.value
        if not isinstance(current, cst.Name) or current.value not in names:
            continue
        chain.reverse()
        steps = [a.attr.value for a in chain]
        if id(attribute) in written_ids:  # `x.a.b = v` reads `x.a`, writes `b`
            if len(steps) == 1:
                reads.written.add((current.value, steps[0]))
            chain, steps = chain[:-1], steps[:-1]
        if steps:
            reads.chains.append((current.value, chain, steps))
    return reads


def _note_refresh(call: cst.Call, names: frozenset[str] | set[str], reads: Reads) -> None:
    func = call.func
    if not (isinstance(func, cst.Attribute) and func.attr.value == "refresh" and call.args):
        return
    target = call.args[0].value
    if not isinstance(target, cst.Name) or target.value not in names:
        return
    listed: cst.BaseExpression | None = None
    for i, arg in enumerate(call.args):
        if (arg.keyword is None and i == 1) or (
            arg.keyword is not None and arg.keyword.value == "attribute_names"
        ):
            listed = arg.value
    if isinstance(listed, cst.List | cst.Tuple | cst.Set):
        for element in listed.elements:
            if isinstance(element.value, cst.SimpleString):
                text = element.value.evaluated_value
                if isinstance(text, str):
                    reads.refreshed.setdefault(target.value, set()).add(text)


def lazy_chains(
    ctx: FileContext, reads: Reads, variables: dict[str, Loaded]
) -> Iterator[tuple[str, cst.Attribute, str, Relationship]]:
    """The chains of `reads` that lazy-load a relationship: (name, the attribute
    node that loads, the dotted path read, the relationship)."""
    models = ctx.index.view(sqlalchemy_models)
    for name, nodes, steps in reads.chains:
        loaded = variables.get(name)
        if loaded is None or (name, steps[0]) in reads.written:
            continue
        loading = loaded.loading
        refreshed = reads.refreshed.get(name)
        if refreshed:
            loading = loading.union(Loading(frozenset((r,) for r in refreshed)))
        found = first_lazy_step(models, loaded.model, loading, steps)
        if found is not None:
            depth, rel = found
            yield name, nodes[depth - 1], ".".join([name, *steps[:depth]]), rel


def loop_rows(
    ctx: FileContext,
    target: cst.BaseExpression,
    iterable: cst.BaseExpression,
    scope: Scope,
    outer: dict[str, Loaded],
) -> tuple[str, Loaded] | None:
    """`for user in <rows of User>` (or `enumerate(...)`, or a relationship
    collection of an outer loop's row): the loop variable and its rows."""
    var = target
    if (
        isinstance(iterable, cst.Call)
        and ctx.qualified_name(iterable.func, scope) == "builtins.enumerate"
        and iterable.args
        and isinstance(target, cst.Tuple)
        and len(target.elements) == 2
    ):
        iterable, var = iterable.args[0].value, target.elements[1].value
    if not isinstance(var, cst.Name):
        return None
    if isinstance(iterable, cst.Await):
        iterable = iterable.expression
    if (
        isinstance(iterable, cst.Attribute)
        and isinstance(iterable.value, cst.Name)
        and iterable.value.value in outer
    ):
        parent = outer[iterable.value.value]
        rel = parent.model.relationship(iterable.attr.value)
        models = ctx.index.view(sqlalchemy_models)
        target_model = models.resolve(rel.target) if rel is not None else None
        if target_model is None:
            return None
        return var.value, Loaded(
            target_model, parent.loading.narrowed(iterable.attr.value), parent.is_async
        )
    value = queries(ctx).value(iterable, scope)
    if value is None or not value.rows or value.model is None:
        return None
    return var.value, Loaded(value.model, value.loading, value.is_async)


def loaded_instance(
    ctx: FileContext, name: str, scope: Scope, outer: dict[str, Loaded] | None = None
) -> Loaded | None:
    """A name every binding of which (in `scope`) is a loaded instance, or a
    loop over loaded rows (or over a relationship of the `outer` names), of
    one mapped class."""
    owner, bindings = ctx.bindings(name, scope)
    if owner is not scope or not bindings:
        return None
    found: list[Loaded] = []
    for binding in bindings:
        if isinstance(binding, Assigned) and binding.value is not None:
            value = queries(ctx).value(binding.value, scope)
            if value is None or not value.instance or value.model is None:
                return None
            found.append(Loaded(value.model, value.loading, value.is_async))
        elif isinstance(binding, LoopTarget) and binding.whole_target:
            loop = loop_rows(ctx, binding.loop.target, binding.loop.iter, scope, outer or {})
            if loop is None:
                return None
            found.append(loop[1])
        else:
            return None
    first = found[0]
    if any(f.model is not first.model for f in found):
        return None
    loading = first.loading
    for f in found[1:]:
        loading = loading.union(f.loading)
    return Loaded(first.model, loading, any(f.is_async for f in found))


def owner_name(ctx: FileContext, loaded: Loaded, expr: str) -> str:
    """The class declaring the relationship read last in `expr` (`user.team.company`)."""
    models = ctx.index.view(sqlalchemy_models)
    current = loaded.model
    for step in expr.split(".")[1:-1]:
        rel = current.relationship(step)
        target = models.resolve(rel.target) if rel is not None else None
        if target is None:
            break
        current = target
    return current.name


# --------------------------------------------------------------------------
# Queries summarised in the index: what a repository method returns.

# Result methods that hand the rows on (`result.scalars()`, `.unique()`).
_RESULT_PASS = frozenset({"scalars", "unique", "mappings", "yield_per"})


def returns_all_rows(index: ProjectIndex, fn: FunctionFacts) -> bool:
    """Every value the function returns is every row of a statement:
    `(await session.execute(select(M))).scalars().all()`, `db.query(M).all()`,
    with no limit/offset/slice applied (a repository's `get_all`)."""
    return bool(fn.returned) and all(_all_rows(index, v) for v in fn.returned)


def _all_rows(index: ProjectIndex, value: Value) -> bool:
    if isinstance(value, Await):
        value = value.value
    if not (
        isinstance(value, Call)
        and isinstance(value.func, Attr)
        and value.func.attr in ("all", "fetchall")
    ):
        return False
    current: Value = value.func.value
    for _ in range(_DEPTH * 2):
        if isinstance(current, Await):
            current = current.value
            continue
        if not (isinstance(current, Call) and isinstance(current.func, Attr)):
            return False
        func: Attr = current.func
        method = func.attr
        if method in _RESULT_PASS and not current.args:
            current = func.value
        elif method in ("execute", "scalars", "exec") and current.args:
            return _unbounded_statement(index, current.args[0])
        elif method == "query" and current.args:
            return True
        elif method in STATEMENT_CHAIN or method == "options":
            current = func.value
        else:
            return False  # a limit, or something backlint does not follow
    return False


def _unbounded_statement(index: ProjectIndex, value: Value) -> bool:
    for _ in range(_DEPTH * 2):
        if not isinstance(value, Call):
            return False
        func = value.func
        if isinstance(func, Attr) and (func.attr in STATEMENT_CHAIN or func.attr == "options"):
            value = func.value
            continue
        return index.canonical(dotted(func) or "") in SELECT_FUNCS
    return False


def find_method(index: ProjectIndex, class_name: str, method: str) -> FunctionFacts | None:
    """A method of a project class or of its project bases."""
    for cls in index.ancestors(class_name):
        found = cls.method(method)
        if found is not None:
            return found
    return None
