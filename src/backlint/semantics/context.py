"""What a rule may ask about the code around a node, answered once per file.

The engine's walker keeps the scope stack current while it visits; everything
else (what a scope binds, what a name refers to, a node's parent) is computed
on first demand and shared by every rule that runs on the file.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import libcst as cst

from backlint.semantics.names import (
    BUILTIN_NAMES,
    Bindings,
    assigned_names,
    cst_imports,
    dotted_name,
    import_bindings,
)

if TYPE_CHECKING:
    from backlint.semantics.index import ProjectIndex


class ScopeKind(enum.Enum):
    MODULE = "module"
    CLASS = "class"
    FUNCTION = "function"
    LAMBDA = "lambda"


# ---------------------------------------------------------------------------
# Bindings: what a name in a scope was bound to.


@dataclass(frozen=True, slots=True)
class Assigned:
    """`name = value` (or `name: T = value`); `annotation` when annotated."""

    value: cst.BaseExpression | None
    annotation: cst.BaseExpression | None = None


@dataclass(frozen=True, slots=True)
class Parameter:
    param: cst.Param


@dataclass(frozen=True, slots=True)
class LoopTarget:
    """A name bound by `for name in iter` (the name is the whole target)."""

    loop: cst.For
    whole_target: bool


@dataclass(frozen=True, slots=True)
class WithTarget:
    item: cst.WithItem


@dataclass(frozen=True, slots=True)
class Imported:
    qualified: str


@dataclass(frozen=True, slots=True)
class Defined:
    node: cst.FunctionDef | cst.ClassDef


@dataclass(frozen=True, slots=True)
class OtherBinding:
    """Bound some other way (augmented assignment, except-as, match, unpacking)."""

    node: cst.CSTNode


Binding = Assigned | Parameter | LoopTarget | WithTarget | Imported | Defined | OtherBinding


class ScopeFacts:
    """Names bound in one scope, in source order, nested scopes excluded."""

    __slots__ = ("bindings", "globals", "names")

    def __init__(self) -> None:
        self.names = Bindings()
        self.bindings: dict[str, list[Binding]] = {}
        self.globals: set[str] = set()

    def bind(self, name: str, binding: Binding) -> None:
        if name in self.globals:
            return
        self.bindings.setdefault(name, []).append(binding)
        if isinstance(binding, Imported):
            self.names.add_import(name, binding.qualified)
        else:
            self.names.add_local(name)


class _ScopeScanner:
    """Collects the bindings of one scope's statements (not of nested scopes)."""

    def __init__(self, facts: ScopeFacts, module: str, is_package: bool) -> None:
        self.facts = facts
        self.module = module
        self.is_package = is_package

    def params(self, params: cst.Parameters) -> None:
        star = params.star_arg if isinstance(params.star_arg, cst.Param) else None
        for param in (*params.posonly_params, *params.params, star, *params.kwonly_params):
            if param is not None:
                self.facts.bind(param.name.value, Parameter(param))
        if params.star_kwarg is not None:
            self.facts.bind(params.star_kwarg.name.value, Parameter(params.star_kwarg))

    def block(self, body: cst.BaseSuite | cst.Module) -> None:
        if isinstance(body, cst.SimpleStatementSuite):
            for small in body.body:
                self.small(small)
            return
        for stmt in body.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    self.small(small)
            elif isinstance(stmt, cst.BaseCompoundStatement):
                self.compound(stmt)

    def small(self, stmt: cst.BaseSmallStatement) -> None:
        bind = self.facts.bind
        if isinstance(stmt, cst.Assign):
            for target in stmt.targets:
                if isinstance(target.target, cst.Name):
                    bind(target.target.value, Assigned(stmt.value))
                else:
                    for name in assigned_names(target.target):
                        bind(name, OtherBinding(stmt))
        elif isinstance(stmt, cst.AnnAssign) and isinstance(stmt.target, cst.Name):
            bind(stmt.target.value, Assigned(stmt.value, stmt.annotation.annotation))
        elif isinstance(stmt, cst.AugAssign) and isinstance(stmt.target, cst.Name):
            bind(stmt.target.value, OtherBinding(stmt))
        elif isinstance(stmt, cst.Import | cst.ImportFrom):
            pairs = import_bindings(self.module, self.is_package, cst_imports(stmt))
            for name, qualified in pairs:
                bind(name, Imported(qualified))
        elif isinstance(stmt, cst.Global | cst.Nonlocal):
            for item in stmt.names:
                self.facts.globals.add(item.name.value)

    def compound(self, stmt: cst.BaseCompoundStatement) -> None:
        bind = self.facts.bind
        if isinstance(stmt, cst.FunctionDef | cst.ClassDef):
            bind(stmt.name.value, Defined(stmt))
            return
        if isinstance(stmt, cst.For):
            whole = isinstance(stmt.target, cst.Name)
            for name in assigned_names(stmt.target):
                bind(name, LoopTarget(stmt, whole))
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                if item.asname is not None:
                    if isinstance(item.asname.name, cst.Name):
                        bind(item.asname.name.value, WithTarget(item))
                    else:
                        for name in assigned_names(item.asname.name):
                            bind(name, OtherBinding(item))
        elif isinstance(stmt, cst.Try | cst.TryStar):
            for handler in stmt.handlers:
                if handler.name is not None and isinstance(handler.name.name, cst.Name):
                    bind(handler.name.name.value, OtherBinding(handler))
        for suite in nested_suites(stmt):
            self.block(suite)


