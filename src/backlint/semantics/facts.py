"""Cross-file facts: small, picklable summaries of what each module defines.

The project index is built from these. They are extracted with `ast` (ten times
faster to parse than LibCST, and nothing here needs whitespace), with every
name resolved through the module's imports, so that framework semantics can
interpret them later without the source: a model's fields, a serializer's
nested fields, a dependency's yielded session, a settings dict.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from backlint.semantics.names import BUILTIN_NAMES, Bindings, import_bindings, resolve_relative

_T = TypeVar("_T")


def _pickles_by_constructor(cls: type[_T]) -> type[_T]:
    """Pickle as `cls(*fields)`: a frozen slotted dataclass otherwise unpickles
    through a Python-level `__setstate__`, and the index holds hundreds of
    thousands of these, sent from every worker to the parent (1.6x faster)."""
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

    def __reduce__(self: Any) -> tuple[type[_T], tuple[Any, ...]]:
        return cls, tuple(getattr(self, name) for name in names)

    cls.__reduce__ = __reduce__  # type: ignore[method-assign]
    return cls


# ---------------------------------------------------------------------------
# Value summaries: an expression reduced to what cross-file semantics needs.


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class Ref:
    """A name resolved to a qualified name (`django.db.models.ForeignKey`)."""

    name: str


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class Local:
    """A name bound in the enclosing function that could not be followed."""

    name: str


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class Attr:
    value: Value
    attr: str


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class Call:
    func: Value
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()

    def kwarg(self, name: str) -> Value | None:
        for key, value in self.kwargs:
            if key == name:
                return value
        return None


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class Const:
    """A literal: str, bytes, int, float, bool or None."""

    value: str | bytes | int | float | bool | None


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class Seq:
    """A list, tuple or set display."""

    items: tuple[Value, ...]


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class Mapping:
    """A dict display with its literal-keyed items."""

    items: tuple[tuple[Value, Value], ...]

    def get(self, key: str) -> Value | None:
        for k, v in self.items:
            if isinstance(k, Const) and k.value == key:
                return v
        return None


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class Subscript:
    value: Value
    index: tuple[Value, ...]


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class Await:
    value: Value


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class Comp:
    """A comprehension with one `for` (`f"ai_{c}" for c in CATEGORIES`): the
    iterable it ranges over, which bounds how many items it makes."""

    iter: Value


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class Unknown:
    pass


Value = Ref | Local | Attr | Call | Const | Seq | Mapping | Subscript | Await | Comp | Unknown
UNKNOWN = Unknown()

# Method names whose calls, as statements anywhere in a module, are kept in
# `ModuleFacts.calls` (`app.include_router(...)`, `post_save.connect(...)`).
# Semantics modules add the names they need when they are imported.
CALLS_OF_INTEREST: set[str] = set()


def dotted(value: Value) -> str | None:
    """The qualified name of a Ref/Attr chain (`pkg.mod.Class.attr`)."""
    parts: list[str] = []
    while isinstance(value, Attr):
        parts.append(value.attr)
        value = value.value
    if not isinstance(value, Ref):
        return None
    parts.append(value.name)
    return ".".join(reversed(parts))


def const_str(value: Value | None) -> str | None:
    if isinstance(value, Const) and isinstance(value.value, str):
        return value.value
    return None


# ---------------------------------------------------------------------------
# What a module defines.


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class FunctionFacts:
    name: str
    is_async: bool
    decorators: tuple[Value, ...]
    params: tuple[tuple[str, Value | None, Value | None], ...]  # name, annotation, default
    returns: Value | None  # the return annotation
    yields: tuple[Value, ...]  # values yielded, locals followed
    returned: tuple[Value, ...]  # values returned, locals followed
    line: int
    # Attribute chains the body reads from its first two positional parameters
    # (`self`, and the instance of a serializer's `get_<field>(self, obj)`), as
    # (position, "author.company.name"): calls are looked through
    # (`obj.items.all().count()` is "items.all.count"), names bound to a chain
    # (`author = obj.author`, `for item in obj.items.all()`) followed, and only
    # the longest chains kept. Filled only for methods of classes that look like
    # DRF serializers (`_wants_param_reads`), the one place it is read: walking
    # every function body of a project would cost the index pass a second walk.
    param_reads: tuple[tuple[int, str], ...] = ()
    # What the body raises itself (`raise ImproperlyConfigured(...)`), locals
    # followed: tells an exception class the project raises with its own text.
    raised: tuple[Value, ...] = ()
    # What a short, plain helper calls (`_plain_calls`): None unless the body
    # is sync, short, awaits, enters and yields nothing, and calls only
    # builtins (not `IMPURE_BUILTINS`), `DATA_METHODS` of its own values and
    # functions by name; then the qualified names of those functions, sorted
    # (builtins left out, so that adding a `len()` changes no fact). Tells a
    # helper that only handles data it was given (BKL701).
    plain_calls: tuple[str, ...] | None = None
    # The row lock the body takes before anything else (`_first_lock`): the
    # queryset chain of its first statement when that statement evaluates a
    # chain calling `select_for_update()` (a loop over it, or `get()`,
    # `first()`... at its end) whose arguments call nothing, so that no other
    # query runs first; with the context managers of the `with` blocks the
    # statement is the first of (`with transaction.atomic():`), outermost
    # first. None otherwise. Tells a Celery task that waits for the rows it
    # locks to be committed before it reads (BKL902).
    first_lock: tuple[Value, tuple[Value, ...]] | None = None
    # Some value the function returns is what a callable resolved at run time
    # returned (`_relays_runtime_call`): code loaded by the program itself,
    # which no annotation of the project describes (BKL201).
    relays_runtime_call: bool = False
    # How the collection the function returns grows (`_grows_over`): when
    # every `return` returns one local name, bound once to an empty list, set
    # or dict and only ever grown one item at a time (`out.append(x)`,
    # `out.add(x)`, `out[k] = v`, each a statement of the body, not in a
    # `while` loop), per such statement the iterables of the `for` loops
    # around it, outermost first, parameters as `Local` (a parameter the body
    # rebinds, and every other name the body binds, is UNKNOWN). None
    # otherwise. The returned collection has at most as many items as those
    # loops run (BKL302: a list a helper builds from a choice set).
    grows_over: tuple[tuple[Value, ...], ...] | None = None
    # The `self.<relation>...` chains a method of a class that looks like a
    # Django model (`_wants_self_loads`) uses as objects (`_self_loads`), `self.`
    # left out, sorted: read for an attribute other than `id`/`pk`
    # (`self.exercise.exercise_base.setting_set` gives "exercise",
    # "exercise.exercise_base", ...), or used whole (passed, tested,
    # compared); not assignment targets. Calling the method loads those
    # related objects on the instance it is called on (BKL306).
    self_loads: tuple[str, ...] = ()


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class ClassFacts:
    name: str
    qualname: str
    bases: tuple[Value, ...]
    keywords: tuple[tuple[str, Value], ...]
    decorators: tuple[Value, ...]
    attributes: tuple[tuple[str, Value], ...]  # class-level `name = value` / `name: T = value`
    annotations: tuple[tuple[str, Value], ...]  # class-level `name: T` (with or without value)
    methods: Sequence[FunctionFacts]  # a tuple, or the cache's `LazyMethods`
    inner: tuple[ClassFacts, ...]  # nested classes (Meta, Config)
    line: int

    def attribute(self, name: str) -> Value | None:
        for key, value in self.attributes:
            if key == name:
                return value
        return None

    def method(self, name: str) -> FunctionFacts | None:
        for method in self.methods:
            if method.name == name:
                return method
        return None

    def inner_class(self, name: str) -> ClassFacts | None:
        for cls in self.inner:
            if cls.name == name:
                return cls
        return None


@_pickles_by_constructor
@dataclass(frozen=True, slots=True)
class ModuleFacts:
    """Everything the index keeps of one module."""

    module: str
    path: str
    is_package: bool
    imports: dict[str, str] = field(default_factory=dict)  # local name -> qualified
    imported_packages: frozenset[str] = frozenset()  # top-level packages imported anywhere
    classes: dict[str, ClassFacts] = field(default_factory=dict)
    functions: dict[str, FunctionFacts] = field(default_factory=dict)
    assignments: dict[str, Value] = field(default_factory=dict)
    calls: tuple[Call, ...] = ()  # statement calls of `CALLS_OF_INTEREST` methods
    # Module-level `NAME[key] = value` and `NAME.update({key: value})`, as
    # (name, key, value) in source order: settings modules amend dicts such as
    # REST_FRAMEWORK this way. The key is UNKNOWN when it is not a literal (or
    # `update()` gets something other than a dict display or keywords).
    item_assignments: tuple[tuple[str, Value, Value], ...] = ()
    # Module-level values `assignments` does not keep: those of `name = ...`
    # later rebound, and of `name += ...` (`urlpatterns += [...]`).
    rebinds: tuple[tuple[str, Value], ...] = ()
    # Functions the module calls to serve an in-memory SQLite database (see
    # `_in_memory_calls`), by qualified name: kept for modules that import
    # SQLAlchemy or SQLModel, empty elsewhere.
    in_memory_calls: tuple[str, ...] = ()
    # Every `<queryset>.prefetch_related(...)` call of the module, whole (its
    # receiver chain tells the model when it can be told), and every
    # `prefetch_related_objects(rows, *lookups)` call, anywhere (function
    # bodies, class attributes), names bound once in the function followed
    # (`prefetch = Prefetch("bundles", ...)`, then `prefetch_related(prefetch)`);
    # see `_prefetch_calls`. Tells the relations the project prefetches (BKL301).
    prefetch_calls: tuple[Call, ...] = ()
    # Modules the module imports everything of (`from .base import *`, in
    # order), qualified: a package `__init__` that re-exports its submodules
    # this way (arches' `views/api/__init__.py`). `ProjectIndex.canonical`
    # follows them.
    star_imports: tuple[str, ...] = ()
    # Comparisons of an attribute named like a credential with a string
    # literal anywhere in the module (`settings.API_KEY != "PLACEHOLDER"`,
    # `"fillmein" == cfg.aes_secret_key`), as (attribute, literal), sorted:
    # the code treats that literal as "not configured" (BKL602).
    sentinels: tuple[tuple[str, str], ...] = ()
    # Module-level classes whose `clean()` counts attempts in Django's cache
    # and refuses past a threshold (see `_cache_counters`), sorted: a login
    # form that limits its own rate, as pretalx's `UserForm` (BKL608).
    cache_counters: tuple[str, ...] = ()


# ---------------------------------------------------------------------------
# The ast summariser.


class _Summariser:
    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.scope = Bindings()
        self.packages: set[str] = set()
        self.calls: list[Call] = []
        # A call named like a `_RUNTIME_HINTS` function was summarised in the
        # function being summarised: only then is `_relays_runtime_call` run.
        self.runtime_hint = False

    def note_call(self, stmt: ast.stmt, local: dict[str, Value] | None = None) -> None:
        """Keep `x.include_router(...)`-like statement calls (see CALLS_OF_INTEREST)."""
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            func = stmt.value.func
            if isinstance(func, ast.Attribute) and func.attr in CALLS_OF_INTEREST:
                value = self.value(stmt.value, local)
                if isinstance(value, Call):
                    self.calls.append(value)

    # Names -----------------------------------------------------------------

    def imports_of(self, node: ast.Import | ast.ImportFrom) -> list[tuple[str, str]]:
        raw: list[tuple[int, str | None, str, str | None]]
        if isinstance(node, ast.Import):
            raw = [(0, None, a.name, a.asname) for a in node.names]
        else:
            raw = [(node.level, node.module, a.name, a.asname) for a in node.names]
        pairs = list(import_bindings(self.module, self.is_package, raw))
        for _, qualified in pairs:
            self.packages.add(qualified.split(".", 1)[0])
        return pairs

    def name(self, name: str, local: dict[str, Value] | None) -> Value:
        if local is not None and name in local:
            return local[name]
        if name in self.scope.imports:
            return Ref(self.scope.imports[name])
        if name in self.scope.local:
            return Ref(f"{self.module}.{name}")
        if name in BUILTIN_NAMES:
            return Ref(f"builtins.{name}")
        return Local(name) if local is not None else UNKNOWN

    # Expressions -----------------------------------------------------------

    def value(self, node: ast.expr | None, local: dict[str, Value] | None = None) -> Value:
        if node is None:
            return UNKNOWN
        if isinstance(node, ast.Name):
            return self.name(node.id, local)
        if isinstance(node, ast.Attribute):
            return Attr(self.value(node.value, local), node.attr)
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr in _RUNTIME_HINTS) or (
                isinstance(func, ast.Name) and func.id in _RUNTIME_HINTS
            ):
                self.runtime_hint = True
            return Call(
                self.value(node.func, local),
                tuple(self.value(a, local) for a in node.args),
                tuple((k.arg, self.value(k.value, local)) for k in node.keywords if k.arg),
            )
        if isinstance(node, ast.Constant):
            v = node.value
            if v is None or isinstance(v, (str, bytes, int, float, bool)):
                return Const(v)
            return UNKNOWN
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return Seq(tuple(self.value(e, local) for e in node.elts))
        if isinstance(node, ast.Dict):
            return Mapping(
                tuple(
                    (self.value(k, local), self.value(v, local))
                    for k, v in zip(node.keys, node.values, strict=True)
                    if k is not None
                )
            )
        if isinstance(node, ast.Subscript):
            index = node.slice
            items = index.elts if isinstance(index, ast.Tuple) else [index]
            return Subscript(
                self.value(node.value, local), tuple(self.value(i, local) for i in items)
            )
        if isinstance(node, ast.Await):
            return Await(self.value(node.value, local))
        if (
            isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp))
            and len(node.generators) == 1
        ):
            # The first iterable is evaluated in the enclosing scope.
            return Comp(self.value(node.generators[0].iter, local))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd):
            # `Q(task=t) & Q(done=False)`: what Python calls, `operator.and_(a, b)`.
            left, right = self.value(node.left, local), self.value(node.right, local)
            return Call(Ref("operator.and_"), (left, right))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            # `X | None` annotations: keep the non-None side.
            left, right = self.value(node.left, local), self.value(node.right, local)
            return left if right == Const(None) else right if left == Const(None) else UNKNOWN
        return UNKNOWN

    # Statements ------------------------------------------------------------

    def function(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef,
        param_reads: bool = False,
        method: bool = False,
        self_loads: bool = False,
    ) -> FunctionFacts:
        local: dict[str, Value] = {}
        yields: list[Value] = []
        returned: list[Value] = []
        raised: list[Value] = []
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
        defaults += args.defaults
        params: list[tuple[str, Value | None, Value | None]] = [
            (
                a.arg,
                self.value(a.annotation) if a.annotation else None,
                self.value(d) if d is not None else None,
            )
            for a, d in zip(positional, defaults, strict=True)
        ]
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            params.append(
                (
                    a.arg,
                    self.value(a.annotation) if a.annotation else None,
                    self.value(d) if d else None,
                )
            )
        for name, _, _ in params:
            local[name] = Local(name)
        self.runtime_hint = False
        self._body(node.body, local, yields, returned, raised)
        runtime_hint = self.runtime_hint
        return FunctionFacts(
            name=node.name,
            is_async=isinstance(node, ast.AsyncFunctionDef),
            decorators=tuple(self.value(d) for d in node.decorator_list),
            params=tuple(params),
            returns=self.value(node.returns) if node.returns else None,
            yields=tuple(yields),
            returned=tuple(returned),
            line=node.lineno,
            param_reads=_param_reads(node, [name for name, _, _ in params[:2]])
            if param_reads
            else (),
            raised=tuple(raised),
            plain_calls=None
            if isinstance(node, ast.AsyncFunctionDef) or (method and not _is_static(node))
            else _plain_calls(self, node),
            first_lock=_first_lock(self, node, {name: Local(name) for name, _, _ in params}),
            relays_runtime_call=runtime_hint and _relays_runtime_call(self, node, local),
            # BKL302 follows only plain calls (a method would shift its
            # arguments), so methods other than static ones need no reading.
            grows_over=None
            if isinstance(node, ast.AsyncFunctionDef) or (method and not _is_static(node))
            else _grows_over(self, node, returned),
            self_loads=_self_loads(node) if self_loads else (),
        )

    def _body(
        self,
        body: list[ast.stmt],
        local: dict[str, Value],
        yields: list[Value],
        returned: list[Value],
        raised: list[Value],
    ) -> None:
        """Follow simple local assignments, then record yielded and returned values."""
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                local[stmt.name] = Local(stmt.name)
                continue
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for name, qualified in self.imports_of(stmt):
                    local[name] = Ref(qualified)
                continue
            if isinstance(stmt, ast.Assign):
                value = self.value(stmt.value, local)
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        local[target.id] = value
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                local[stmt.target.id] = self.value(stmt.value, local) if stmt.value else UNKNOWN
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                for item in stmt.items:
                    if isinstance(item.optional_vars, ast.Name):
                        local[item.optional_vars.id] = self.value(item.context_expr, local)
            elif isinstance(stmt, ast.Return) and stmt.value is not None:
                returned.append(self.value(stmt.value, local))
            elif isinstance(stmt, ast.Raise) and stmt.exc is not None:
                raised.append(self.value(stmt.exc, local))
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                self.note_call(stmt, local)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, (ast.Yield, ast.Await)):
                inner = stmt.value.value if isinstance(stmt.value, ast.Await) else stmt.value
                if isinstance(inner, ast.Yield) and inner.value is not None:
                    yields.append(self.value(inner.value, local))
            for child in _sub_bodies(stmt):
                self._body(child, local, yields, returned, raised)

    def cls(self, node: ast.ClassDef, prefix: str) -> ClassFacts:
        attributes: list[tuple[str, Value]] = []
        annotations: list[tuple[str, Value]] = []
        methods: list[FunctionFacts] = []
        inner: list[ClassFacts] = []
        qualname = f"{prefix}.{node.name}"
        reads = _wants_param_reads(node)
        loads = not reads and _wants_self_loads(node)
        for stmt in node.body:
            if isinstance(stmt, ast.Assign):
                value = self.value(stmt.value)
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        attributes.append((target.id, value))
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                annotations.append((stmt.target.id, self.value(stmt.annotation)))
                if stmt.value is not None:
                    attributes.append((stmt.target.id, self.value(stmt.value)))
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                methods.append(self.function(stmt, reads, method=True, self_loads=loads))
            elif isinstance(stmt, ast.ClassDef):
                inner.append(self.cls(stmt, qualname))
        return ClassFacts(
            name=node.name,
            qualname=qualname,
            bases=tuple(self.value(b) for b in node.bases),
            keywords=tuple((k.arg, self.value(k.value)) for k in node.keywords if k.arg),
            decorators=tuple(self.value(d) for d in node.decorator_list),
            attributes=tuple(attributes),
            annotations=tuple(annotations),
            methods=tuple(methods),
            inner=tuple(inner),
            line=node.lineno,
        )


def _sub_bodies(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """Statement lists nested in a compound statement (not in defs or classes)."""
    bodies: list[list[ast.stmt]] = []
    for name in ("body", "orelse", "finalbody"):
        value = getattr(stmt, name, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            bodies.append(value)
    for handler in getattr(stmt, "handlers", ()):
        bodies.append(handler.body)
    for case in getattr(stmt, "cases", ()):
        bodies.append(case.body)
    return bodies


def _module_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Module-level statements, including those under `if`/`try`/`with` blocks."""
    out: list[ast.stmt] = []
    for stmt in body:
        out.append(stmt)
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for sub in _sub_bodies(stmt):
                out.extend(_module_statements(sub))
    return out


