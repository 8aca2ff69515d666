"""Building the project index: the first pass over every file of the project."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
import re
import sys
from array import array
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backlint import __version__
from backlint.engine.cache_store import CACHE_DIR, content_hash, read_json, write_json
from backlint.engine.files import SourceFile
from backlint.engine.positions import statement_table
from backlint.engine.reading import SourceError, file_hash, read_source
from backlint.engine.source import ast_parse_any, decode
from backlint.registry import all_rules
from backlint.semantics.facts import CALLS_OF_INTEREST, ModuleFacts, summarise
from backlint.semantics.facts_codec import CodecError, decode_module, encode_module, facts_digest
from backlint.semantics.index import ProjectIndex

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

# Below this many files, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 16

__all__ = ["CACHE_DIR", "FileFacts", "IndexCache", "IndexResult", "build_index", "collect"]


def _cache_key() -> str:
    """What the cached facts depend on: the version, the code that extracts
    them, and the calls semantics modules asked to keep. A cache written by
    any other combination is ignored, never misread."""
    from backlint.engine import positions, source
    from backlint.semantics import facts as facts_module
    from backlint.semantics import facts_codec

    load_semantics()
    digest = hashlib.sha256(f"{__version__} {sys.byteorder}".encode())
    for module in (facts_module, facts_codec, positions, source):
        digest.update(Path(module.__file__ or "").read_bytes())
    digest.update(",".join(sorted(CALLS_OF_INTEREST)).encode())
    return digest.hexdigest()[:16]


def load_semantics() -> None:
    """Import every rule, and with them every semantics module: importing one
    adds what the index keeps (`CALLS_OF_INTEREST`: `include_router`, ...)
    and the views it prepares. The index must not depend on the selection,
    or on what happened to be imported first (a warm run imports nothing)."""
    all_rules()


@dataclass(frozen=True, slots=True)
class FileFacts:
    """The first pass's result for one file: its facts, or why there are none."""

    path: str
    digest: str  # content hash of the bytes summarised ("" when unreadable)
    facts: ModuleFacts | None  # None: the file could not be read or parsed by `ast`
    statements: array[int] | None = None  # positions of its statements (see positions.py)
    facts_digest: str = ""  # what the facts say, lines aside (facts_codec.facts_digest)


def collect(file: SourceFile, digests: bool = True) -> FileFacts:
    """Read, decode and summarise one file (with `ast`: nothing here needs a
    CST). `digests=False`: no `facts_digest`, which only caches read (a run
    without cache: a tenth of the index pass)."""
    try:
        data = read_source(file.path)
    except (OSError, SourceError):
        return FileFacts(str(file.path), "", None)
    return collect_data(file, data, digests)


def collect_data(file: SourceFile, data: bytes, digests: bool = True) -> FileFacts:
    digest = content_hash(data)
    try:
        text = decode(data).text
        tree, own_positions = ast_parse_any(text)
        facts = summarise(tree, file.module, str(file.path), file.is_package, text)
    except (SourceError, SyntaxError, ValueError, RecursionError, MemoryError):
        return FileFacts(str(file.path), digest, None)
    table = statement_table(tree, len(text)) if own_positions else None
    if not digests:
        return FileFacts(str(file.path), digest, facts, table)
    try:
        said = facts_digest(facts)
    except RecursionError:
        said = digest  # too deep to encode: the content stands for the facts
    return FileFacts(str(file.path), digest, facts, table, said)


def _collect_chunk(files: Sequence[SourceFile], digests: bool = True) -> list[FileFacts]:
    return [collect(f, digests) for f in files]


_TABLE_CODE = "i"


def _encode_entry(entry: FileFacts) -> list[Any]:
    table = None
    if entry.statements is not None:
        table = base64.b64encode(entry.statements.tobytes()).decode("ascii")
    facts = encode_module(entry.facts) if entry.facts is not None else None
    return [entry.digest, facts, table, entry.facts_digest]


def _decode_entry(path: str, raw: Any) -> FileFacts:
    if type(raw) is not list or len(raw) != 4 or type(raw[0]) is not str:
        raise CodecError("malformed cache entry")
    digest, facts, table, said = raw
    if type(said) is not str:
        raise CodecError("malformed facts digest")
    statements = None
    if table is not None:
        if type(table) is not str:
            raise CodecError("malformed statement table")
        try:
            data = base64.b64decode(table, validate=True)
        except ValueError:
            raise CodecError("malformed statement table") from None
        statements = array(_TABLE_CODE)
        if len(data) % statements.itemsize:
            raise CodecError("malformed statement table")
        statements.frombytes(data)
    decoded = decode_module(facts, lazy=True) if facts is not None else None
    if decoded is not None and decoded.path != path:
        raise CodecError("cache entry of another file")
    return FileFacts(path, digest, decoded, statements, said)


