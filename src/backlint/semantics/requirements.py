"""Which versions of a dependency the project declares it runs on.

The engine reads the declarations (`ProjectIndex.requirements`); this module
answers "does every declared version have this API?", so that a message only
suggests what the project can call (`cache.aget()` needs Django 4.0). A
project that declares nothing is assumed to run the newest version.
"""

from __future__ import annotations

import re

from backlint.semantics.index import ProjectIndex

Version = tuple[int, ...]

_CLAUSE = re.compile(r"^(===|==|~=|>=|<=|!=|>|<|\^|~|=)?v?(\d+(?:\.\d+)*)")

# Django releases that added the async APIs messages suggest.
DJANGO_ASYNC_CACHE: Version = (4, 0)  # cache.aget(), aset(), adelete()...
DJANGO_ASYNC_ORM: Version = (4, 1)  # QuerySet.aget(), acount(), `async for`
DJANGO_ASYNC_RELATED: Version = (4, 2)  # related managers' aadd(), aremove(), aset()
DJANGO_AGET_OBJECT_OR_404: Version = (5, 0)


def _parse(text: str) -> Version:
    return tuple(int(part) for part in text.split("."))


def declared_bounds(specs: tuple[str, ...]) -> tuple[Version | None, Version | None]:
    """(lowest allowed version, exclusive upper bound) over the declarations
    (requirements files, extras): the lowest lower bound and the highest upper
    one; None where some declaration leaves that side open."""
    lowers: list[Version | None] = []
    uppers: list[Version | None] = []
    for spec in specs:
        lower: Version | None = None
        upper: Version | None = None
        for clause in spec.split(","):
            match = _CLAUSE.match(clause.strip())
            if match is None:
                continue
            op, version = match.group(1) or "==", _parse(match.group(2))
            if op in ("==", "===", "=", ">=", "~=", "^", "~", ">"):
                lower = max(lower, version) if lower else version
            elif op == "<":
                upper = min(upper, version) if upper else version
            elif op == "<=":
                bumped = (*version[:-1], version[-1] + 1)
                upper = min(upper, bumped) if upper else bumped
            if op in ("==", "===", "="):
                bumped = (*version[:-1], version[-1] + 1)
                upper = min(upper, bumped) if upper else bumped
        lowers.append(lower)
        uppers.append(upper)
    low = None if not lowers or None in lowers else min(v for v in lowers if v is not None)
    high = None if not uppers or None in uppers else max(v for v in uppers if v is not None)
    return low, high


def has_version(index: ProjectIndex, package: str, version: Version) -> bool:
    """Whether every version of `package` the project declares is at least
    `version` (True when it declares none: the newest is assumed)."""
    specs = index.requirements.get(package)
    if not specs:
        return True
    lower, upper = declared_bounds(specs)
    if lower is not None:
        return lower >= version
    return upper is None or upper > version