def summarise(
    tree: ast.Module, module: str, path: str, is_package: bool, source: str | None = None
) -> ModuleFacts:
    """The facts of one parsed module; `source`, its text, when the caller has
    it (it spares walking every function for what a text search rules out)."""
    s = _Summariser(module, is_package)
    statements = _module_statements(tree.body)
    # First the names the module binds, so that forward references resolve.
    for stmt in statements:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for name, qualified in s.imports_of(stmt):
                s.scope.add_import(name, qualified)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            s.scope.add_local(stmt.name)
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name) and target.id not in s.scope.imports:
                    s.scope.add_local(target.id)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            s.scope.add_local(stmt.target.id)
    classes: dict[str, ClassFacts] = {}
    functions: dict[str, FunctionFacts] = {}
    assignments: dict[str, Value] = {}
    rebinds: list[tuple[str, Value]] = []
    for stmt in statements:
        if isinstance(stmt, ast.ClassDef):
            classes[stmt.name] = s.cls(stmt, module)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions[stmt.name] = s.function(stmt)
        elif isinstance(stmt, ast.Assign):
            value = s.value(stmt.value)
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    if target.id in assignments:
                        rebinds.append((target.id, assignments[target.id]))
                    assignments[target.id] = value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
            assignments[stmt.target.id] = s.value(stmt.value)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            rebinds.append((stmt.target.id, s.value(stmt.value)))
        else:
            s.note_call(stmt)
    return ModuleFacts(
        module=module,
        path=path,
        is_package=is_package,
        imports=dict(s.scope.imports),
        imported_packages=frozenset(s.packages),
        classes=classes,
        functions=functions,
        assignments=assignments,
        calls=tuple(s.calls),
        item_assignments=_item_assignments(s, statements),
        rebinds=tuple(rebinds),
        in_memory_calls=()
        if source is not None and IN_MEMORY_DATABASE not in source
        else _in_memory_calls(s, tree),
        prefetch_calls=()
        if source is not None and _PREFETCH not in source
        else _prefetch_calls(s, tree, source),
        star_imports=_star_imports(module, is_package, statements),
        sentinels=()
        if source is not None and not _SENTINEL_HINT.search(source)
        else _sentinels(tree),
        cache_counters=()
        if source is not None and _COUNTER_HINT not in source
        else _cache_counters(s, statements),
    )


