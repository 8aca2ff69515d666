"""Qualified names: which imported or defined thing a name in the code refers to.

A lean resolver of our own instead of LibCST's scope analysis, which costs more
than a whole parse: imports and definitions are collected per scope, and a name
is resolved through them. The same table serves the LibCST rules and the `ast`
pass that builds the project index, so both agree on what a name means.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import libcst as cst

BUILTIN_NAMES = frozenset(dir(builtins))


def resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str | None:
    """`from ..x import y` in `module` -> the absolute module it imports from."""
    if level == 0:
        return target
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    if target:
        base = [*base, target]
    return ".".join(base) or None


@dataclass(slots=True)
class Bindings:
    """The names one scope binds: imports map to what they import; every other
    binding (assignment, def, class, parameter) is recorded as local."""

    imports: dict[str, str] = field(default_factory=dict)
    local: set[str] = field(default_factory=set)

    def add_import(self, name: str, qualified: str) -> None:
        self.imports[name] = qualified
        self.local.discard(name)

    def add_local(self, name: str) -> None:
        # A later plain binding shadows an import of the same name.
        self.imports.pop(name, None)
        self.local.add(name)

    def bound(self, name: str) -> bool:
        return name in self.imports or name in self.local


def import_bindings(
    module: str, is_package: bool, imports: Iterable[tuple[int, str | None, str, str | None]]
) -> Iterator[tuple[str, str]]:
    """(level, from_module, name, asname) tuples -> (local name, qualified name).

    `from_module` is None for `import a.b.c`, which binds `a` (or the alias).
    """
    for level, source, name, asname in imports:
        if source is None and level == 0:
            if asname:
                yield asname, name
            else:
                head = name.split(".", 1)[0]
                yield head, head
            continue
        base = resolve_relative(module, is_package, level, source)
        if base is None or name == "*":
            continue
        yield asname or name, f"{base}.{name}"


def last_name(node: cst.BaseExpression) -> str | None:
    """The last name of `a.b.c` or `c` (a callee's own name), else None."""
    if isinstance(node, cst.Attribute):
        return node.attr.value
    if isinstance(node, cst.Name):
        return node.value
    return None


def dotted_name(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def cst_imports(
    node: cst.Import | cst.ImportFrom,
) -> Iterator[tuple[int, str | None, str, str | None]]:
    """The (level, from_module, name, asname) tuples of an import statement."""
    if isinstance(node, cst.Import):
        for alias in node.names:
            name = dotted_name(alias.name)
            if name:
                yield 0, None, name, _asname(alias)
        return
    source = dotted_name(node.module) if node.module is not None else None
    level = len(node.relative)
    if isinstance(node.names, cst.ImportStar):
        return
    for alias in node.names:
        name = dotted_name(alias.name)
        if name:
            yield level, source, name, _asname(alias)


def _asname(alias: cst.ImportAlias) -> str | None:
    if alias.asname is None:
        return None
    target = alias.asname.name
    return target.value if isinstance(target, cst.Name) else None


def assigned_names(target: cst.BaseExpression) -> Iterator[str]:
    """Names bound by an assignment target (`a`, `a, b`, `[a, *b]`)."""
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from assigned_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from assigned_names(target.value)