def nested_suites(stmt: cst.BaseCompoundStatement) -> Iterator[cst.BaseSuite]:
    """Statement blocks directly under a compound statement."""
    body = getattr(stmt, "body", None)
    if isinstance(body, cst.BaseSuite):
        yield body
    orelse = getattr(stmt, "orelse", None)
    while orelse is not None:
        yield orelse.body
        orelse = orelse.orelse if isinstance(orelse, cst.If) else None
    for handler in getattr(stmt, "handlers", ()):
        yield handler.body
    final = getattr(stmt, "finalbody", None)
    if final is not None:
        yield final.body
    for case in getattr(stmt, "cases", ()):
        yield case.body


# ---------------------------------------------------------------------------
# Scopes.


class Scope:
    """A module, class, function or lambda body, as the walker enters it."""

    __slots__ = ("_facts", "is_async", "kind", "node", "parent")

    def __init__(
        self, node: cst.CSTNode, kind: ScopeKind, is_async: bool, parent: Scope | None
    ) -> None:
        self.node = node
        self.kind = kind
        self.is_async = is_async
        self.parent = parent
        self._facts: ScopeFacts | None = None

    @property
    def in_async_function(self) -> bool:
        """Lexically in an `async def` body, not in a nested def, lambda or class."""
        return self.is_async and self.kind is ScopeKind.FUNCTION

    def function(self) -> Scope | None:
        """The innermost enclosing function or lambda scope, if any."""
        scope: Scope | None = self
        while scope is not None:
            if scope.kind in (ScopeKind.FUNCTION, ScopeKind.LAMBDA):
                return scope
            if scope.kind is ScopeKind.MODULE:
                return None
            scope = scope.parent
        return None

    def facts(self, module: str, is_package: bool) -> ScopeFacts:
        if self._facts is None:
            facts = ScopeFacts()
            scanner = _ScopeScanner(facts, module, is_package)
            node = self.node
            if isinstance(node, cst.FunctionDef | cst.Lambda):
                scanner.params(node.params)
            if isinstance(node, cst.Module | cst.FunctionDef | cst.ClassDef):
                scanner.block(node if isinstance(node, cst.Module) else node.body)
            self._facts = facts
        return self._facts

    def chain(self) -> Iterator[Scope]:
        """This scope and those enclosing it, as Python resolves names: class
        bodies are skipped unless they are the innermost scope."""
        scope: Scope | None = self
        first = True
        while scope is not None:
            if first or scope.kind is not ScopeKind.CLASS:
                yield scope
            first = False
            scope = scope.parent