# Django's cache objects: `cache`, and `caches[alias]`.
_DJANGO_CACHE = "django.core.cache.cache"
_DJANGO_CACHES = "django.core.cache.caches"
# A text search that rules a module out before its classes are walked.
_COUNTER_HINT = ".incr("
_THRESHOLD_OPS = (ast.Gt, ast.GtE, ast.Lt, ast.LtE)


def _django_cache_call(s: _Summariser, node: ast.AST, method: str) -> bool:
    """`cache.<method>(...)` or `caches["default"].<method>(...)` of Django."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
    ):
        return False
    receiver = s.value(node.func.value)
    if isinstance(receiver, Subscript):
        return receiver.value == Ref(_DJANGO_CACHES)
    return receiver == Ref(_DJANGO_CACHE)


def _cache_counters(s: _Summariser, statements: list[ast.stmt]) -> tuple[str, ...]:
    """The module's classes whose `clean()` counts in Django's cache and
    refuses past a threshold: its body, or that of a method of the class it
    calls on `self` (`self._clean_login(data)`), calls `cache.incr(key)`
    (a failed attempt counted), and one of them compares a `cache.get(key)`
    with an order operator (`(cache.get(key) or 0) > THRESHOLD`): pretalx's
    login form. Only modules that call `.incr(` are read, and only classes
    that define `clean`."""
    if not any(q in (_DJANGO_CACHE, _DJANGO_CACHES) for q in s.scope.imports.values()):
        return ()
    found: list[str] = []
    for stmt in statements:
        if not isinstance(stmt, ast.ClassDef):
            continue
        methods = {
            m.name: m for m in stmt.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        clean = methods.get("clean")
        if clean is None or not clean.args.args:
            continue
        me = clean.args.args[0].arg
        bodies = [clean]
        for node in ast.walk(clean):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == me
                and node.func.attr in methods
                and methods[node.func.attr] not in bodies
            ):
                bodies.append(methods[node.func.attr])
        counts = refuses = False
        for body in bodies:
            for node in ast.walk(body):
                if _django_cache_call(s, node, "incr"):
                    counts = True
                elif (
                    isinstance(node, ast.Compare)
                    and len(node.ops) == 1
                    and isinstance(node.ops[0], _THRESHOLD_OPS)
                    and any(
                        _django_cache_call(s, sub, "get")
                        for side in (node.left, node.comparators[0])
                        for sub in ast.walk(side)
                    )
                ):
                    refuses = True
        if counts and refuses:
            found.append(stmt.name)
    return tuple(sorted(found))


# Words of an attribute that holds a credential (what `_sentinels` keeps), and
# a text search that rules a module out before its tree is walked.
_CREDENTIAL_WORDS = ("secret", "password", "passwd", "pwd", "passphrase", "token", "key")
_SENTINEL_HINT = re.compile(
    r"(?:"
    + "|".join(_CREDENTIAL_WORDS)
    + r")\w*\s*[!=]=|[!=]=\s*[\w.]*(?:"
    + "|".join(_CREDENTIAL_WORDS)
    + ")",
    re.IGNORECASE,
)


def _sentinels(tree: ast.Module) -> tuple[tuple[str, str], ...]:
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and isinstance(node.ops[0], ast.Eq | ast.NotEq)
        ):
            continue
        left, right = node.left, node.comparators[0]
        if isinstance(right, ast.Attribute):
            left, right = right, left
        if (
            isinstance(left, ast.Attribute)
            and isinstance(right, ast.Constant)
            and isinstance(right.value, str)
            and right.value
            and any(word in left.attr.lower() for word in _CREDENTIAL_WORDS)
        ):
            found.add((left.attr, right.value))
    return tuple(sorted(found))


def _star_imports(module: str, is_package: bool, statements: list[ast.stmt]) -> tuple[str, ...]:
    out: list[str] = []
    for stmt in statements:
        if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
            base = resolve_relative(module, is_package, stmt.level, stmt.module)
            if base is not None and base not in out:
                out.append(base)
    return tuple(out)


# The name SQLite gives a database that lives in memory, for one connection.
IN_MEMORY_DATABASE = ":memory:"
# Packages whose modules open databases (the only ones `_in_memory_calls` reads).
_DATABASE_PACKAGES = frozenset({"sqlalchemy", "sqlmodel"})


def _in_memory_calls(s: _Summariser, tree: ast.Module) -> tuple[str, ...]:
    """The functions called in the body of an `if` whose test names
    `":memory:"` (`if database.startswith(":memory:"): init_memory(engine)`),
    in a module-level function, and what the module's own functions called
    there call in turn (`init_memory` runs `asyncio.run(init_models(engine))`):
    a fresh in-memory database has no schema to migrate."""
    if s.packages.isdisjoint(_DATABASE_PACKAGES):
        return ()
    found: set[str] = set()
    calls: dict[str, set[str]] = {}
    for stmt in tree.body:
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        own: set[str] = set()
        for node in ast.walk(stmt):
            if isinstance(node, ast.If) and _names_in_memory(node.test):
                for sub in node.body:
                    found |= _called(s, sub)
            elif isinstance(node, ast.Call):
                own |= _called(s, node, deep=False)
        calls[f"{s.module}.{stmt.name}"] = own
    pending = list(found)
    while pending:
        for callee in calls.get(pending.pop(), ()):
            if callee not in found:
                found.add(callee)
                pending.append(callee)
    return tuple(sorted(found))


def _names_in_memory(test: ast.expr) -> bool:
    return any(
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and IN_MEMORY_DATABASE in node.value
        for node in ast.walk(test)
    )


# Builtins that reach outside the data they are given (a file, code, the
# terminal): a helper calling one handles more than data. Other builtins
# convert or inspect values.
IMPURE_BUILTINS = frozenset(
    f"builtins.{name}" for name in ("open", "eval", "exec", "compile", "__import__", "input")
)
# Methods of strings, dicts and lists, and of Pydantic models: they handle the
# value they are called on.
DATA_METHODS = frozenset(
    {
        "get", "lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit", "items",
        "keys", "values", "startswith", "endswith", "replace", "format", "encode",
        "decode", "join", "copy", "append", "extend", "pop", "setdefault", "isdigit",
        "isnumeric", "model_dump", "dict", "count", "index", "splitlines", "casefold",
    }
)  # fmt: skip
# A helper longer than this (statements, calls) is not summarised by `_plain_calls`.
_PLAIN_STATEMENTS = 12
_PLAIN_CALLS = 12
_NOT_PLAIN = (
    ast.With, ast.AsyncWith, ast.Await, ast.Yield, ast.YieldFrom, ast.Global,
    ast.Nonlocal, ast.AsyncFor, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
    ast.Lambda,
)  # fmt: skip


def _is_static(node: ast.FunctionDef) -> bool:
    """A `@staticmethod`: the one kind of method a plain helper can be (the
    others call through `self` or `cls`, which `_plain_calls` refuses), and
    reading every method's body was a quarter of summarising a module."""
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)


