"""The pre-commit hook of .pre-commit-hooks.yaml, run for real by pre-commit.

`pre-commit try-repo` clones this repository, builds the hook's virtualenv with
pip (libcst and friends come from PyPI) and runs the hook on a sample project:
it must fail on a violation and pass once the file is fixed.

try-repo reads a local repository at its HEAD plus the changes to tracked
files (it commits those into a temporary "shadow" clone); files not yet added
to git are left out. So that the test checks the working tree as it is, new
files included, it runs try-repo on a one-commit snapshot of that tree (every
file git tracks or would track, ignored files excepted).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
]

VIOLATION = """\
def total_price(order, discount=0):
    return order.subtotal - discount
"""

FIXED = """\
def total_price(order: float, discount: float = 0) -> float:
    return order - discount
"""


def _env(tmp_path: Path) -> dict[str, str]:
    # Nothing from an enclosing git command (GIT_DIR, GIT_INDEX_FILE...) or
    # user configuration may leak in; pre-commit keeps its store in tmp_path.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="backlint tests",
        GIT_AUTHOR_EMAIL="tests@backlint.invalid",
        GIT_COMMITTER_NAME="backlint tests",
        GIT_COMMITTER_EMAIL="tests@backlint.invalid",
    )
    return env


def _git(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _snapshot(dest: Path, env: dict[str, str]) -> Path:
    """A git repository with one commit holding this working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    dest.mkdir()
    for name in sorted(set(filter(None, listed.split("\0")))):
        source = ROOT / name
        if not source.is_file():  # deleted in the working tree
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    _git(dest, env, "init", "-q")
    _git(dest, env, "add", "-A")
    _git(dest, env, "commit", "-q", "-m", "snapshot")
    return dest


def _try_repo(repo: Path, project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(repo), "backlint", "--all-files"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the repository's git checkout")
def test_hook_fails_on_violation_then_passes(tmp_path: Path) -> None:
    env = _env(tmp_path)
    repo = _snapshot(tmp_path / "backlint-repo", env)

    project = tmp_path / "project"
    project.mkdir()
    _git(project, env, "init", "-q")
    (project / "pricing_service.py").write_text(VIOLATION, encoding="utf-8")
    (project / "README.txt").write_text("not Python: the hook must not see it\n")
    _git(project, env, "add", "-A")
    _git(project, env, "commit", "-q", "-m", "initial")

    failed = _try_repo(repo, project, env)
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    assert "backlint" in output
    assert "Failed" in output, output
    assert "pricing_service.py:1:1: BKL801" in output, output
    assert "pricing_service.py:1:1: BKL802" in output, output
    assert "README.txt" not in output

    (project / "pricing_service.py").write_text(FIXED, encoding="utf-8")
    passed = _try_repo(repo, project, env)
    output = passed.stdout + passed.stderr
    assert passed.returncode == 0, output
    assert "Passed" in output, output
    assert "BKL8" not in output