class IndexCache:
    """Per-file facts from the last run, reused while a file's content hash is
    unchanged. Stored as validated JSON (`cache_store`): never code.

    Two files: the base (`index-<key>.json`, every file's entry, and a token
    naming this version of it) and a delta (`indexdelta-<key>.json`, the
    entries changed since, and the token of the base they amend). A run that
    re-summarised a few files writes only the delta: pre-commit's one edited
    file no longer rewrites megabytes of facts. A delta of another base (a
    concurrent run rewrote it) is ignored; once the delta grows past a
    twentieth of the base, the base is rewritten and the delta dropped."""

    KIND = "backlint-index-3"
    DELTA_KIND = "backlint-index-delta"
    # Entries a delta may hold before the base is rewritten: this, or a
    # twentieth of the base, whichever is larger.
    DELTA_MIN = 32

    def __init__(self, root: Path, read: bool = True) -> None:
        """`read=False`: start from nothing (the files on disk turned out
        malformed, `StaleFacts`) and write a new base."""
        self.directory = root / CACHE_DIR
        self.key = _cache_key()
        self.path = self.directory / f"index-{self.key}.json"
        self.delta_path = self.directory / f"indexdelta-{self.key}.json"
        self._raw: dict[str, Any] | None = None if read else {}  # read on first use
        self._base: dict[str, Any] = {}  # the base's entries
        self._delta: dict[str, Any] = {}  # the delta's entries (of this base)
        self._token: str | None = None  # the base's token
        self.used: dict[str, Any] = {}  # path -> raw entry reused this run

    @property
    def raw(self) -> dict[str, Any]:
        if self._raw is None:
            payload = read_json(self.path, self.KIND, self.key) or {}
            token, files = payload.get("token"), payload.get("files")
            if type(token) is str and type(files) is dict:
                self._token, self._base = token, files
                delta = read_json(self.delta_path, self.DELTA_KIND, self.key) or {}
                changed = delta.get("files")
                if delta.get("base") == token and type(changed) is dict:
                    self._delta = changed
            self._raw = {**self._base, **self._delta}
        return self._raw

    def get(self, file: SourceFile, digest: str) -> FileFacts | None:
        path = str(file.path)
        raw = self.raw.get(path)
        if type(raw) is not list or not raw or raw[0] != digest:
            return None
        try:
            entry = _decode_entry(path, raw)
        except (CodecError, RecursionError, MemoryError):
            return None
        self.used[path] = raw
        return entry

    def save(self, entries: dict[str, FileFacts]) -> None:
        raw = self.raw
        if len(self.used) == len(entries) == len(raw):
            return  # every entry came from the cache: nothing to write
        payload: dict[str, Any] = {}
        fresh: dict[str, Any] = {}
        for path, entry in entries.items():
            if not entry.digest:
                continue
            reused = self.used.get(path)
            if reused is not None:
                payload[path] = reused
                continue
            try:
                payload[path] = fresh[path] = _encode_entry(entry)
            except RecursionError:
                continue  # facts too deep to write: summarised again next time
        delta = {**{p: e for p, e in self._delta.items() if p in payload}, **fresh}
        limit = max(self.DELTA_MIN, len(self._base) // 20)
        if self._token is not None and len(delta) <= limit:
            if delta != self._delta:
                write_json(
                    self.directory,
                    self.delta_path.name,
                    self.DELTA_KIND,
                    self.key,
                    {"base": self._token, "files": delta},
                )
            return
        token = os.urandom(8).hex()
        write_json(
            self.directory, self.path.name, self.KIND, self.key, {"token": token, "files": payload}
        )
        with contextlib.suppress(OSError):
            self.delta_path.unlink()


def chunks(items: Sequence[SourceFile], size: int) -> list[Sequence[SourceFile]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True, slots=True)
class IndexResult:
    index: ProjectIndex
    # path -> statement table; None when the file could not be parsed, or
    # only after downgrading newer syntax (positions then come from LibCST).
    tables: dict[str, array[int] | None]
    # What the index says, line numbers aside: the findings cache's key for
    # everything a file's lint read of other files ("" when built without a
    # cache: nothing keys on it then).
    digest: str = ""
    # Module name -> what its facts say (the module the index holds under
    # that name): the values of the findings cache's `m:` dependency keys.
    modules: dict[str, str] = field(default_factory=dict)


def build_index(
    files: Sequence[SourceFile],
    executor: Executor | Callable[[], Executor] | None,
    cache: IndexCache | None,
    root: Path | None = None,
    hashes: Mapping[str, str] | None = None,
) -> IndexResult:
    """The index of `files`, with the statement tables of each (and, given the
    project `root`, the requirements it declares). `hashes`: the files'
    content hashes, when the caller has them already. `executor` may be a
    factory: a pool is then started only when enough files are not cached."""
    load_semantics()
    digests = cache is not None  # what the findings cache is keyed by
    results: dict[str, FileFacts] = {}
    todo: list[SourceFile] = []
    for file in files:
        cached = None
        if cache is not None:
            known = hashes.get(str(file.path)) if hashes is not None else None
            digest = known if known is not None else file_hash(file)
            cached = cache.get(file, digest) if digest else None
        if cached is not None:
            results[cached.path] = cached
        else:
            todo.append(file)
    if executor is not None and len(todo) >= PARALLEL_THRESHOLD:
        pool = executor if isinstance(executor, Executor) else executor()
        try:
            collect_chunk = functools.partial(_collect_chunk, digests=digests)
            for batch in pool.map(collect_chunk, chunks(todo, 16)):
                for entry in batch:
                    results[entry.path] = entry
        finally:
            if pool is not executor:
                pool.shutdown()
    else:
        for file in todo:
            entry = collect(file, digests)
            results[entry.path] = entry
    if cache is not None:
        cache.save(results)
    ordered = [results[str(f.path)] for f in files]
    index = ProjectIndex(entry.facts for entry in ordered if entry.facts is not None)
    if root is not None:
        index.requirements = declared_requirements(root)
    said = hashlib.blake2b(json.dumps(sorted(index.requirements.items())).encode(), digest_size=16)
    for entry in sorted(ordered, key=lambda e: e.path):
        said.update(f"{entry.path}\0{entry.facts_digest if entry.facts else '-'}\n".encode())
    tables = {e.path: e.statements if e.facts else None for e in ordered}
    modules: dict[str, str] = {}
    if digests:
        for entry in ordered:
            if entry.facts is not None:
                modules.setdefault(entry.facts.module, entry.facts_digest)
    return IndexResult(index, tables, said.hexdigest() if digests else "", modules)


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
