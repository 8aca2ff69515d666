"""Shared helpers: temporary projects, engine runs, CLI runs."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from backlint.cli import main
from backlint.config import load_config
from backlint.engine.check import check, settings_for
from backlint.registry import SelectionLayer
from backlint.types import Finding

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # `import harness` from any test module


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Create `files` (relative path -> text or bytes) under `root`."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            # newline="": what the test wrote is what is on disk (CRLF stays CRLF).
            with path.open("w", encoding="utf-8", newline="") as handle:
                handle.write(content)
    return root


# Engine tests use BKL801/BKL802 as the rules that fire on any public def:
# `scope = "public"` (their default judges only entry points and services).
TYPE_HINTS_EVERYWHERE = "".join(
    f'[tool.backlint.{name}]\nscope = "public"\n'
    for name in ("missing-param-annotation", "missing-return-annotation")
)


def pyproject(body: str = "") -> str:
    """A `[tool.backlint]` table with `body`; BKL801/BKL802 judge every public
    def unless `body` gives them options itself."""
    own = ("missing-param-annotation", "missing-return-annotation", "backlint.BKL80")
    if any(table in body for table in own):
        return f"[tool.backlint]\n{body}\n"
    return f"[tool.backlint]\n{body}\n{TYPE_HINTS_EVERYWHERE}"


def lint(
    root: Path,
    targets: list[Path] | None = None,
    cli: SelectionLayer | None = None,
    jobs: int = 1,
) -> list[Finding]:
    """Lint through the engine API, as `backlint check` does from `root`."""
    config = load_config(root)
    settings = settings_for(config, cli)
    return check(targets or [root], config, settings, cwd=root, jobs=jobs, use_cache=False).findings


def keys(findings: list[Finding]) -> list[tuple[str, int, str]]:
    return [(f.path, f.line, f.code) for f in findings]


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str


@contextmanager
def chdir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run_cli(cwd: Path, *args: str) -> Run:
    """`backlint ARGS` in `cwd`, in process."""
    try:
        runner = CliRunner(mix_stderr=False)  # click 8.1
    except TypeError:  # click >= 8.2 always keeps stderr apart
        runner = CliRunner()
    with chdir(cwd):
        result: Result = runner.invoke(main, list(args), catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root
