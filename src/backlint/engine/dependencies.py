"""What a file's findings depend on in the project index, and its digest.

The lint of a file records what it asked the index (`semantics.index.Reads`):
modules by name, data views, the packages, the module names, the declared
requirements. Those become keys (`m:shop.models`, `v:<view>`, `p`, `n`,
`r`); the findings cache stores them with a digest of their values, and a
later run whose index differs elsewhere reuses the findings when the keys
still digest the same. A file that asked something only the whole index
answers (an object view, a walk over every module) has no keys: its
findings depend on the whole index digest, as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from backlint.engine.findings_cache import canonical
from backlint.semantics.index import ProjectIndex, Reads, TrackedView, data_views


def keys_of(reads: Reads) -> list[str] | None:
    """The dependency keys of one file's reads; None: the whole index."""
    if reads.everything:
        return None
    keys = [f"m:{name}" for name in reads.modules] + [f"v:{name}" for name in reads.views]
    keys += [key for key, read in (("p", reads.packages), ("n", reads.names)) if read]
    if reads.requirements:
        keys.append("r")
    return sorted(keys)


class Dependencies:
    """The values of dependency keys in one index (memoised: a view's value
    is digested once per run)."""

    def __init__(self, index: ProjectIndex, modules: Mapping[str, str]) -> None:
        self.index = index
        self.modules = modules  # module name -> its facts digest
        self._values: dict[str, str | None] = {}

    def digest(self, keys: Sequence[str]) -> str | None:
        """The digest of `keys`' values; None when one no longer exists (a
        view of an earlier version): the entry is then a miss."""
        digest = hashlib.blake2b(f"complete={self.index.complete}".encode(), digest_size=16)
        for key in keys:
            value = self._value(key)
            if value is None:
                return None
            digest.update(f"{key}\0{value}\n".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def _value(self, key: str) -> str | None:
        if key not in self._values:
            self._values[key] = self._compute(key)
        return self._values[key]

    def _compute(self, key: str) -> str | None:
        kind, _, name = key.partition(":")
        if kind == "m":
            return self.modules.get(name, "-")
        if kind == "v":
            builder = data_views().get(name)
            if builder is None:
                return None
            value = self.index.view(builder)
            return _digest(value.state() if isinstance(value, TrackedView) else value)
        if kind == "p":
            return _digest(self.index.packages)
        if kind == "n":
            return _digest(self.index.names())
        if kind == "r":
            return _digest(self.index.requirements)
        return None


def _digest(value: Any) -> str:
    text = json.dumps(canonical(value), separators=(",", ":"), sort_keys=True)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
