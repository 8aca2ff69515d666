"""The `backlint` command."""

from __future__ import annotations

import dataclasses
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from backlint import __version__
from backlint.config import Config, ConfigError, load_config
from backlint.engine.check import CheckResult, check, settings_for
from backlint.registry import (
    ENGINE_CODES,
    SelectionLayer,
    all_rules,
    is_valid_selector,
    rule_by_code,
    rule_by_name,
)
from backlint.reporters import FORMATS, Results, RuleInfo, reporter
from backlint.reporters.text import plural

if TYPE_CHECKING:
    from backlint.baseline import Entry, Key, Scope
    from backlint.engine.fixes import FileFix
    from backlint.types import Finding

# The modules of the options (--fix, --baseline, --ruff, --diff-base, init)
# are imported where they are used: a plain `backlint check` does not load them.

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _selectors(value: str | None, option: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = tuple(s.strip() for s in value.split(",") if s.strip())
    for item in items:
        if not is_valid_selector(item):
            raise click.BadParameter(f"unknown rule code or selector {item!r}", param_hint=option)
    return items


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="backlint")
def main() -> None:
    """backlint: the conventions of FastAPI, Django, DRF, SQLAlchemy and Celery backends."""


def run() -> NoReturn:
    """The `backlint` command: `main`, then an exit that skips freeing the
    index's objects one by one (tens of milliseconds of a pre-commit run
    that lints one file; mypy exits so too). Everything backlint writes is
    written and its workers are joined before `main` returns."""
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if code is not None and not isinstance(code, int):
        click.echo(code, err=True)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: nothing more can be said
        code = code or 1
    os._exit(code or 0)


@main.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--select",
    help="Comma-separated codes, prefixes (BKL3), groups or ALL; "
    "replaces the configured selection.",
)
@click.option("--extend-select", help="Selectors to add to the configured selection.")
@click.option("--ignore", help="Comma-separated codes, prefixes or groups to leave out.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read settings from this pyproject.toml (or TOML file) instead of the nearest one.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(sorted(FORMATS)),
    default="text",
    show_default=True,
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: all cores)."
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the project index cache.")
@click.option("--fix", is_flag=True, help="Apply the safe fixes, then report what is left.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff, apply unsafe fixes too.")
@click.option(
    "--diff", "show_diff", is_flag=True, help="Print the diff --fix would make; write nothing."
)
@click.option("--statistics", is_flag=True, help="Print the number of findings per code.")
@click.option(
    "--diff-base",
    metavar="REF",
    help="Report only findings on lines changed since the merge base of REF and HEAD "
    "(and in untracked files).",
)
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Report only findings that are not in this baseline file.",
)
@click.option(
    "--write-baseline",
    "write_baseline_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Record the current findings in this baseline file (and report nothing).",
)
@click.option(
    "--ruff/--no-ruff",
    "with_ruff",
    default=None,
    help="Also run ruff with backlint's preset and merge its findings "
    "(default: `ruff` in [tool.backlint]).",
)
def check_command(
    paths: tuple[Path, ...],
    select: str | None,
    extend_select: str | None,
    ignore: str | None,
    config_path: Path | None,
    output_format: str,
    exit_zero: bool,
    jobs: int | None,
    no_cache: bool,
    fix: bool,
    unsafe_fixes: bool,
    show_diff: bool,
    statistics: bool,
    diff_base: str | None,
    baseline_path: Path | None,
    write_baseline_path: Path | None,
    with_ruff: bool | None,
) -> None:
    """Lint PATHS (files or directories; default: the current directory)."""
    cwd = Path.cwd()
    targets = list(paths) or [Path()]
    # A symlink loop exists (discovery skips it with a warning); only what is
    # not there at all is a usage error.
    missing = [str(p) for p in targets if not _present(p if p.is_absolute() else cwd / p)]
    if missing:
        raise click.BadParameter(
            f"no such file or directory: {', '.join(missing)}", param_hint="PATHS"
        )
    if write_baseline_path is not None and (diff_base or baseline_path or show_diff):
        raise click.UsageError(
            "--write-baseline records every finding: it takes no --diff-base, --baseline or --diff"
        )
    if statistics and output_format not in ("text", "json"):
        raise click.UsageError("--statistics prints text or json")
    if config_path is not None and not config_path.is_absolute():
        config_path = cwd / config_path
    try:
        config = load_config(_search_start(cwd, targets), config_path)
    except ConfigError as exc:
        _fail(f"configuration error: {exc}")
    cli_layer = SelectionLayer(
        select=_selectors(select, "--select"),
        extend_select=_selectors(extend_select, "--extend-select") or (),
        ignore=_selectors(ignore, "--ignore") or (),
    )
    settings = settings_for(config, cli_layer)
    if output_format in ("json", "sarif"):
        # JSON and SARIF carry each fix's edits; text output only marks fixable findings.
        settings = dataclasses.replace(settings, want_edits=True)
    changed = None
    if diff_base is not None:
        from backlint.vcs import GitError, changed_lines

        try:
            changed = changed_lines(diff_base, cwd)
        except GitError as exc:
            _fail(f"--diff-base {diff_base}: {exc}")
    baseline = None
    if baseline_path is not None or write_baseline_path is not None:
        from backlint.baseline import Baseline, BaselineError, Fingerprinter
        from backlint.baseline import apply as apply_baseline
    if baseline_path is not None:
        try:
            baseline = Baseline.load(baseline_path)
        except BaselineError as exc:
            _fail(str(exc))
    mode = None
    if fix or show_diff:
        from backlint.engine.fixes import FixMode

        mode = FixMode(unsafe=unsafe_fixes, write=not show_diff)

    result = check(targets, config, settings, cwd=cwd, jobs=jobs, use_cache=not no_cache, fix=mode)
    for display, reason in result.skipped:
        click.echo(f"warning: {display}: skipped: {reason}", err=True)

    if mode is not None:
        for fixed in result.fixes:
            for problem in fixed.problems:
                click.echo(f"backlint: {fixed.display}: {problem}", err=True)
    if show_diff:
        _print_diffs(result.fixes)
        return
    fixed_count, fixed_files = _write_fixes(result.fixes) if mode is not None else (0, 0)

    findings = list(result.findings)
    external: dict[str, RuleInfo] = {}
    selected = set(settings.codes) | set(settings.engine_codes)
    ran_ruff = with_ruff if with_ruff is not None else config.ruff
    if ran_ruff:
        from backlint.ruff_support import RuffError, merge, run_ruff

        try:
            ruff = run_ruff(result.paths, selected, cwd)
        except RuffError as exc:
            _fail(str(exc))
        findings = merge(findings, ruff.findings)
        external = ruff.rules

    if write_baseline_path is not None:
        scope = _scope(result, config, cwd, selected, ran_ruff)
        keys = Fingerprinter(cwd, config.root).key
        _write_baseline(write_baseline_path, findings, keys, scope)
        return
    if baseline is not None:
        scope = _scope(result, config, cwd, selected, ran_ruff)
        keys = Fingerprinter(cwd, config.root).key
        findings, stale = apply_baseline(baseline, findings, keys, scope)
        _report_stale(baseline_path, stale)
    if changed is not None:
        findings = [f for f in findings if changed.contains(cwd / f.path, f.line)]

    results = Results(findings, result.files, external, unsafe_fixes)
    if statistics:
        from backlint.reporters.statistics import print_statistics

        print_statistics(results, output_format, sys.stdout)
    else:
        reporter(output_format)(results, sys.stdout)
    if fixed_count:
        click.echo(
            f"Fixed {plural(fixed_count, 'finding')} in {plural(fixed_files, 'file')}.", err=True
        )
    sys.exit(EXIT_FINDINGS if findings and not exit_zero else EXIT_CLEAN)


