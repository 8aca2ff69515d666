"""The flake8 plugin: the same engine and findings, as flake8 tuples.

flake8 hands over the file's lines and `ast` tree; the file is re-parsed with
LibCST from those lines (so editors' unsaved buffers work), the statement
positions come from flake8's tree, and the project index is built once per
process (from the on-disk cache when it is current), only when a file is
not answered from the findings cache the CLI uses too (keyed here by the
text flake8 read; each worker process merges its entries at exit). A file outside any
project, or read from stdin, gets an index of itself only, marked incomplete,
so that cross-file rules stay silent rather than guess.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from functools import cache
from multiprocessing.util import Finalize
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backlint import __version__
from backlint.config import Config, ConfigError, load_config
from backlint.engine.cache_store import content_hash
from backlint.engine.check import requirement_files, settings_for
from backlint.engine.files import Excluder, discover, source_file
from backlint.engine.findings_cache import FindingsCache, project_digest
from backlint.engine.reading import MAX_SOURCE_BYTES, file_hash
from backlint.registry import PARSE_ERROR, RULE_ERROR

# The index builder and the runner (and LibCST with them) are imported when a
# file is not answered from the findings cache: a warm flake8 run loads neither.
if TYPE_CHECKING:
    from backlint.engine.index import IndexResult
    from backlint.semantics.index import ProjectIndex


class _Project:
    """The project flake8 runs in, once per process: its configuration, its
    files' content hashes, the findings cache, and the index (built only
    when a file is not answered from the cache)."""

    def __init__(self, config: Config, cwd: Path) -> None:
        self.config = config
        self.settings = settings_for(config)
        self.excluder = Excluder(config.root, config.exclude_patterns)
        self.files = discover([config.root], config.root, config.exclude_patterns, config.root)
        self.hashes = {str(f.path): file_hash(f) for f in self.files}
        self.state = project_digest(self.hashes.items(), requirement_files(config.root))
        self.found = FindingsCache(config.root, self.settings, cwd, front="flake8")
        self._indexed: IndexResult | None = None
        Finalize(None, self._save, exitpriority=10)

    def indexed(self) -> IndexResult:
        if self._indexed is None:
            from backlint.engine.cache_store import StaleFacts

            try:
                self._indexed = self._build(read=True)
            except StaleFacts:
                self._indexed = self._build(read=False)
        return self._indexed

    def _build(self, read: bool) -> IndexResult:
        from backlint.engine.index import IndexCache, build_index

        cache = IndexCache(self.config.root, read=read)
        built = build_index(self.files, None, cache, self.config.root, self.hashes)
        built.index.prepare()
        return built

    def reindex(self) -> ProjectIndex:
        """The index summarised afresh: cached facts decoded late were
        malformed (`StaleFacts`)."""
        self._indexed = self._build(read=False)
        return self._indexed.index

    @property
    def index(self) -> ProjectIndex:
        return self.indexed().index

    def index_digest(self) -> str:
        known = self.found.index_digest_for(self.state)
        return known if known is not None else self.indexed().digest

    def _save(self) -> None:
        if self.found.new:
            self.found.merge_save(self.state, self.index_digest(), set(self.hashes))


@cache
def _project(cwd: Path) -> _Project | ConfigError:
    """The configuration and index of the project flake8 runs in (found from
    the working directory, as `backlint check` does), once per process; the
    error when the configuration is invalid."""
    try:
        config = load_config(cwd)
    except ConfigError as exc:
        return exc
    return _Project(config, cwd)


def _is_below(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root.resolve())
    except ValueError:
        return False
    return True


class BacklintChecker:
    """flake8 entry point `BKL`."""

    name = "backlint"
    version = __version__

    def __init__(self, tree: ast.Module, lines: list[str], filename: str) -> None:
        self.tree = tree
        self.lines = lines
        self.filename = filename

    def run(self) -> Iterator[tuple[int, int, str, type[Any]]]:
        source = "".join(self.lines)
        cwd = Path.cwd()
        path = Path(os.path.realpath(self.filename))
        project = _project(cwd)
        if isinstance(project, ConfigError):
            # flake8 has no channel for a plugin's configuration errors: one
            # finding per file keeps it from passing silently.
            yield 1, 0, f"{RULE_ERROR.code} backlint configuration error: {project}", type(self)
            return
        on_disk = self.filename not in ("-", "stdin") and path.is_file()
        cached = None
        if on_disk and _is_below(path, project.config.root):
            if project.excluder.excluded_by_user(path, False):
                return
            file = source_file(path, project.config.root, cwd)
            settings = project.settings
            # Keyed by the text flake8 read (an editor's buffer may differ from the disk).
            key = "t:" + content_hash(source.encode("utf-8", "surrogatepass"))
            digest = project.index_digest()
            hit = project.found.get(str(path), file.display, key, digest)
            if hit is not None:
                for finding in hit:
                    message = f"{finding.code} {finding.message}"
                    yield finding.line, finding.column - 1, message, type(self)
                return
            cached = (str(path), key, digest)
            index = project.index
        else:
            from backlint.engine.index import load_semantics
            from backlint.semantics.facts import summarise
            from backlint.semantics.index import ProjectIndex

            load_semantics()

            file = source_file(path, path.parent, cwd)
            settings = project.settings
            own = summarise(self.tree, file.module, str(path), file.is_package, source)
            index = ProjectIndex([own], complete=False)
            index.prepare()
        size = len(source.encode("utf-8", "surrogatepass"))
        if size > MAX_SOURCE_BYTES and PARSE_ERROR.code in settings.engine_codes:
            mb = f"{size / 1048576:.1f} MB is over the {MAX_SOURCE_BYTES / 1048576:g} MB limit"
            yield 1, 0, f"{PARSE_ERROR.code} not linted: {mb}", type(self)
            return
        from backlint.engine.positions import statement_table
        from backlint.engine.runner import lint_text

        table = (
            statement_table(self.tree, len(source)) if isinstance(self.tree, ast.Module) else None
        )
        from backlint.engine.cache_store import StaleFacts

        try:
            findings = lint_text(file, source, settings, index, table)
        except StaleFacts:
            findings = lint_text(file, source, settings, project.reindex(), table)
        if cached is not None:
            project.found.put(*cached, findings)
        for finding in findings:
            yield finding.line, finding.column - 1, f"{finding.code} {finding.message}", type(self)