def _plain_calls(s: _Summariser, node: ast.FunctionDef) -> tuple[str, ...] | None:
    """See `FunctionFacts.plain_calls`."""
    if len(node.body) > _PLAIN_STATEMENTS:
        return None
    statements = 0
    names: set[str] = set()
    calls = 0
    for child in ast.walk(ast.Module(body=node.body, type_ignores=[])):
        if isinstance(child, _NOT_PLAIN):
            return None
        if isinstance(child, ast.stmt):
            statements += 1
            if statements > _PLAIN_STATEMENTS:
                return None
        if not isinstance(child, ast.Call):
            continue
        calls += 1
        if calls > _PLAIN_CALLS:
            return None
        func = child.func
        attrs: list[str] = []
        while isinstance(func, ast.Attribute):
            attrs.append(func.attr)
            func = func.value
        if isinstance(func, ast.Constant) and attrs and attrs[0] in DATA_METHODS:
            continue  # `", ".join(parts)`
        if not isinstance(func, ast.Name):
            return None
        value = s.name(func.id, None)
        if isinstance(value, Ref):  # `len(x)`, `json.loads(x)`, `cache.get(k)`
            called = ".".join([value.name, *reversed(attrs)])
            if called in IMPURE_BUILTINS:
                return None
            if not called.startswith("builtins."):
                names.add(called)
        elif not attrs or attrs[0] not in DATA_METHODS:
            return None  # a call of a local, or a method not known to handle data
    return tuple(sorted(names))


