"""Linting one file: read, decide which rules can fire, parse once, walk once,
turn reports into findings. Nothing a file or a rule does stops the run."""

from __future__ import annotations

import signal
import threading
import traceback
from array import array
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import libcst as cst

from backlint.engine.dependencies import keys_of
from backlint.engine.files import SourceFile
from backlint.engine.positions import Span, code_in_place, node_spans
from backlint.engine.reading import SourceError, read_source
from backlint.engine.settings import RunSettings
from backlint.engine.source import decode, parse, too_deep, too_deep_to_parse
from backlint.engine.suppression import PerFileIgnores, ignored, parse_noqa, unused_noqa
from backlint.engine.walker import Dispatch, Walker
from backlint.registry import PARSE_ERROR, RULE_ERROR, UNUSED_NOQA
from backlint.rule import Report, Rule
from backlint.semantics.context import FileContext
from backlint.semantics.index import ProjectIndex, recording
from backlint.types import Edit, Finding, Fix

_NO_TABLE = object()


def lint_path(
    file: SourceFile,
    settings: RunSettings,
    index: ProjectIndex,
    table: array[int] | object | None = _NO_TABLE,
) -> list[Finding]:
    """Lint a file on disk. `table`: its statement table from the index pass,
    None when that pass could not parse it, absent when it was not indexed."""
    try:
        data = read_source(file.path)
    except OSError as exc:
        return _engine_finding(file, settings, PARSE_ERROR.code, f"cannot read: {exc.strerror}")
    except SourceError as exc:
        return _engine_finding(file, settings, PARSE_ERROR.code, exc.message, exc.line, exc.column)
    try:
        source = decode(data).text
    except SourceError as exc:
        return _engine_finding(file, settings, PARSE_ERROR.code, exc.message, exc.line, exc.column)
    if table is _NO_TABLE:
        return lint_text(file, source, settings, index)
    return lint_text(
        file, source, settings, index, table if isinstance(table, array) else None, table is None
    )


def lint_text(
    file: SourceFile,
    source: str,
    settings: RunSettings,
    index: ProjectIndex,
    table: array[int] | None = None,
    ast_failed: bool = False,
) -> list[Finding]:
    """Every finding of the selected rules on one file's decoded text.

    `ast_failed`: the index pass could not parse the file, so it is parsed even
    when no rule applies, to report why.
    """
    # (line, code) of the findings a noqa comment suppressed, for BKL003.
    suppressed: list[tuple[int, str]] | None = (
        [] if UNUSED_NOQA.code in settings.engine_codes else None
    )
    try:
        with _budget(settings.time_budget):
            findings = _lint(file, source, settings, index, table, ast_failed, suppressed)
            if suppressed is not None and ("noqa" in source or "NOQA" in source):
                findings += _unused_noqa(file, source, settings, suppressed)
        return findings
    except OverBudget:
        return _engine_finding(
            file,
            settings,
            RULE_ERROR.code,
            f"backlint gave up on this file after {settings.time_budget:g} s (its time budget)",
        )
    except SourceError as exc:
        return _engine_finding(file, settings, PARSE_ERROR.code, exc.message, exc.line, exc.column)
    except RecursionError:
        # Nesting deeper than LibCST's recursive codegen follows (rules' own
        # recursion is caught per rule by the walker): a parse error, not a bug.
        err = too_deep(source)
        return _engine_finding(file, settings, PARSE_ERROR.code, err.message, err.line, err.column)
    except Exception as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return _engine_finding(
            file, settings, RULE_ERROR.code, f"backlint failed on this file: {detail}"
        )


class OverBudget(BaseException):
    """A file's lint ran past `RunSettings.time_budget` (a BaseException, so
    that no rule's `except Exception` swallows it)."""


def _over_budget(signum: int, frame: object) -> None:
    raise OverBudget


