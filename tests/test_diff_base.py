"""`--diff-base REF`: only findings on lines changed since the merge base of
REF and HEAD, and in untracked files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import pyproject, run_cli, write_tree

from backlint.vcs import parse_diff

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

OLD = "def a(x):\n    return x\n\n\ndef b(y):\n    return y\n"


@pytest.fixture
def repo(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "t")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "t@example.invalid")
    write_tree(project, {"pyproject.toml": pyproject('select = ["BKL801"]'), "app/m.py": OLD})
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "one")
    return project


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _codes(out: str) -> list[str]:
    return [line.split(" ")[0] for line in out.splitlines()[:-1]]


def test_only_changed_lines_and_new_files(repo: Path) -> None:
    assert len(_codes(run_cli(repo, "check").stdout)) == 2
    write_tree(repo, {"app/m.py": OLD.replace("def b(y):", "def b(y, z):")})
    run = run_cli(repo, "check", "--diff-base", "HEAD")
    assert _codes(run.stdout) == ["app/m.py:5:1:"]
    write_tree(repo, {"app/new.py": "def c(q):\n    return q\n"})  # untracked
    run = run_cli(repo, "check", "--diff-base", "HEAD")
    assert _codes(run.stdout) == ["app/m.py:5:1:", "app/new.py:1:1:"]
    # From a subdirectory, paths still match.
    sub = run_cli(repo / "app", "check", "--diff-base", "HEAD")
    assert _codes(sub.stdout) == ["m.py:5:1:", "new.py:1:1:"]


def test_diff_is_taken_from_the_merge_base(repo: Path) -> None:
    _git(repo, "checkout", "-q", "-b", "feature")
    write_tree(repo, {"app/m.py": OLD.replace("def a(x):", "def a(x, w):")})
    _git(repo, "commit", "-q", "-am", "feature change")
    _git(repo, "checkout", "-q", "main")
    write_tree(repo, {"app/m.py": OLD.replace("def b(y):", "def b(y, v):")})
    _git(repo, "commit", "-q", "-am", "main moved on")
    _git(repo, "checkout", "-q", "feature")
    run = run_cli(repo, "check", "--diff-base", "main")
    assert _codes(run.stdout) == ["app/m.py:1:1:"]  # not main's own change on line 5


def test_unknown_ref_and_no_repository(repo: Path, tmp_path: Path) -> None:
    run = run_cli(repo, "check", "--diff-base", "no-such-ref")
    assert run.exit_code == 2
    assert "--diff-base no-such-ref" in run.stderr
    outside = tmp_path / "outside"
    write_tree(outside, {"a.py": "x = 1\n"})
    assert run_cli(outside, "check", "--diff-base", "HEAD").exit_code == 2


def test_parse_diff(tmp_path: Path) -> None:
    diff = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n"
        "@@ -1,0 +2,3 @@\n+a\n+b\n+c\n@@ -10 +12 @@\n-old\n+new\n@@ -20,2 +22,0 @@\n-x\n-y\n"
        "diff --git a/gone.py b/gone.py\n--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-z\n"
        '+++ "b/t\\303\\251st.py"\n@@ -1 +1 @@\n-q\n+r\n'
    )
    files = parse_diff(diff, tmp_path)
    assert files == {
        (tmp_path / "x.py").resolve(): {2, 3, 4, 12},
        (tmp_path / "tést.py").resolve(): {1},
    }
