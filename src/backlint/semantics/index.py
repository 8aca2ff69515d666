"""The project index: facts from every file of the project, read by rules.

The engine fills it with one `ModuleFacts` per module before any rule runs.
Framework semantics register *views* (a model graph, the routers, session
dependencies): functions of the whole index, computed once per run in the
parent process, before the workers start.

While a file is linted, the index notes what it was asked (`recording`):
the modules looked up by name, the views read (`data_view`,
`tracked_view`), whether the packages, the module names or the
requirements were read, or whether anything that answers from the whole
index was (a view of no declared kind, a walk over every module's facts).
The findings cache keys the file's findings by exactly that.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from backlint.semantics.facts import ClassFacts, FunctionFacts, ModuleFacts, Value, dotted

T = TypeVar("T")

_VIEWS: list[Callable[[ProjectIndex], Any]] = []
# Data and tracked views, by name: a file that reads one depends on its
# value (a tracked view's `state()`) and its own reads, not on the index.
_DATA_VIEWS: dict[Callable[[ProjectIndex], Any], str] = {}


def index_view(builder: Callable[[ProjectIndex], T]) -> Callable[[ProjectIndex], T]:
    """Register a view of the index, computed once per run (see `ProjectIndex.view`)."""
    _VIEWS.append(builder)
    return builder


def data_view(builder: Callable[[ProjectIndex], T]) -> Callable[[ProjectIndex], T]:
    """Register a view whose value is plain data: no index inside it, no
    memo filled later (a file that reads it depends on that value only)."""
    _DATA_VIEWS[builder] = f"{builder.__module__}.{builder.__qualname__}"
    return index_view(builder)


def tracked_view(builder: Callable[[ProjectIndex], T]) -> Callable[[ProjectIndex], T]:
    """Register a view whose value is an object (`TrackedView`) that reads
    the index again on demand: a file that reads it depends on the object's
    `state()` and on the reads its methods make, which the index records as
    for any other read; what it memoises must be in a `Once` (a memo that
    replays the reads that filled it to every later caller)."""
    return data_view(builder)


def data_views() -> dict[str, Callable[[ProjectIndex], Any]]:
    """Name -> builder of every data view (and tracked view)."""
    return {name: builder for builder, name in _DATA_VIEWS.items()}


class TrackedView:
    """The value of a `tracked_view`: `state()` is what it built, as data
    (by default every attribute but the index: a view whose methods
    memoise in `Once` values leaves those out)."""

    def state(self) -> Any:
        return {k: v for k, v in vars(self).items() if k != "index"}


class Reads:
    """What the lint of one file asked the index (see the module's docs)."""

    __slots__ = ("everything", "modules", "names", "packages", "requirements", "views")

    def __init__(self) -> None:
        self.modules: set[str] = set()
        self.views: set[str] = set()
        self.packages = False
        self.names = False
        self.requirements = False
        self.everything = False


_READS: Reads | None = None


@contextlib.contextmanager
def recording() -> Iterator[Reads]:
    """Note the index reads made inside the block."""
    global _READS
    before, _READS = _READS, Reads()
    try:
        yield _READS
    finally:
        _READS = before


@contextlib.contextmanager
def _paused() -> Iterator[None]:
    """Reads made to build a view are the view's, not the file's."""
    global _READS
    before, _READS = _READS, None
    try:
        yield
    finally:
        _READS = before


def _replay(reads: Reads) -> None:
    """Add reads made earlier (to fill a memo) to the file's being recorded."""
    if _READS is None or _READS is reads:
        return
    _READS.modules |= reads.modules
    _READS.views |= reads.views
    _READS.packages |= reads.packages
    _READS.names |= reads.names
    _READS.requirements |= reads.requirements
    _READS.everything |= reads.everything


class Once(Generic[T]):
    """A value computed from the index on first demand, kept with the reads
    that computed it: every later caller depends on them too (a plain memo
    would hide them from the files after the first)."""

    __slots__ = ("_computing", "_reads", "_value")

    def __init__(self) -> None:
        self._reads: Reads | None = None
        self._value: T | None = None
        self._computing = False

    def get(self, compute: Callable[[], T], cycle: T | None = None) -> T:
        """`cycle`: the answer to a call made while computing the value (a
        recursion that comes back to it, such as a cycle of bases)."""
        if self._reads is None:
            if self._computing:
                return cycle  # type: ignore[return-value]
            self._computing = True
            try:
                with recording() as reads:
                    self._value = compute()
            finally:
                self._computing = False
            self._reads = reads
        _replay(self._reads)
        return self._value  # type: ignore[return-value]


def _everything() -> None:
    if _READS is not None:
        _READS.everything = True


def _names() -> None:
    if _READS is not None:
        _READS.names = True


class Modules(dict[str, ModuleFacts]):
    """Module name -> facts; notes, while a file's reads are recorded, the
    names looked up, and any walk over every module."""

    __slots__ = ()

    def get(self, key: str, default: Any = None) -> Any:
        if _READS is not None:
            _READS.modules.add(key)
        return dict.get(self, key, default)

    def __getitem__(self, key: str) -> ModuleFacts:
        if _READS is not None:
            _READS.modules.add(key)
        return dict.__getitem__(self, key)

    def __contains__(self, key: object) -> bool:
        if _READS is not None and isinstance(key, str):
            _READS.modules.add(key)
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[str]:
        _names()
        return dict.__iter__(self)

    def __len__(self) -> int:
        _names()
        return dict.__len__(self)

    def keys(self) -> Any:
        _names()
        return dict.keys(self)

    def values(self) -> Any:
        _everything()
        return dict.values(self)

    def items(self) -> Any:
        _everything()
        return dict.items(self)


class ProjectIndex:
    """Facts of every module of the project, by dotted module name."""

    def __init__(self, modules: Iterable[ModuleFacts], *, complete: bool = True) -> None:
        self.modules: Modules = Modules()
        for facts in modules:
            # Two files claiming one module name (scripts in separate folders):
            # keep the first, in path order, for a stable answer.
            self.modules.setdefault(facts.module, facts)
        self._packages: frozenset[str] = frozenset(
            p for facts in dict.values(self.modules) for p in facts.imported_packages
        )
        # False when the index holds only the linted file (no project could be
        # indexed): cross-file rules must then stay silent rather than guess.
        self.complete = complete
        self._views: dict[Callable[[ProjectIndex], Any], Any] = {}
        # Normalised package name -> version specifiers the project declares
        # (pyproject.toml, requirements*.txt); filled by the engine.
        self._requirements: dict[str, tuple[str, ...]] = {}
        self._suffixes: dict[str, str] | None = None
        self._names: frozenset[str] | None = None

    @property
    def packages(self) -> frozenset[str]:
        """Top-level packages the project's modules import."""
        if _READS is not None:
            _READS.packages = True
        return self._packages

    @property
    def requirements(self) -> dict[str, tuple[str, ...]]:
        if _READS is not None:
            _READS.requirements = True
        return self._requirements

    @requirements.setter
    def requirements(self, value: dict[str, tuple[str, ...]]) -> None:
        self._requirements = value

    def names(self) -> frozenset[str]:
        """The name of every module of the project."""
        _names()
        if self._names is None:
            self._names = frozenset(dict.keys(self.modules))
        return self._names

    def uses(self, package: str) -> bool:
        return package in self.packages

    def view(self, builder: Callable[[ProjectIndex], T]) -> T:
        if _READS is not None:
            name = _DATA_VIEWS.get(builder)
            if name is None:
                _READS.everything = True  # an object that may read any module later
            else:
                _READS.views.add(name)
        if builder not in self._views:
            with _paused():
                self._views[builder] = builder(self)
        result: T = self._views[builder]
        return result

    def prepare(self) -> None:
        """Compute every registered view now (in the parent, before forking)."""
        for builder in _VIEWS:
            self.view(builder)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "modules": self.modules,
            "packages": self._packages,
            "complete": self.complete,
            "requirements": self._requirements,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.modules = state["modules"]
        self._packages = state["packages"]
        self.complete = state["complete"]
        self._views = {}
        self._requirements = state.get("requirements", {})
        self._suffixes = None
        self._names = None

    # Symbols -------------------------------------------------------------------

    def _split(self, qualname: str) -> tuple[ModuleFacts, str, str] | None:
        """`pkg.mod.Name.attr` -> (facts of pkg.mod, "Name", "attr")."""
        parts = qualname.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            facts = self.modules.get(".".join(parts[:cut]))
            if facts is not None:
                return facts, parts[cut], ".".join(parts[cut + 1 :])
        for cut in range(len(parts) - 1, 0, -1):
            facts = self._module_alias(".".join(parts[:cut]))
            if facts is not None:
                return facts, parts[cut], ".".join(parts[cut + 1 :])
        return None

    def _module_alias(self, name: str) -> ModuleFacts | None:
        """The module a shorter name imports: `projects.models` for the indexed
        `label_studio.projects.models` when `label_studio/` is both a package and
        a directory on `sys.path` (it holds `manage.py`: Django's usual layout,
        whose apps import each other by the short name). Only a suffix that one
        module alone ends with, and that is no module of its own, counts."""
        _names()  # the table is a function of the module names
        if self._suffixes is None:
            table: dict[str, str | None] = {}
            for module in dict.__iter__(self.modules):
                parts = module.split(".")
                for i in range(1, len(parts)):
                    suffix = ".".join(parts[i:])
                    table[suffix] = None if suffix in table else module
            self._suffixes = {
                k: v
                for k, v in table.items()
                if v is not None and not dict.__contains__(self.modules, k)
            }
        target = self._suffixes.get(name)
        return self.modules.get(target) if target is not None else None

    def canonical(self, qualname: str) -> str:
        """Follow re-exports (`from .order import Order` in `shop/models/__init__.py`)
        to where a project symbol is defined. Unknown names come back unchanged.
        A public name a module neither binds nor imports is looked for in the
        modules it star-imports (`from .base import *` in a package
        `__init__`, arches' `views/api`), the last first; `__all__` is not
        read."""
        for _ in range(16):
            split = self._split(qualname)
            if split is None:
                return qualname
            facts, name, rest = split
            if name in facts.classes or name in facts.functions or name in facts.assignments:
                # The indexed name (an alias of the module is normalised).
                return f"{facts.module}.{name}.{rest}" if rest else f"{facts.module}.{name}"
            target = facts.imports.get(name)
            if target is None and facts.star_imports and not name.startswith("_"):
                source = self._star_source(facts, name, 4)
                if source is not None:
                    target = f"{source}.{name}"
            if target is None or target == qualname:
                return qualname
            qualname = f"{target}.{rest}" if rest else target
        return qualname

    def _star_source(self, facts: ModuleFacts, name: str, depth: int) -> str | None:
        """The first module `facts` star-imports (directly, or through a
        module it star-imports, `depth` deep) that binds `name`."""
        for star in reversed(facts.star_imports):  # the last import wins
            found = self.modules.get(star)
            if found is None or found is facts:
                continue
            if (
                name in found.classes
                or name in found.functions
                or name in found.assignments
                # Not an import of the name from `facts` itself (a submodule
                # of the package importing what the package re-exports).
                or found.imports.get(name, f"{facts.module}.{name}") != f"{facts.module}.{name}"
            ):
                return star
            if depth > 0 and self._star_source(found, name, depth - 1) is not None:
                return star
        return None

    def module_of(self, qualname: str) -> ModuleFacts | None:
        """The facts of the module that defines the project name `qualname`."""
        split = self._split(self.canonical(qualname))
        return split[0] if split is not None else None

    def lookup(self, qualname: str) -> ClassFacts | FunctionFacts | Value | None:
        """The class, function or module-level value a project name refers to;
        below a class, its method, attribute or nested class (`Order.Status`,
        `Order.Status.choices`)."""
        split = self._split(self.canonical(qualname))
        if split is None:
            return None
        facts, name, rest = split
        cls = facts.classes.get(name)
        if cls is not None:
            *outer, last = rest.split(".")
            for part in outer:
                inner = cls.inner_class(part)
                if inner is None:
                    return None
                cls = inner
            if not last:
                return cls
            method = cls.method(last)
            if method is not None:
                return method
            value = cls.attribute(last)
            return value if value is not None else cls.inner_class(last)
        if rest:
            return None
        if name in facts.functions:
            return facts.functions[name]
        return facts.assignments.get(name)

    def find_class(self, qualname: str) -> ClassFacts | None:
        found = self.lookup(qualname)
        return found if isinstance(found, ClassFacts) else None

    def find_function(self, qualname: str) -> FunctionFacts | None:
        found = self.lookup(qualname)
        return found if isinstance(found, FunctionFacts) else None

    def ancestors(self, qualname: str, limit: int = 16) -> Iterator[ClassFacts]:
        """The project class `qualname` and its project bases, nearest first
        (breadth first, each once, at most `limit`); bases outside the
        project end the walk on their side (read them in `cls.bases`)."""
        pending = [qualname]
        seen: set[str] = set()
        while pending and len(seen) < limit:
            name = self.canonical(pending.pop(0))
            if name in seen:
                continue
            seen.add(name)
            cls = self.find_class(name)
            if cls is None:
                continue
            yield cls
            pending += [b for b in (dotted(base) for base in cls.bases) if b]

    def classes(self) -> Iterable[tuple[ModuleFacts, ClassFacts]]:
        for facts in self.modules.values():
            for cls in facts.classes.values():
                yield facts, cls


EMPTY_INDEX = ProjectIndex((), complete=False)
