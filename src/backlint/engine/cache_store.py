"""The files of `.backlint_cache/`: JSON data only, written atomically.

The cache sits in the linted tree, so its files are untrusted input: they are
parsed as JSON (never unpickled, evaluated or imported), checked against the
envelope this version writes, and ignored when anything is off (too large, not
JSON, another format or version); the next save replaces them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_DIR = ".backlint_cache"

# A cache file larger than this is not read (a crafted one must not take the
# memory of the run); a 1.4 M-line project writes about a tenth of it.
MAX_CACHE_BYTES = 512 * 1024 * 1024


class StaleFacts(BaseException):
    """Facts decoded late (`facts_codec.LazyMethods`) were malformed: the
    cache they came from cannot be trusted, and the run starts over without
    it. A BaseException, so that no rule's `except Exception` swallows it
    (and here, where a fully warm run's imports need no facts modules)."""


def content_hash(data: bytes) -> str:
    """What a file's cache entries are keyed by: its bytes, not its mtime."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def read_json(path: Path, kind: str, key: str) -> dict[str, Any] | None:
    """The payload of a cache file written by `write_json(kind, key)`, or None
    when there is none, or it is unreadable, malformed, or of another key."""
    try:
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_CACHE_BYTES:
                return None
            data = json.loads(handle.read(MAX_CACHE_BYTES + 1))
    except (OSError, ValueError, RecursionError, MemoryError):
        return None
    if (
        type(data) is not dict
        or data.get("format") != kind
        or data.get("key") != key
        or type(data.get("payload")) is not dict
    ):
        return None
    payload: dict[str, Any] = data["payload"]
    return payload


def write_json(
    directory: Path,
    name: str,
    kind: str,
    key: str,
    payload: dict[str, Any],
    keep: int = 1,
) -> None:
    """Write atomically (a temporary file renamed over the old one: a
    concurrent run reads the old file or the new one, never half of one) and
    remove what other keys left (`<prefix>-*`) but the `keep - 1` newest. A
    tree that cannot be written simply runs without a cache."""
    tmp: str | None = None
    try:
        directory.mkdir(exist_ok=True)
        ignore = directory / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Created by backlint.\n*\n", encoding="utf-8")
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
        # dumps, not dump: only the former runs json's C encoder (10x faster).
        text = json.dumps({"format": kind, "key": key, "payload": payload}, separators=(",", ":"))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        target = directory / name
        Path(tmp).replace(target)
        tmp = None
        prefix = name.split("-", 1)[0]
        others = [p for p in directory.glob(f"{prefix}-*") if p != target]
        others.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for stale in others[keep - 1 :]:
            stale.unlink(missing_ok=True)
    except (OSError, ValueError, RecursionError):
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