@contextmanager
def _budget(seconds: float) -> Iterator[None]:
    """Interrupt the lint of one file after `seconds` of wall time. A timer
    signal needs the main thread (each worker lints there; so does flake8);
    elsewhere the file runs unbounded, as it did before."""
    usable = (
        seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _over_budget)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _relative(file: SourceFile, root: Path) -> PurePosixPath:
    try:
        return PurePosixPath(file.path.relative_to(root).as_posix())
    except ValueError:
        return PurePosixPath(file.path.name)


def _lint(
    file: SourceFile,
    source: str,
    settings: RunSettings,
    index: ProjectIndex,
    table: array[int] | None,
    ast_failed: bool,
    suppressed: list[tuple[int, str]] | None = None,
) -> list[Finding]:
    per_file = PerFileIgnores(settings.per_file_ignores).selectors_for(
        _relative(file, settings.root)
    )
    packages = index.packages | _own_packages(index, file)
    # Rules that failed before visiting anything (in `applies` or `__init__`).
    setup_failures: list[tuple[str, BaseException]] = []
    rules: list[type[Rule]] = []
    for rule in settings.rules:
        if ignored(rule.code, rule.group, per_file):
            continue
        try:
            options = settings.options_for(rule)
            if rule.applies(file, source, packages, options) and rule.wants(
                index, file, source, options
            ):
                rules.append(rule)
        except Exception as exc:
            setup_failures.append((rule.code, exc))
    if not rules and not ast_failed and not setup_failures:
        return []
    if table is None:
        # CPython's parser did not take the file (or was not asked): LibCST
        # must not see nesting that overflows its native parser.
        limit = too_deep_to_parse(source)
        if limit is not None:
            raise limit
    tree = parse(source)
    errors = _setup_errors(file, settings, per_file, setup_failures)
    if not rules:
        return errors
    ctx = FileContext(
        path=file.display,
        module=file.module,
        is_package=file.is_package,
        is_test=file.is_test,
        source=source,
        tree=tree,
        index=index,
    )
    instances: list[Rule] = []
    for rule in rules:
        try:
            instances.append(rule(ctx, settings.options_for(rule)))
        except Exception as exc:
            setup_failures.append((rule.code, exc))
    errors = _setup_errors(file, settings, per_file, setup_failures)
    walker = Walker(ctx, Dispatch(instances))
    walker.walk()

    reports: list[tuple[Rule, Report]] = []
    for instance in instances:
        if instance not in walker.failures:
            reports.extend((instance, report) for report in instance.reports)
    nodes: list[cst.CSTNode] = [report.node for _, report in reports]
    nodes += [node for node, _ in walker.failures.values()]
    if not nodes:
        return errors
    replaced = (
        [r.node for _, r in reports if r.replacement is not None] if settings.want_edits else []
    )
    spans = node_spans(tree, source, nodes, ctx.parents, replaced, table)
    noqa = parse_noqa(source)
    findings: list[Finding] = list(errors)
    for instance, report in reports:
        line, column, end_line, end_column = spans.syntactic[id(report.node)]
        if noqa.suppresses(line, instance.code):
            if suppressed is not None:
                suppressed.append((line, instance.code))
            continue
        fix = report.fix
        if report.replacement is not None and fix is not None and settings.want_edits:
            raw = spans.raw[id(report.node)]
            edit = _edit(tree, report.node, raw, report.replacement, ctx.parents)
            fix = Fix(fix.applicability, fix.message, (edit,))
        findings.append(
            Finding(
                file.display,
                line,
                column,
                instance.code,
                end_line,
                end_column,
                instance.name,
                report.message,
                fix,
            )
        )
    if RULE_ERROR.code in settings.engine_codes and not ignored(
        RULE_ERROR.code, "default", per_file
    ):
        for owner, (node, error) in walker.failures.items():
            line, column, end_line, end_column = spans.syntactic[id(node)]
            if noqa.suppresses(line, RULE_ERROR.code):
                if suppressed is not None:
                    suppressed.append((line, RULE_ERROR.code))
                continue
            code = getattr(owner, "code", "?")
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            findings.append(
                Finding(
                    file.display,
                    line,
                    column,
                    RULE_ERROR.code,
                    end_line,
                    end_column,
                    RULE_ERROR.name,
                    f"rule {code} failed on this file: {detail}",
                )
            )
    return findings


