"""The flake8 plugin: the same engine and findings, as flake8 tuples.

flake8 hands over the file's lines and `ast` tree; the file is re-parsed with
LibCST from those lines (so editors' unsaved buffers work), the statement
positions come from flake8's tree, and the project index is built once per
process (from the on-disk cache when it is current). A file outside any
project, or read from stdin, gets an index of itself only, marked incomplete,
so that cross-file rules stay silent rather than guess.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from backlint import __version__
from backlint.config import Config, ConfigError, load_config
from backlint.engine.check import settings_for
from backlint.engine.files import Excluder, discover, source_file
from backlint.engine.index import IndexCache, build_index
from backlint.engine.positions import statement_table
from backlint.engine.runner import RunSettings, lint_text
from backlint.engine.source import MAX_SOURCE_BYTES
from backlint.registry import PARSE_ERROR, RULE_ERROR
from backlint.semantics.facts import summarise
from backlint.semantics.index import ProjectIndex


@dataclass(frozen=True, slots=True)
class _Project:
    config: Config
    settings: RunSettings
    index: ProjectIndex
    excluder: Excluder


@cache
def _project(cwd: Path) -> _Project | ConfigError:
    """The configuration and index of the project flake8 runs in (found from
    the working directory, as `backlint check` does), once per process; the
    error when the configuration is invalid."""
    try:
        config = load_config(cwd)
    except ConfigError as exc:
        return exc
    settings = settings_for(config)
    files = discover([config.root], config.root, config.exclude_patterns, config.root)
    index = build_index(files, None, IndexCache(config.root)).index
    index.prepare()
    return _Project(config, settings, index, Excluder(config.root, config.exclude_patterns))


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
        if on_disk and _is_below(path, project.config.root):
            if project.excluder.excluded_by_user(path, False):
                return
            file = source_file(path, project.config.root, cwd)
            settings, index = project.settings, project.index
        else:
            file = source_file(path, path.parent, cwd)
            settings = project.settings
            own = summarise(self.tree, file.module, str(path), file.is_package)
            index = ProjectIndex([own], complete=False)
            index.prepare()
        size = len(source.encode("utf-8", "surrogatepass"))
        if size > MAX_SOURCE_BYTES and PARSE_ERROR.code in settings.engine_codes:
            mb = f"{size / 1048576:.1f} MB is over the {MAX_SOURCE_BYTES / 1048576:g} MB limit"
            yield 1, 0, f"{PARSE_ERROR.code} not linted: {mb}", type(self)
            return
        table = (
            statement_table(self.tree, len(source)) if isinstance(self.tree, ast.Module) else None
        )
        for finding in lint_text(file, source, settings, index, table):
            yield finding.line, finding.column - 1, f"{finding.code} {finding.message}", type(self)
