"""`backlint check` as a function: discover, index, lint in parallel, sort."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import multiprocessing
import os
import sys
from array import array
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backlint.config import Config
from backlint.engine.cache_store import content_hash
from backlint.engine.files import SourceFile, discover
from backlint.engine.findings_cache import FindingsCache, project_digest
from backlint.engine.reading import file_hash
from backlint.engine.settings import RunSettings
from backlint.registry import ENGINE_CODES, SelectedRules, SelectionLayer, resolve_selection
from backlint.types import Finding

# The index, the runner and the walker (and LibCST with them) are imported
# once a file must be linted: a fully warm run answers from the findings cache.
if TYPE_CHECKING:
    from backlint.engine.fixes import FileFix, FixMode
    from backlint.semantics.index import ProjectIndex


@dataclass(frozen=True, slots=True)
class CheckResult:
    findings: list[Finding]
    files: int  # files linted
    # With a FixMode: the files whose fixes were computed (findings are then
    # those left after fixing).
    fixes: list[FileFix] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)  # the files linted
    # (display path, reason): what discovery passed over (a FIFO named *.py,
    # a symlink loop, an unreadable directory); the CLI warns about each.
    skipped: list[tuple[str, str]] = field(default_factory=list)


def settings_for(config: Config, cli: SelectionLayer | None = None) -> RunSettings:
    layers = [SelectionLayer(config.select, config.extend_select, config.ignore)]
    if cli is not None:
        layers.append(cli)
    selected = resolve_selection(layers)
    return RunSettings(
        rules=SelectedRules(selected - {c.code for c in ENGINE_CODES}),
        options=dict(config.rule_options),
        per_file_ignores=config.per_file_ignores,
        root=config.root,
        engine_codes=frozenset(c.code for c in ENGINE_CODES if c.code in selected),
    )


def _is_below(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _pool(jobs: int, initargs: tuple[Any, ...] = ()) -> ProcessPoolExecutor:
    # fork: workers inherit the index and generated walker code instead of
    # unpickling them; elsewhere the initializer hands them over.
    method = "fork" if sys.platform == "linux" else None
    context = multiprocessing.get_context(method)
    if initargs:
        return ProcessPoolExecutor(
            jobs, mp_context=context, initializer=_init_worker, initargs=initargs
        )
    return ProcessPoolExecutor(jobs, mp_context=context)


_WORKER: dict[str, Any] = {}


def _init_worker(
    settings: RunSettings, index: ProjectIndex, fix: FixMode | None = None, track: bool = False
) -> None:
    from backlint.engine import walker

    index.prepare()
    walker.warm_up()
    _WORKER.update(settings=settings, index=index, fix=fix, track=track)


def _lint_chunk(
    task: tuple[Sequence[SourceFile], dict[str, array[int] | None]],
) -> tuple[list[Finding], dict[str, list[str] | None] | None]:
    from backlint.engine.runner import lint_many

    files, tables = task
    reads: dict[str, list[str] | None] | None = {} if _WORKER.get("track") else None
    return lint_many(files, _WORKER["settings"], _WORKER["index"], tables, reads), reads


def _fix_chunk(
    task: tuple[Sequence[SourceFile], dict[str, array[int] | None]],
) -> tuple[list[Finding], list[FileFix]]:
    from backlint.engine.fixes import fix_many

    files, tables = task
    mode: FixMode = _WORKER["fix"]
    return fix_many(files, _WORKER["settings"], _WORKER["index"], tables, mode.unsafe)


def requirement_files(root: Path) -> str:
    """The declared requirements' files, as the index reads them (their
    content is part of what the findings depend on)."""
    paths = [root / "pyproject.toml", *sorted(root.glob("requirements*.txt"))]
    paths += sorted(root.glob("requirements/*.txt"))
    parts = []
    for path in paths:
        try:
            parts.append(f"{path.name}:{content_hash(path.read_bytes())}")
        except OSError:
            continue
    return ";".join(parts)


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def check(
    targets: Sequence[Path],
    config: Config,
    settings: RunSettings,
    *,
    cwd: Path,
    jobs: int | None = None,
    use_cache: bool = True,
    fix: FixMode | None = None,
) -> CheckResult:
    """Lint `targets` (files or directories) with the project index of `config.root`.

    With `fix`, each file's applicable fixes are applied in memory (see
    `engine.fixes`); writing them is the caller's choice."""
    from backlint.engine.cache_store import StaleFacts

    with few_collections():
        try:
            return _check(targets, config, settings, cwd, jobs, use_cache, fix)
        except StaleFacts:
            # Cached facts decoded late were malformed (a crafted or damaged
            # cache): start over, summarising every file afresh.
            return _check(targets, config, settings, cwd, jobs, use_cache, fix, read_index=False)


