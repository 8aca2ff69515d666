"""The `backlint` command."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from backlint import __version__
from backlint.config import ConfigError, load_config
from backlint.docs import render_engine_code, render_rule
from backlint.engine.check import check, settings_for
from backlint.registry import (
    ENGINE_CODES,
    SelectionLayer,
    all_rules,
    is_valid_selector,
    rule_by_code,
)
from backlint.reporters import REPORTERS

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
    type=click.Choice(sorted(REPORTERS)),
    default="text",
    show_default=True,
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: all cores)."
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the project index cache.")
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
) -> None:
    """Lint PATHS (files or directories; default: the current directory)."""
    cwd = Path.cwd()
    targets = list(paths) or [Path()]
    missing = [str(p) for p in targets if not (p if p.is_absolute() else cwd / p).exists()]
    if missing:
        raise click.BadParameter(
            f"no such file or directory: {', '.join(missing)}", param_hint="PATHS"
        )
    try:
        config = load_config(cwd, config_path)
    except ConfigError as exc:
        click.echo(f"backlint: configuration error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    cli_layer = SelectionLayer(
        select=_selectors(select, "--select"),
        extend_select=_selectors(extend_select, "--extend-select") or (),
        ignore=_selectors(ignore, "--ignore") or (),
    )
    settings = settings_for(config, cli_layer)
    if output_format == "json":
        # JSON carries each fix's edits; text output only marks fixable findings.
        settings = dataclasses.replace(settings, want_edits=True)
    result = check(targets, config, settings, cwd=cwd, jobs=jobs, use_cache=not no_cache)
    REPORTERS[output_format](result.findings, result.files, sys.stdout)
    sys.exit(EXIT_FINDINGS if result.findings and not exit_zero else EXIT_CLEAN)


@main.command("rule")
@click.argument("code")
def rule_command(code: str) -> None:
    """Print the documentation of rule CODE (or NAME)."""
    code = code.strip()
    for engine_code in ENGINE_CODES:
        if code.upper() == engine_code.code or code == engine_code.name:
            click.echo(render_engine_code(engine_code), nl=False)
            return
    rule = rule_by_code(code.upper()) or next((r for r in all_rules() if r.name == code), None)
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