def _unused_noqa(
    file: SourceFile, source: str, settings: RunSettings, suppressed: list[tuple[int, str]]
) -> list[Finding]:
    """BKL003 for the noqa codes that suppressed nothing (see `unused_noqa`)."""
    per_file = PerFileIgnores(settings.per_file_ignores).selectors_for(
        _relative(file, settings.root)
    )
    if ignored(UNUSED_NOQA.code, UNUSED_NOQA.group, per_file):
        return []
    enabled = {r.code for r in settings.rules if not ignored(r.code, r.group, per_file)}
    enabled |= {c for c in settings.engine_codes if not ignored(c, "default", per_file)}
    return [
        Finding(file.display, line, column, UNUSED_NOQA.code, line, end, UNUSED_NOQA.name, text)
        for line, column, end, text in unused_noqa(source, enabled, suppressed)
    ]


def _setup_errors(
    file: SourceFile,
    settings: RunSettings,
    per_file: Sequence[str],
    failures: list[tuple[str, BaseException]],
) -> list[Finding]:
    """BKL002 for rules that failed before visiting the file (line 1)."""
    findings: list[Finding] = []
    for code, exc in failures:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        findings += _engine_finding(
            file, settings, RULE_ERROR.code, f"rule {code} failed on this file: {detail}"
        )
    return findings


def _edit(
    tree: cst.Module,
    node: cst.CSTNode,
    span: Span,
    replacement: cst.CSTNode,
    parents: Mapping[int, cst.CSTNode],
) -> Edit:
    """The smallest edit turning `node`'s code into `replacement`'s: the common
    prefix and suffix of the two texts are left alone. Both are generated with
    the indentation in force at `node`, so that columns count from the file's
    line starts (a method's `def` is not at column 1)."""
    old = code_in_place(tree, node, parents)
    new = code_in_place(tree, replacement, parents, like=node)
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    line, column, _, _ = span
    start = _advance(line, column, old[:prefix])
    end = _advance(line, column, old[: len(old) - suffix])
    return Edit(*start, *end, new[prefix : len(new) - suffix])


def _advance(line: int, column: int, text: str) -> tuple[int, int]:
    """The position after `text` written from (line, column)."""
    breaks = text.count("\n")
    if not breaks:
        return line, column + len(text)
    return line + breaks, len(text) - text.rfind("\n")


def _own_packages(index: ProjectIndex, file: SourceFile) -> frozenset[str]:
    facts = index.modules.get(file.module)
    return facts.imported_packages if facts is not None else frozenset()


def _engine_finding(
    file: SourceFile, settings: RunSettings, code: str, message: str, line: int = 1, column: int = 1
) -> list[Finding]:
    if code not in settings.engine_codes:
        return []
    per_file = PerFileIgnores(settings.per_file_ignores).selectors_for(
        _relative(file, settings.root)
    )
    if ignored(code, "default", per_file):
        return []
    name = PARSE_ERROR.name if code == PARSE_ERROR.code else RULE_ERROR.name
    return [Finding(file.display, line, column, code, line, column, name, message)]


def lint_many(
    files: Sequence[SourceFile],
    settings: RunSettings,
    index: ProjectIndex,
    tables: Mapping[str, array[int] | None],
    reads: dict[str, list[str] | None] | None = None,
) -> list[Finding]:
    """A batch of files, with the statement tables of the index pass.
    `reads`: filled with what each file's lint read of the index (its
    dependency keys, None for the whole index), for the findings cache."""
    out: list[Finding] = []
    for file in files:
        table = tables.get(str(file.path), _NO_TABLE)
        if reads is None:
            out.extend(lint_path(file, settings, index, table))
            continue
        with recording() as read:
            out.extend(lint_path(file, settings, index, table))
        reads[str(file.path)] = keys_of(read)
    return out