def _present(path: Path) -> bool:
    try:
        path.stat()
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return True


def _search_start(cwd: Path, targets: list[Path]) -> Path:
    """Where the search for the project (its pyproject.toml, `.git`...) starts,
    and its root when none is found: the deepest directory holding every
    target, out of the Python packages it is in (the directory they import
    from). From a directory of several projects, `backlint check shop` is then
    the `shop` project, not polluted by the facts of its neighbours."""
    directories = []
    for target in targets:
        path = Path(os.path.realpath(target if target.is_absolute() else cwd / target))
        directories.append(str(path if path.is_dir() else path.parent))
    start = Path(os.path.commonpath(directories))
    while (start / "__init__.py").is_file() and start.parent != start:
        start = start.parent
    return start


def _fail(message: str) -> NoReturn:
    click.echo(f"backlint: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _print_diffs(fixes: list[FileFix]) -> None:
    changed = [f for f in fixes if f.changed]
    for fixed in changed:
        click.echo(fixed.diff(), nl=False)
    count = sum(f.applied for f in changed)
    click.echo(f"Would fix {plural(count, 'finding')} in {plural(len(changed), 'file')}.", err=True)
    sys.exit(EXIT_FINDINGS if changed else EXIT_CLEAN)


def _write_fixes(fixes: list[FileFix]) -> tuple[int, int]:
    """Write the fixed files: (fixes written, files written)."""
    from backlint.engine.fixes import FileChangedError, write_atomically

    count = files = 0
    for fixed in fixes:
        if not fixed.changed:
            continue
        try:
            write_atomically(fixed.path, fixed.fixed, expected=fixed.data)
        except FileChangedError:
            click.echo(
                f"backlint: {fixed.display}: changed while backlint ran; not fixed", err=True
            )
            continue
        except OSError as exc:
            click.echo(f"backlint: {fixed.display}: cannot write: {exc}", err=True)
            continue
        count += fixed.applied
        files += 1
    return count, files


def _scope(
    result: CheckResult,
    config: Config,
    cwd: Path,
    selected: set[str],
    ran_ruff: bool,
) -> Scope:
    """The files and codes a run checked (ruff's codes when ruff ran)."""
    from backlint.baseline import Scope, relative_path

    paths = {relative_path(str(p), cwd, config.root) for p in result.paths}
    return Scope(paths, lambda code: code in selected or (ran_ruff and not code.startswith("BKL")))


def _write_baseline(
    path: Path,
    findings: list[Finding],
    keys: Callable[[Finding], Key],
    scope: Scope,
) -> None:
    from backlint.baseline import Baseline, BaselineError, dump, entries_of, merged
    from backlint.engine.fixes import write_atomically

    previous = None
    if path.is_file():
        try:
            previous = Baseline.load(path)
        except BaselineError as exc:
            _fail(f"{exc} (remove it to start a new baseline)")
    current = entries_of(findings, keys)
    entries = merged(previous, current, scope)
    removed = 0
    if previous is not None:
        now = {e.key for e in current}
        removed = sum(1 for e in previous.entries if scope.covers(e) and e.key not in now)
    try:
        if path.exists():
            write_atomically(path, dump(entries).encode("utf-8"))
        else:
            path.write_text(dump(entries), encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {path}: {exc}")
    total = sum(e.count for e in entries)
    note = (
        f" ({plural(removed, 'entry', 'entries')} no longer occurring removed)" if removed else ""
    )
    click.echo(f"Wrote {plural(total, 'finding')} to {path}{note}.", err=True)
    sys.exit(EXIT_CLEAN)


def _report_stale(path: Path | None, stale: list[Entry]) -> None:
    if not stale:
        return
    count = sum(e.count for e in stale)
    click.echo(
        f"backlint: {plural(count, 'baseline entry', 'baseline entries')} of {path} no longer occur"
        f"{'s' if count == 1 else ''}; `--write-baseline {path}` removes "
        f"{'it' if count == 1 else 'them'}:",
        err=True,
    )
    for entry in stale:
        times = f" (x{entry.count})" if entry.count > 1 else ""
        click.echo(f"  {entry.path}: {entry.code} {entry.message}{times}", err=True)


@main.command("init")
@click.argument(
    "directory", required=False, type=click.Path(path_type=Path, file_okay=False, exists=True)
)
@click.option(
    "--ruff",
    "with_ruff",
    is_flag=True,
    help="Also run ruff with backlint's preset (`ruff = true`), and write the preset as "
    "[tool.ruff.lint] when the project has no ruff configuration.",
)
@click.option(
    "--pre-commit",
    "pre_commit",
    is_flag=True,
    help="Also add a backlint hook to .pre-commit-config.yaml.",
)
def init_command(directory: Path | None, with_ruff: bool, pre_commit: bool) -> None:
    """Configure backlint in DIRECTORY (default: the current directory)."""
    from backlint.init import InitError, init_pre_commit, init_pyproject

    target = directory or Path()
    try:
        changes = init_pyproject(target, with_ruff)
        if pre_commit:
            changes += init_pre_commit(target)
    except (InitError, OSError, UnicodeDecodeError) as exc:
        _fail(str(exc))
    for change in changes:
        click.echo(f"{change.path}: {change.what}")


@main.command("rule")
@click.argument("code")
def rule_command(code: str) -> None:
    """Print the documentation of rule CODE (or NAME)."""
    from backlint.docs import render_engine_code, render_rule

    code = code.strip()
    for engine_code in ENGINE_CODES:
        if code.upper() == engine_code.code or code == engine_code.name:
            click.echo(render_engine_code(engine_code), nl=False)
            return
    rule = rule_by_code(code.upper()) or rule_by_name(code)
    if rule is None:
        click.echo(f"backlint: unknown rule {code!r} (see `backlint rules`)", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(render_rule(rule), nl=False)


@main.command("rules")
def rules_command() -> None:
    """List every rule: code, name, group and fix."""
    rows = [(c.code, c.name, c.group, c.fix_kind.value) for c in ENGINE_CODES]
    rows += [(r.code, r.name, r.group, r.fix_kind.value) for r in all_rules()]
    width = max(len(name) for _, name, _, _ in rows)
    click.echo(f"{'code':<7} {'name':<{width}} {'group':<8} fix")
    for code, name, group, fix in rows:
        click.echo(f"{code:<7} {name:<{width}} {group:<8} {fix}")


if __name__ == "__main__":  # pragma: no cover
    main()
