"""The per-file findings cache: a warm run re-lints only what changed.

A file's cached findings are reused when all of these are what they were:
- its content hash;
- the run's settings (backlint's version and the digest of its own code,
  the selected rules, their options, per-file ignores, engine codes, whether
  fix edits are computed), which name the cache file;
- what its lint read of the project index (`dependencies`): the facts of
  the modules it looked up, the views it read (a data view's value, a
  tracked view's built state), the packages, module names and
  requirements, by a digest of their values; or, for a file whose lint
  walked every module's facts, the digest of every file's facts, line
  numbers left out (no rule reads them). An edit that changes no fact (a
  function body, comments, moved code) keeps both: only the edited file is
  linted again. An edit that changes a fact (a model field, a route's
  signature) re-lints the files that read that module or a view it
  changed.

When every file of the project hashes as it did, the index digest is known
without the index: the fully warm run reads the files, this cache and
nothing else (no LibCST, no facts).

The file is JSON (`cache_store`), validated entry by entry: a malformed entry
is a miss.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backlint import __version__
from backlint.engine.cache_store import CACHE_DIR, read_json, write_json
from backlint.types import Edit, Finding, Fix, FixKind

if TYPE_CHECKING:
    from backlint.engine.dependencies import Dependencies
    from backlint.engine.settings import RunSettings

KIND = "backlint-findings"
# Findings files kept for other settings (a pre-commit selection beside CI's).
_KEEP_SETTINGS = 4


def _code_digest() -> str:
    """Every module of the installed backlint: a changed rule is a new cache."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.blake2b(__version__.encode(), digest_size=16)
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def canonical(value: Any) -> Any:
    """Options and index views as JSON data in one order (a frozenset's repr
    is not stable from one process to the next). What has no data form is
    its repr: an object's repr names its address, so a value holding one
    never digests the same twice (a miss, never a stale hit)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [
            type(value).__name__,
            {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)},
        ]
    if isinstance(value, (set, frozenset)):
        return sorted((canonical(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return sorted([repr(k), canonical(v)] for k, v in value.items())
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def settings_digest(settings: RunSettings, cwd: Path, front: str = "cli") -> str:
    """The settings a run's findings depend on; `cwd` too, since messages
    may name other files by their display path, and the front end (the
    flake8 plugin keys files by their decoded text, the CLI by their bytes)."""
    options = {code: canonical(value) for code, value in settings.options.items()}
    text = json.dumps(
        [
            _code_digest(),
            str(cwd),
            front,
            sorted(settings.codes),
            options,
            [list(pair) for pair in settings.per_file_ignores],
            str(settings.root),
            sorted(settings.engine_codes),
            settings.want_edits,
            settings.time_budget,
        ],
        sort_keys=True,
    )
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def project_digest(hashes: Iterable[tuple[str, str]], extra: str = "") -> str:
    """A digest of (path, content hash) pairs: the state of the project's files."""
    digest = hashlib.blake2b(extra.encode(), digest_size=16)
    for path, content in sorted(hashes):
        digest.update(f"{path}\0{content}\n".encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# Findings as data (the display path is the file's own, added on load).


def _encode_finding(f: Finding) -> list[Any]:
    fix = None
    if f.fix is not None:
        edits = [[e.line, e.column, e.end_line, e.end_column, e.content] for e in f.fix.edits]
        fix = [f.fix.applicability.value, f.fix.message, edits]
    return [f.line, f.column, f.code, f.end_line, f.end_column, f.name, f.message, fix]


def _int(v: Any) -> int:
    if type(v) is not int:
        raise ValueError("expected an integer")
    return v


def _str(v: Any) -> str:
    if type(v) is not str:
        raise ValueError("expected a string")
    return v


def _decode_finding(display: str, raw: Any) -> Finding:
    if type(raw) is not list or len(raw) != 8:
        raise ValueError("malformed finding")
    line, column, code, end_line, end_column, name, message, fix = raw
    decoded_fix = None
    if fix is not None:
        if type(fix) is not list or len(fix) != 3 or type(fix[2]) is not list:
            raise ValueError("malformed fix")
        edits = []
        for edit in fix[2]:
            if type(edit) is not list or len(edit) != 5:
                raise ValueError("malformed edit")
            line_, column_, end_line_, end_column_, content = edit
            edits.append(
                Edit(_int(line_), _int(column_), _int(end_line_), _int(end_column_), _str(content))
            )
        decoded_fix = Fix(FixKind(_str(fix[0])), _str(fix[1]), tuple(edits))
    return Finding(
        display,
        _int(line),
        _int(column),
        _str(code),
        _int(end_line),
        _int(end_column),
        _str(name),
        _str(message),
        decoded_fix,
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock for a read-merge-write of the findings file: without
    it, flake8's workers saving at once lost each other's entries, and a
    `-j2` run was never fully warm. Where no lock can be taken (a read-only
    tree, no `fcntl`), the merge goes on unlocked: a lost entry is a miss."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    try:
        path.parent.mkdir(exist_ok=True)
        handle = path.open("a")
    except OSError:
        yield
        return
    with handle:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class FindingsCache:
    """path -> (content hash, index digest, findings[, dependency keys, their
    digest]) for one set of settings."""

    def __init__(self, root: Path, settings: RunSettings, cwd: Path, front: str = "cli") -> None:
        self.directory = root / CACHE_DIR
        self.key = settings_digest(settings, cwd, front)
        self.path = self.directory / f"findings-{self.key}.json"
        payload = read_json(self.path, KIND, f"{__version__}/{self.key}") or {}
        project = payload.get("project")
        files = payload.get("files")
        # The project digest the stored index digest was computed from.
        self.project: str | None = project if type(project) is str else None
        index = payload.get("index")
        self.index: str | None = index if type(index) is str else None
        self.files: dict[str, Any] = files if type(files) is dict else {}
        self.changed = False
        self.new: dict[str, Any] = {}  # entries put by this process

    def index_digest_for(self, project: str) -> str | None:
        """The index digest, when the project's files are those it was computed from."""
        return self.index if project == self.project else None

    def get(
        self,
        path: str,
        display: str,
        content: str,
        index: str,
        dependencies: Dependencies | None = None,
    ) -> list[Finding] | None:
        """The findings stored for `path`, when its content is `content` and
        they were found with the index digesting as `index`, or (given the
        index's `dependencies`) when what the file read of it is unchanged."""
        raw = self.files.get(path)
        if type(raw) is not list or len(raw) not in (3, 5) or raw[0] != content:
            return None
        if type(raw[2]) is not list:
            return None
        if raw[1] != index:
            if dependencies is None or len(raw) != 5:
                return None
            keys, said = raw[3], raw[4]
            if type(keys) is not list or any(type(k) is not str for k in keys):
                return None
            if type(said) is not str or dependencies.digest(keys) != said:
                return None
            # Valid for this index too: the next fully warm run takes it as is.
            self.files[path] = self.new[path] = [content, index, raw[2], keys, said]
            self.changed = True
        try:
            return [_decode_finding(display, item) for item in raw[2]]
        except (ValueError, TypeError):
            return None

    def put(
        self,
        path: str,
        content: str,
        index: str,
        findings: list[Finding],
        keys: list[str] | None = None,
        said: str | None = None,
    ) -> None:
        """Store a file's findings; `keys` and `said`: what its lint read of
        the index and their digest (without them, the whole index's)."""
        entry: list[Any] = [content, index, [_encode_finding(f) for f in findings]]
        if keys is not None and said is not None:
            entry += [keys, said]
        self.files[path] = self.new[path] = entry
        self.changed = True

    def save(self, project: str, index: str, paths: set[str]) -> None:
        """Write the entries of `paths` (the project's files) with the digests."""
        if not self.changed and self.project == project and self.index == index:
            return
        files = {p: entry for p, entry in self.files.items() if p in paths}
        payload = {"project": project, "index": index, "files": files}
        write_json(
            self.directory,
            self.path.name,
            KIND,
            f"{__version__}/{self.key}",
            payload,
            keep=_KEEP_SETTINGS,
        )

    def merge_save(self, project: str, index: str, paths: set[str]) -> None:
        """Save what this process added to what others wrote meanwhile (the
        flake8 plugin's worker processes each lint a share of the files)."""
        if not self.new:
            return
        with _locked(self.directory / f".findings-{self.key}.lock"):
            self._merge_save(project, index, paths)

    def _merge_save(self, project: str, index: str, paths: set[str]) -> None:
        payload = read_json(self.path, KIND, f"{__version__}/{self.key}") or {}
        files = payload.get("files")
        if type(files) is dict and payload.get("project") == project:
            self.files = {**files, **self.new}
        else:
            self.files = dict(self.new)
        self.project = None  # force the write
        self.save(project, index, paths)
