"""Building the project index: the first pass over every file of the project."""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import sys
import tempfile
from array import array
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from backlint import __version__
from backlint.engine.files import SourceFile
from backlint.engine.positions import statement_table
from backlint.engine.source import SourceError, ast_parse_any, decode
from backlint.semantics.facts import CALLS_OF_INTEREST, ModuleFacts, summarise
from backlint.semantics.index import ProjectIndex

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

CACHE_DIR = ".backlint_cache"


def _cache_key() -> str:
    """What the cached facts depend on: the version, the code that extracts
    them, and the calls semantics modules asked to keep. A cache written by
    any other combination is ignored, never misread."""
    from backlint.engine import positions, source
    from backlint.semantics import facts as facts_module

    digest = hashlib.sha256(__version__.encode())
    for module in (facts_module, positions, source):
        digest.update(Path(module.__file__ or "").read_bytes())
    digest.update(",".join(sorted(CALLS_OF_INTEREST)).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class FileFacts:
    """The first pass's result for one file: its facts, or why there are none."""

    path: str
    stamp: tuple[int, int]  # (mtime_ns, size), to reuse cached facts
    facts: ModuleFacts | None  # None: the file could not be read or parsed by `ast`
    statements: array[int] | None = None  # positions of its statements (see positions.py)


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, -1)
    return (st.st_mtime_ns, st.st_size)


def collect(file: SourceFile) -> FileFacts:
    """Read, decode and summarise one file (with `ast`: nothing here needs a CST)."""
    stamp = _stamp(file.path)
    try:
        text = decode(file.path.read_bytes()).text
        tree, own_positions = ast_parse_any(text)
    except (OSError, SourceError, SyntaxError, ValueError, RecursionError, MemoryError):
        return FileFacts(str(file.path), stamp, None)
    facts = summarise(tree, file.module, str(file.path), file.is_package)
    table = statement_table(tree, len(text)) if own_positions else None
    return FileFacts(str(file.path), stamp, facts, table)


def _collect_chunk(files: Sequence[SourceFile]) -> list[FileFacts]:
    return [collect(f) for f in files]


class IndexCache:
    """Per-file facts from the last run, reused while a file's stamp is unchanged."""

    def __init__(self, root: Path) -> None:
        self.directory = root / CACHE_DIR
        self.path = self.directory / f"index-{_cache_key()}.pickle"
        self.entries: dict[str, FileFacts] = {}
        try:
            with self.path.open("rb") as handle:
                loaded = pickle.load(handle)
            if isinstance(loaded, dict):
                self.entries = loaded
        except Exception:
            self.entries = {}

    def get(self, file: SourceFile) -> FileFacts | None:
        entry = self.entries.get(str(file.path))
        if entry is not None and entry.stamp == _stamp(file.path):
            return entry
        return None

    def save(self, entries: dict[str, FileFacts]) -> None:
        if entries == self.entries:
            return
        try:
            self.directory.mkdir(exist_ok=True)
            ignore = self.directory / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Created by backlint.\n*\n", encoding="utf-8")
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(entries, handle, protocol=pickle.HIGHEST_PROTOCOL)
            Path(tmp).replace(self.path)
            for stale in self.directory.glob("index-*.pickle"):
                if stale != self.path:
                    stale.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only tree simply runs without a cache


def chunks(items: Sequence[SourceFile], size: int) -> list[Sequence[SourceFile]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True, slots=True)
class IndexResult:
    index: ProjectIndex
    # path -> statement table; None when the file could not be parsed, or
    # only after downgrading newer syntax (positions then come from LibCST).
    tables: dict[str, array[int] | None]


def build_index(
    files: Sequence[SourceFile],
    executor: Executor | None,
    cache: IndexCache | None,
    root: Path | None = None,
) -> IndexResult:
    """The index of `files`, with the statement tables of each (and, given the
    project `root`, the requirements it declares)."""
    results: dict[str, FileFacts] = {}
    todo: list[SourceFile] = []
    for file in files:
        cached = cache.get(file) if cache is not None else None
        if cached is not None:
            results[cached.path] = cached
        else:
            todo.append(file)
    if executor is not None and len(todo) > 1:
        for batch in executor.map(_collect_chunk, chunks(todo, 16)):
            for entry in batch:
                results[entry.path] = entry
    else:
        for file in todo:
            entry = collect(file)
            results[entry.path] = entry
    if cache is not None:
        cache.save(results)
    ordered = [results[str(f.path)] for f in files]
    index = ProjectIndex(entry.facts for entry in ordered if entry.facts is not None)
    if root is not None:
        index.requirements = declared_requirements(root)
    return IndexResult(index, {e.path: e.statements if e.facts else None for e in ordered})


# ---------------------------------------------------------------------------
# Declared requirements: which versions of its dependencies the project says
# it runs on (messages only suggest APIs those versions have).

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;#@]*)")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _add_requirement(out: dict[str, tuple[str, ...]], line: str) -> None:
    match = _REQUIREMENT.match(line)
    if match is None or line.lstrip().startswith(("-", "#")) or "://" in line:
        return
    name, spec = _normalise(match.group(1)), match.group(2).strip().replace(" ", "")
    out[name] = (*out.get(name, ()), spec)


def declared_requirements(root: Path) -> dict[str, tuple[str, ...]]:
    """Normalised package name -> the version specifiers the project declares
    for it (`>=4.2,<5`, Poetry's `^4.2`), from `pyproject.toml` (PEP 621
    dependencies and optional dependencies, Poetry dependencies) and
    `requirements*.txt` at the root or in `requirements/`.

    Read once per run and not cached: the few small files cost less to read
    than the stat calls that would validate a cache entry.
    """
    out: dict[str, tuple[str, ...]] = {}
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        data = {}
    project = data.get("project")
    if isinstance(project, dict):
        lists = [project.get("dependencies")]
        extras = project.get("optional-dependencies")
        if isinstance(extras, dict):
            lists += list(extras.values())
        for items in lists:
            if isinstance(items, list):
                for item in items:
                    if isinstance(item, str):
                        _add_requirement(out, item)
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    deps = poetry.get("dependencies") if isinstance(poetry, dict) else None
    if isinstance(deps, dict):
        for name, spec in deps.items():
            if isinstance(spec, dict):
                spec = spec.get("version", "")
            if isinstance(name, str) and isinstance(spec, str):
                key = _normalise(name)
                out[key] = (*out.get(key, ()), spec.replace(" ", ""))
    texts = sorted(root.glob("requirements*.txt")) + sorted(root.glob("requirements/*.txt"))
    for path in texts:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            _add_requirement(out, line)
    return out