# Allocations between two collections of the youngest generation during a run.
GC_THRESHOLD = 50_000


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    """A run allocates millions of short-lived objects (parse trees, facts)
    and makes few cycles: the cyclic GC's default (a collection every 700
    allocations) costs a tenth of a run, and of decoding a cached index."""
    before = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _check(
    targets: Sequence[Path],
    config: Config,
    settings: RunSettings,
    cwd: Path,
    jobs: int | None,
    use_cache: bool,
    fix: FixMode | None,
    read_index: bool = True,
) -> CheckResult:
    jobs = jobs or default_jobs()
    if fix is not None and not settings.want_edits:
        settings = dataclasses.replace(settings, want_edits=True)
    skipped: list[tuple[str, str]] = []
    files = discover(targets, config.root, config.exclude_patterns, cwd, skipped)
    absolute = [t if t.is_absolute() else cwd / t for t in targets]
    # realpath, not resolve(): a symlink loop among the targets must not raise.
    root = Path(os.path.realpath(config.root))
    if all(_is_below(Path(os.path.realpath(t)), root) for t in absolute):
        # The index covers the whole project, even when only a few files are
        # linted (pre-commit passes the changed ones).
        if [Path(os.path.realpath(t)) for t in absolute] == [root]:
            project = list(files)  # the targets are the project: walked once
        else:
            project = discover([config.root], config.root, config.exclude_patterns, cwd, [])
            known = {f.path for f in project}
            project += [f for f in files if f.path not in known]
    else:
        project = files
    # The findings cache (not when fixing: fixes are computed afresh).
    found: FindingsCache | None = None
    hashes: dict[str, str] | None = None
    cached: dict[str, list[Finding]] = {}
    project_state = ""
    if use_cache and fix is None:
        found = FindingsCache(config.root, settings, cwd)
        hashes = {}
        for file in [*project, *files]:
            if str(file.path) not in hashes:
                hashes[str(file.path)] = file_hash(file)
        project_state = project_digest(hashes.items(), requirement_files(config.root))
        index_digest = found.index_digest_for(project_state)
        if index_digest is not None:
            for file in files:
                hit = found.get(str(file.path), file.display, hashes[str(file.path)], index_digest)
                if hit is not None:
                    cached[str(file.path)] = hit
            if len(cached) == len(files):
                # Fully warm: not even the index is needed.
                findings = [f for hit in cached.values() for f in hit]
                findings.sort()
                return CheckResult(findings, len(files), [], [f.path for f in files], skipped)

    from backlint.engine import walker
    from backlint.engine.dependencies import Dependencies
    from backlint.engine.index import PARALLEL_THRESHOLD, IndexCache, build_index, chunks
    from backlint.engine.runner import lint_many

    parallel = jobs > 1 and len(project) >= PARALLEL_THRESHOLD
    cache = IndexCache(config.root, read=read_index) if use_cache else None
    indexed = build_index(
        project, (lambda: _pool(jobs)) if parallel else None, cache, config.root, hashes
    )
    index, tables = indexed.index, indexed.tables
    to_lint = files
    dependencies: Dependencies | None = None
    if found is not None and hashes is not None:
        # Entries are valid for the index as it is now, whatever it was, or
        # when what their file read of the index is unchanged.
        dependencies = Dependencies(index, indexed.modules)
        cached = {}
        for file in files:
            path = str(file.path)
            hit = found.get(path, file.display, hashes[path], indexed.digest, dependencies)
            if hit is not None:
                cached[path] = hit
        to_lint = [f for f in files if str(f.path) not in cached]
    # path -> what its lint read of the index, for the findings cache.
    reads: dict[str, list[str] | None] | None = {} if dependencies is not None else None
    serial = not (jobs > 1 and len(to_lint) >= PARALLEL_THRESHOLD)
    if not serial:
        # Workers inherit the views and the generated getters; a serial run
        # (pre-commit's few files) computes only the views its rules ask for,
        # and generates only the getters of the nodes it meets.
        index.prepare()
        walker.warm_up()
    # The index lives until the end: keep the cyclic GC from re-scanning it at
    # every collection (and forked workers from touching its pages).
    gc.freeze()

    fixes: list[FileFix] = []
    if serial:
        if fix is None:
            findings = lint_many(to_lint, settings, index, tables, reads)
        else:
            from backlint.engine.fixes import fix_many

            findings, fixes = fix_many(files, settings, index, tables, fix.unsafe)
    else:
        _WORKER.update(settings=settings, index=index, fix=fix, track=reads is not None)
        initargs: tuple[Any, ...] = (
            () if sys.platform == "linux" else (settings, index, fix, reads is not None)
        )
        size = max(1, min(8, len(to_lint) // (jobs * 8)))
        tasks = [
            (batch, {str(f.path): tables[str(f.path)] for f in batch if str(f.path) in tables})
            for batch in chunks(to_lint, size)
        ]
        with _pool(jobs, initargs) as pool:
            if fix is None:
                findings = []
                for batch, batch_reads in pool.map(_lint_chunk, tasks):
                    findings += batch
                    if reads is not None and batch_reads is not None:
                        reads.update(batch_reads)
            else:
                findings = []
                for batch_findings, batch_fixes in pool.map(_fix_chunk, tasks):
                    findings += batch_findings
                    fixes += batch_fixes
        _WORKER.clear()
    if found is not None and hashes is not None:
        by_display: dict[str, list[Finding]] = {f.display: [] for f in to_lint}
        for finding in findings:
            if finding.path in by_display:
                by_display[finding.path].append(finding)
        for file in to_lint:
            path = str(file.path)
            content = hashes[path]
            if not content:
                continue
            keys = reads.get(path) if reads is not None else None
            said = dependencies.digest(keys) if dependencies and keys is not None else None
            found.put(path, content, indexed.digest, by_display[file.display], keys, said)
        found.save(project_state, indexed.digest, set(hashes))
        findings += [f for hit in cached.values() for f in hit]
    findings.sort()
    fixes.sort(key=lambda f: f.display)
    return CheckResult(findings, len(files), fixes, [f.path for f in files], skipped)