# Queryset methods that run the query of the chain they end (and so take its
# row locks), as `_first_lock` reads them; a loop over the chain does too.
_EVALUATING = frozenset(
    {"get", "first", "last", "earliest", "latest", "exists", "count", "in_bulk"}
)
_LOCK = "select_for_update"


def _first_lock(
    s: _Summariser, node: ast.FunctionDef | ast.AsyncFunctionDef, local: dict[str, Value]
) -> tuple[Value, tuple[Value, ...]] | None:
    """See `FunctionFacts.first_lock`."""
    body = node.body
    entered: list[ast.expr] = []
    while body:
        stmt = body[0]
        if (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        ):
            body = body[1:]  # the docstring
            continue
        if isinstance(stmt, ast.With):
            entered.extend(item.context_expr for item in stmt.items)
            body = stmt.body
            continue
        break
    if not body:
        return None
    stmt = body[0]
    chain: ast.expr | None = None
    if isinstance(stmt, ast.For):
        chain = stmt.iter
    elif isinstance(stmt, (ast.Assign, ast.Expr)) or (
        isinstance(stmt, ast.AnnAssign) and stmt.value is not None
    ):
        value = stmt.value
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr in _EVALUATING
        ):
            chain = value
    if chain is None or not _locking_chain(chain):
        return None
    for item in entered:  # `transaction.atomic()` calls; its arguments must not
        if any(_calls(a) for a in (_arguments(item) if isinstance(item, ast.Call) else [item])):
            return None
    return s.value(chain, local), tuple(s.value(item, local) for item in entered)


def _locking_chain(expr: ast.expr) -> bool:
    """A call chain (`Model.objects.filter(...).select_for_update().get(...)`)
    calling `select_for_update()`, whose arguments call nothing."""
    locks = False
    while True:
        if isinstance(expr, ast.Call):
            if any(_calls(a) for a in _arguments(expr)):
                return False
            if isinstance(expr.func, ast.Attribute) and expr.func.attr == _LOCK:
                locks = True
            expr = expr.func
        elif isinstance(expr, ast.Attribute):
            expr = expr.value
        else:
            return locks and isinstance(expr, ast.Name)


def _arguments(call: ast.Call) -> list[ast.expr]:
    return [*call.args, *(k.value for k in call.keywords)]