def scope_of_node(node: cst.CSTNode, parent: Scope) -> Scope | None:
    """The scope a scope-introducing node opens, or None for other nodes."""
    if isinstance(node, cst.FunctionDef):
        return Scope(node, ScopeKind.FUNCTION, node.asynchronous is not None, parent)
    if isinstance(node, cst.Lambda):
        return Scope(node, ScopeKind.LAMBDA, False, parent)
    if isinstance(node, cst.ClassDef):
        return Scope(node, ScopeKind.CLASS, False, parent)
    return None


# ---------------------------------------------------------------------------
# The file context.


class FileContext:
    """One file as the rules see it."""

    def __init__(
        self,
        *,
        path: str,
        module: str,
        is_package: bool,
        is_test: bool,
        source: str,
        tree: cst.Module,
        index: ProjectIndex,
    ) -> None:
        self.path = path
        self.module = module
        self.is_package = is_package
        self.is_test = is_test
        self.source = source
        self.tree = tree
        self.index = index
        self.module_scope = Scope(tree, ScopeKind.MODULE, False, None)
        self.scope = self.module_scope
        # id(child) -> parent, filled by the walker for every node it visits.
        self.parents: dict[int, cst.CSTNode] = {}
        # Memo for semantics helpers: (namespace, id(node)) -> answer.
        self.cache: dict[tuple[str, int], Any] = {}

    # Structure -----------------------------------------------------------------

    @property
    def in_async_function(self) -> bool:
        return self.scope.in_async_function

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The parent of a node the walker has visited (None at the module, or
        for nodes below the statement level when no rule asked for them)."""
        return self.parents.get(id(node))

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        parent = self.parents.get(id(node))
        while parent is not None:
            yield parent
            parent = self.parents.get(id(parent))

    def scope_facts(self, scope: Scope) -> ScopeFacts:
        return scope.facts(self.module, self.is_package)

    def project_roots(self) -> set[str]:
        """The top-level packages of the project (and of this file's module):
        a qualified name starting with one is the project's own code."""
        key = ("context.project_roots", 0)
        if key not in self.cache:
            self.cache[key] = {m.split(".", 1)[0] for m in self.index.modules} | {
                self.module.split(".", 1)[0]
            }
        roots: set[str] = self.cache[key]
        return roots

    # Names ---------------------------------------------------------------------

    def bindings(self, name: str, scope: Scope | None = None) -> tuple[Scope | None, list[Binding]]:
        """The scope that binds `name` as seen from `scope`, and its bindings."""
        for candidate in (scope or self.scope).chain():
            facts = self.scope_facts(candidate)
            found = facts.bindings.get(name)
            if found:
                return candidate, found
        return None, []

    def qualified_name(self, node: cst.BaseExpression, scope: Scope | None = None) -> str | None:
        """`django.db.models.ForeignKey` for `models.ForeignKey` after
        `from django.db import models`; a module-level definition resolves to
        `<this module>.<name>`; names bound in a function resolve to None."""
        dotted = dotted_name(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        resolved = self._resolve_head(head, scope or self.scope)
        if resolved is None:
            return None
        return f"{resolved}.{rest}" if rest else resolved

    def _resolve_head(self, head: str, scope: Scope) -> str | None:
        for candidate in scope.chain():
            names = self.scope_facts(candidate).names
            if head in names.imports:
                return names.imports[head]
            if head in names.local:
                if candidate.kind is ScopeKind.MODULE:
                    return f"{self.module}.{head}"
                return None
        if head in BUILTIN_NAMES:
            return f"builtins.{head}"
        return None