def _calls(expr: ast.expr) -> bool:
    return any(isinstance(n, (ast.Call, ast.Await)) for n in ast.walk(expr))


# Calls that make a module object at run time: code the program loads itself
# (a plugin's source, a path from configuration), not a module of the project.
# (`importlib.import_module(path)` is left out: a dotted path from settings
# names the project's or a library's module, a backend the project chose.)
MODULE_LOADERS = frozenset(
    {
        "importlib.util.module_from_spec",  # of a spec, usually from a file's location
        "types.ModuleType",  # an empty module, filled by `exec(source, module.__dict__)`
    }
)
# Functions that read a callable's parameters: code that calls what it had to
# inspect first did not write it (a plugin's hook, called with the keywords its
# signature asks for).
SIGNATURE_READERS = frozenset({"inspect.signature", "inspect.getfullargspec", "inspect.getargspec"})
# The modules those live in: a module importing none of them is not walked.
_RUNTIME_CALL_MODULES = frozenset({"importlib", "types", "inspect"})
# Their last names: a function is walked only when the summary of its
# assignments and returns met a call so named (`sig = inspect.signature(f)`,
# `module = types.ModuleType(name)`), which keeps the second walk off nearly
# every function of a project.
_RUNTIME_HINTS = frozenset(name.rpartition(".")[2] for name in MODULE_LOADERS | SIGNATURE_READERS)


def _relays_runtime_call(
    s: _Summariser, node: ast.FunctionDef | ast.AsyncFunctionDef, local: dict[str, Value]
) -> bool:
    """See `FunctionFacts.relays_runtime_call`: some `return` gives back (as a
    call, or a name assigned one anywhere in the body) the result of calling
    a callable the code resolves at run time:
    - an attribute of a module object made at run time (`MODULE_LOADERS`:
      `types.ModuleType(...)` filled by `exec`,
      `importlib.util.module_from_spec(spec)`), a name bound to one, a
      class of it instantiated (`module.Action()`), or `getattr(module,
      name)` of it;
    - a name the body hands to a `SIGNATURE_READERS` function and that is
      not a project or library name (`action = plugin.action`,
      `inspect.signature(action)`, `action(**params)`).
    Only run when the loader or the signature reader is called in an
    assignment or a `return` (`runtime_hint`): one used only in an `if`
    test is not seen (a missed exemption, never a wrong one)."""
    if not s.packages & _RUNTIME_CALL_MODULES:
        return False
    walked = list(_walk_scope(node.body))
    args = node.args
    params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    inspected: set[str] = set()
    modules: set[str] = set()
    assigns: list[tuple[str, ast.expr]] = []
    for child in walked:
        if isinstance(child, ast.Call) and child.args and isinstance(child.args[0], ast.Name):
            if _call_name(s, child, local) in SIGNATURE_READERS:
                inspected.add(child.args[0].id)
        elif isinstance(child, ast.Assign | ast.AnnAssign) and child.value is not None:
            targets = child.targets if isinstance(child, ast.Assign) else [child.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    assigns.append((target.id, child.value))

    def module_object(expr: ast.expr) -> bool:
        """A module made at run time, a name bound to one, or an instance of
        one of its classes."""
        if isinstance(expr, ast.Name):
            return expr.id in modules
        if not isinstance(expr, ast.Call):
            return False
        if _call_name(s, expr, local) in MODULE_LOADERS:
            return True
        # `module.Action()`
        return isinstance(expr.func, ast.Attribute) and module_object(expr.func.value)

    def runtime_callable(expr: ast.expr) -> bool:
        if isinstance(expr, ast.Attribute):
            return module_object(expr.value)
        if isinstance(expr, ast.Call) and _call_name(s, expr, local) == "builtins.getattr":
            return bool(expr.args) and module_object(expr.args[0])
        if isinstance(expr, ast.Name):
            # Not a parameter (the caller's callable is the caller's to know),
            # nor a name of the project or a library.
            return expr.id in callables or (
                expr.id in inspected
                and expr.id not in params
                and dotted(s.name(expr.id, local)) is None
            )
        return False

    def runtime_result(expr: ast.expr) -> bool:
        if isinstance(expr, ast.Await):
            expr = expr.value
        if isinstance(expr, ast.Name):
            return expr.id in results
        return isinstance(expr, ast.Call) and runtime_callable(expr.func)

    # Names bound to modules, callables of them and their results, to a fixed
    # point (a chain of assignments, in any order).
    callables: set[str] = set()
    results: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, value in assigns:
            for kind, test in (
                (modules, module_object),
                (callables, runtime_callable),
                (results, runtime_result),
            ):
                if name not in kind and test(value):
                    kind.add(name)
                    changed = True
    return any(
        isinstance(child, ast.Return) and child.value is not None and runtime_result(child.value)
        for child in walked
    )


_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _walk_scope(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of a function body, nested defs, classes and lambdas left out."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        if isinstance(node, _NESTED_SCOPES):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _call_name(s: _Summariser, call: ast.Call, local: dict[str, Value]) -> str | None:
    """The qualified name a call's function resolves to (`inspect.signature`)."""
    return dotted(s.value(call.func, local))


def _called(s: _Summariser, node: ast.AST, deep: bool = True) -> set[str]:
    """Qualified names of the module-level or imported functions called by
    name in `node` (or by the call `node` itself, when not `deep`)."""
    names: set[str] = set()
    for child in ast.walk(node) if deep else (node,):
        func = child.func if isinstance(child, ast.Call) else None
        if isinstance(func, ast.Name):
            value = s.name(func.id, None)
            if isinstance(value, Ref) and not value.name.startswith("builtins."):
                names.add(value.name)
    return names


# ---------------------------------------------------------------------------
# Additional facts: parameter reads of serializer methods, dict item assignments.


def _wants_param_reads(node: ast.ClassDef) -> bool:
    """A class that looks like a DRF serializer: `Serializer` in its name or a
    base's, or a `SerializerMethodField` among its attributes."""
    if "Serializer" in node.name:
        return True
    for base in node.bases:
        name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
        if "Serializer" in name:
            return True
    for stmt in node.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            func = stmt.value.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name.endswith("MethodField"):
                return True
    return False


def _read_chain(node: ast.expr, roots: dict[str, tuple[int, str]]) -> tuple[int, str] | None:
    """(position, "a.b.c") for an attribute chain rooted at a parameter or at a
    name bound to such a chain; calls are looked through."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            break
    if not isinstance(node, ast.Name) or node.id not in roots:
        return None
    position, prefix = roots[node.id]
    path = ".".join([*([prefix] if prefix else []), *reversed(parts)])
    return position, path


def _param_reads(
    node: ast.FunctionDef | ast.AsyncFunctionDef, params: list[str]
) -> tuple[tuple[int, str], ...]:
    roots: dict[str, tuple[int, str]] = {name: (i, "") for i, name in enumerate(params)}
    nodes = list(ast.walk(node))
    # Names bound to a chain: `author = obj.author`, `for line in obj.lines.all()`.
    for _ in range(3):
        changed = False
        for n in nodes:
            target: ast.expr | None = None
            value: ast.expr | None = None
            if isinstance(n, ast.Assign) and len(n.targets) == 1:
                target, value = n.targets[0], n.value
            elif isinstance(n, ast.For | ast.AsyncFor | ast.comprehension):
                target, value = n.target, n.iter
            elif isinstance(n, ast.NamedExpr):
                target, value = n.target, n.value
            if not isinstance(target, ast.Name) or value is None or target.id in roots:
                continue
            chain = _read_chain(value, roots)
            if chain is not None and chain[1]:
                roots[target.id] = chain
                changed = True
        if not changed:
            break
    reads: set[tuple[int, str]] = set()
    for n in nodes:
        if isinstance(n, ast.Attribute):
            chain = _read_chain(n, roots)
            if chain is not None:
                reads.add(chain)
    longest = sorted(reads)
    return tuple(
        read
        for i, read in enumerate(longest)
        if not (
            i + 1 < len(longest)
            and longest[i + 1][0] == read[0]
            and longest[i + 1][1].startswith(read[1] + ".")
        )
    )


def _item_assignments(
    s: _Summariser, statements: list[ast.stmt]
) -> tuple[tuple[str, Value, Value], ...]:
    out: list[tuple[str, Value, Value]] = []
    for stmt in statements:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                    out.append((target.value.id, s.value(target.slice), s.value(stmt.value)))
        elif (
            isinstance(stmt, ast.AugAssign)
            and isinstance(stmt.target, ast.Subscript)
            and isinstance(stmt.target.value, ast.Name)
        ):
            out.append((stmt.target.value.id, s.value(stmt.target.slice), UNKNOWN))
        elif (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute)
            and stmt.value.func.attr == "update"
            and isinstance(stmt.value.func.value, ast.Name)
        ):
            name = stmt.value.func.value.id
            call = stmt.value
            for arg in call.args:
                if isinstance(arg, ast.Dict):
                    for k, v in zip(arg.keys, arg.values, strict=True):
                        out.append((name, s.value(k) if k else UNKNOWN, s.value(v)))
                else:
                    out.append((name, UNKNOWN, UNKNOWN))
            for keyword in call.keywords:
                out.append(
                    (name, Const(keyword.arg) if keyword.arg else UNKNOWN, s.value(keyword.value))
                )
    return tuple(out)


# ---------------------------------------------------------------------------
# How a returned collection grows (`FunctionFacts.grows_over`).

# Empty collections a function starts to fill: `[]`, `{}`, `set()`, `list()`, `dict()`.
_EMPTY_CALLS = frozenset({"builtins.list", "builtins.set", "builtins.dict"})
# Methods adding one item to a list or a set.
_ADD_ONE = frozenset({"append", "add"})
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


def _starts_empty(value: Value) -> bool:
    if isinstance(value, Seq | Mapping):
        return not value.items
    return (
        isinstance(value, Call)
        and not value.args
        and not value.kwargs
        and (dotted(value.func) in _EMPTY_CALLS)
    )


def _grows_over(
    s: _Summariser, node: ast.FunctionDef | ast.AsyncFunctionDef, returned: list[Value]
) -> tuple[tuple[Value, ...], ...] | None:
    """See `FunctionFacts.grows_over`."""
    # Cheap test first: the locals followed make `return out` the empty display.
    if not returned or not all(_starts_empty(v) or isinstance(v, Comp) for v in returned):
        return None
    names: set[str] = set()
    comprehensions: list[ast.expr] = []
    for child in _walk_scope(node.body):
        if isinstance(child, ast.Return):
            value = child.value
            if isinstance(value, ast.Name):
                names.add(value.id)
            elif (
                isinstance(value, _COMPREHENSIONS)
                and len(value.generators) == 1
                and not value.generators[0].is_async
            ):
                comprehensions.append(value.generators[0].iter)
            else:
                return None
        elif isinstance(child, ast.Yield | ast.YieldFrom):
            return None
    if len(names) > 1:
        return None
    collection = next(iter(names), None)
    walked = list(ast.walk(ast.Module(body=node.body, type_ignores=[])))
    args = node.args
    params = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    if args.vararg is not None:
        return None  # a call's positional arguments could not be told apart
    if collection in params:
        return None
    # Names the body binds (a rebound parameter included) are not followed.
    bound = {
        n.id for n in walked if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)
    }
    for n in walked:
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(n.name)
        elif isinstance(n, ast.Import | ast.ImportFrom):
            bound |= {(a.asname or a.name).split(".")[0] for a in n.names}
        elif isinstance(n, ast.arg):
            bound.add(n.arg)  # a lambda's or a nested def's
        elif isinstance(n, ast.Global | ast.Nonlocal):
            return None
    local: dict[str, Value] = dict.fromkeys(bound, UNKNOWN)
    for param in params:
        if param not in bound:
            local[param] = Local(param)
    sites: list[tuple[Value, ...]] = []
    seen: set[int] = set()  # the occurrences of the collection's name accounted for
    binds = 0

    def visit(body: list[ast.stmt], loops: tuple[Value, ...]) -> bool:
        nonlocal binds
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                target = stmt.targets[0] if len(stmt.targets) == 1 else None
                if isinstance(target, ast.Name) and target.id == collection:
                    binds += 1
                    seen.add(id(target))
                elif (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == collection
                ):
                    seen.add(id(target.value))
                    sites.append(loops)
            elif (
                isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Attribute)
                and stmt.value.func.attr in _ADD_ONE
                and isinstance(stmt.value.func.value, ast.Name)
                and stmt.value.func.value.id == collection
                and len(stmt.value.args) == 1
                and not stmt.value.keywords
            ):
                seen.add(id(stmt.value.func.value))
                sites.append(loops)
            elif isinstance(stmt, ast.Return) and stmt.value is not None:
                seen.add(id(stmt.value))
            elif isinstance(stmt, ast.While | ast.AsyncFor):
                # A `while` (or an async iterator) may grow it without bound.
                if any(isinstance(n, ast.Name) and n.id == collection for n in ast.walk(stmt)):
                    return False
                continue
            inner = loops
            if isinstance(stmt, ast.For):
                inner = (*loops, s.value(stmt.iter, local))
                if not visit(stmt.body, inner) or not visit(stmt.orelse, loops):
                    return False
                continue
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for sub in _sub_bodies(stmt):
                if not visit(sub, inner):
                    return False
        return True

    sites += [(s.value(iterable, local),) for iterable in comprehensions]
    if collection is None:
        return tuple(sites)
    if not visit(node.body, ()) or binds != 1:
        return None
    # Any other use of the name (`out.extend(...)`, `helper(out)`, an alias,
    # a nested def) might grow it some other way.
    for n in walked:
        if isinstance(n, ast.Name) and n.id == collection and id(n) not in seen:
            return None
    return tuple(sites)


# Additional facts: what model methods load on `self` (BKL306), the
# prefetches of the project's queries (BKL301).


def _wants_self_loads(node: ast.ClassDef) -> bool:
    """A class that looks like a Django model (`_self_loads` walks its
    methods): a base named `...Model` (`models.Model`, `LoggedModel`; a
    serializer's `ModelSerializer` is not), or a field declared with a
    call of `models.<Field>(...)` in its body."""
    for base in node.bases:
        name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
        if name.endswith("Model"):
            return True
    for stmt in node.body:
        if isinstance(stmt, ast.Assign | ast.AnnAssign) and isinstance(stmt.value, ast.Call):
            func = stmt.value.func
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "models"
            ):
                return True
    return False


_KEYS = ("id", "pk")


def _self_loads(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, ...]:
    """See `FunctionFacts.self_loads`."""
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    if not positional or any(
        isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod")
        for d in node.decorator_list
    ):
        return ()
    me = positional[0].arg
    walked = list(_walk_scope(node.body))
    inner = {id(n.value) for n in walked if isinstance(n, ast.Attribute)}
    loaded: set[str] = set()
    for child in walked:
        if not isinstance(child, ast.Attribute) or id(child) in inner:
            continue
        # The whole chain `self.a.b.c`: `self.a` and `self.a.b` are loaded to
        # read it, and `self.a.b.c` is used as an object unless it is
        # assigned or deleted; `self.a.b.pk` loads `self.a` only (reading
        # `self.a.b` for its key is what BKL306 reports: nothing to rely on).
        parts: list[str] = []
        value: ast.expr = child
        while isinstance(value, ast.Attribute):
            parts.append(value.attr)
            value = value.value
        if not (isinstance(value, ast.Name) and value.id == me):
            continue
        parts.reverse()
        if parts[-1] in _KEYS:
            upto = len(parts) - 2
        elif isinstance(child.ctx, ast.Store | ast.Del):
            upto = len(parts) - 1
        else:
            upto = len(parts)
        for i in range(1, upto + 1):
            loaded.add(".".join(parts[:i]))
    return tuple(sorted(loaded))


_PREFETCH = "prefetch_related"
_PREFETCH_NAMES = frozenset({_PREFETCH, "prefetch_related_objects"})


def _is_prefetch_call(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in _PREFETCH_NAMES


def _prefetch_calls(s: _Summariser, tree: ast.Module, source: str | None) -> tuple[Call, ...]:
    """See `ModuleFacts.prefetch_calls`. Only the statements spanning a line
    that names `prefetch_related` are walked (with `source`): a function's
    other statements are read only for the names they bind."""
    lines: list[int] | None = None
    if source is not None:
        lines = [i for i, text in enumerate(source.splitlines(), 1) if _PREFETCH in text]
    found: list[Call] = []

    def spans(node: ast.stmt) -> bool:
        if lines is None:
            return True
        end = node.end_lineno or node.lineno
        return any(node.lineno <= line <= end for line in lines)

    def statements(body: list[ast.stmt], local: dict[str, Value] | None) -> None:
        for stmt in body:
            if not spans(stmt):
                continue
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                statements(stmt.body, _single_assignments(s, stmt))
            elif isinstance(stmt, ast.ClassDef):
                statements(stmt.body, None)
            else:
                for child in ast.iter_child_nodes(stmt):
                    if isinstance(child, ast.stmt):
                        statements([child], local)
                    elif isinstance(child, ast.ExceptHandler | ast.match_case):
                        statements(child.body, local)
                    else:
                        expression(child, local)

    def expression(node: ast.AST, local: dict[str, Value] | None) -> None:
        stack = [node]
        while stack:
            child = stack.pop()
            if isinstance(child, ast.Call) and _is_prefetch_call(child):
                value = s.value(child, local)
                if isinstance(value, Call):
                    found.append(value)
            if not isinstance(child, ast.Lambda):
                stack.extend(ast.iter_child_nodes(child))

    statements(tree.body, None)
    return tuple(found)


def _single_assignments(
    s: _Summariser, fn: ast.FunctionDef | ast.AsyncFunctionDef
) -> dict[str, Value]:
    """The function's local names, with the value of those assigned once
    (`prefetch = Prefetch(...)`), in source order; the others, parameters
    included, stay `Local`. Statements are read, not expressions: a name
    bound only by `:=` or a comprehension is not seen."""
    counts: dict[str, int] = {}
    assigns: list[ast.Assign] = []
    imported: list[tuple[str, str]] = []  # `from django.db.models import Prefetch` in the body

    def bind(target: ast.AST) -> None:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                counts[node.id] = counts.get(node.id, 0) + 1

    pending: list[list[ast.stmt]] = [fn.body]
    while pending:
        for stmt in pending.pop():
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                counts[stmt.name] = counts.get(stmt.name, 0) + 1
                continue
            if isinstance(stmt, ast.Assign):
                assigns.append(stmt)
                for target in stmt.targets:
                    bind(target)
            elif isinstance(stmt, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor):
                bind(stmt.target)
            elif isinstance(stmt, ast.With | ast.AsyncWith):
                for item in stmt.items:
                    if item.optional_vars is not None:
                        bind(item.optional_vars)
            elif isinstance(stmt, ast.Import | ast.ImportFrom):
                imported.extend(s.imports_of(stmt))
            pending.extend(_sub_bodies(stmt))
    args = fn.args
    params = {
        a.arg
        for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
        if a is not None
    }
    local: dict[str, Value] = {name: Local(name) for name in (*params, *counts)}
    for name, qualified in imported:
        if name not in local:
            local[name] = Ref(qualified)
    for stmt in sorted(assigns, key=lambda a: (a.lineno, a.col_offset)):
        target = stmt.targets[0]
        if (
            len(stmt.targets) == 1
            and isinstance(target, ast.Name)
            and counts.get(target.id) == 1
            and target.id not in params
        ):
            local[target.id] = s.value(stmt.value, local)
    return local
