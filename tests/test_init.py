"""`backlint init`: adds configuration, never destroys any, and is idempotent."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from conftest import run_cli, write_tree

from backlint.config import load_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

EXISTING = """\
[project]
name = "shop"   # a comment that must survive
dependencies = ["django>=4.2"]

[tool.black]
line-length = 100
"""

PRE_COMMIT = """\
# our hooks
repos:
-   repo: https://github.com/pre-commit/pre-commit-hooks
    rev: v4.6.0
    hooks:
    -   id: trailing-whitespace

ci:
    autofix_prs: false
"""


def test_init_creates_a_pyproject(project: Path) -> None:
    run = run_cli(project, "init")
    assert run.exit_code == 0
    assert run.stdout == "pyproject.toml: added a [tool.backlint] table\n"
    config = load_config(project)
    assert config.path == project / "pyproject.toml"
    assert not config.ruff


def test_init_appends_and_keeps_every_byte(project: Path) -> None:
    write_tree(project, {"pyproject.toml": EXISTING.replace("\n", "\r\n")})
    run = run_cli(project, "init", "--ruff")
    assert run.exit_code == 0, run.stderr
    text = (project / "pyproject.toml").read_bytes()
    assert text.startswith(EXISTING.replace("\n", "\r\n").encode())
    assert b"\n" not in text.replace(b"\r\n", b"")  # CRLF kept throughout
    data = tomllib.loads(text.decode())
    assert data["tool"]["backlint"] == {"ruff": True}
    assert data["tool"]["ruff"]["lint"]["external"] == ["BKL"]
    assert "FAST" in data["tool"]["ruff"]["lint"]["select"]
    assert load_config(project).ruff
    # Again: nothing changes.
    again = run_cli(project, "init", "--ruff")
    assert (project / "pyproject.toml").read_bytes() == text
    assert again.stdout.splitlines() == [
        "pyproject.toml: has a [tool.backlint] table already; left as it is"
    ]


def test_init_leaves_an_existing_ruff_configuration(project: Path) -> None:
    original = EXISTING + '\n[tool.ruff.lint]\nselect = ["E"]\n'
    write_tree(project, {"pyproject.toml": original})
    run = run_cli(project, "init", "--ruff")
    assert 'external = ["BKL"]' in run.stdout
    data = tomllib.loads((project / "pyproject.toml").read_text())
    assert data["tool"]["ruff"] == {"lint": {"select": ["E"]}}
    assert (project / "pyproject.toml").read_text().startswith(original)


def test_init_refuses_invalid_toml(project: Path) -> None:
    write_tree(project, {"pyproject.toml": "[project\nname = 1\n"})
    run = run_cli(project, "init")
    assert run.exit_code == 2
    assert "not valid TOML" in run.stderr
    assert (project / "pyproject.toml").read_text() == "[project\nname = 1\n"


def test_init_pre_commit_creates_the_file(project: Path) -> None:
    run = run_cli(project, "init", "--pre-commit")
    assert run.exit_code == 0
    data = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    (repo,) = data["repos"]
    assert repo["repo"] == "local"
    assert repo["hooks"][0]["id"] == "backlint"
    assert repo["hooks"][0]["entry"] == "backlint check"


def test_init_pre_commit_adds_to_the_list(project: Path) -> None:
    write_tree(project, {".pre-commit-config.yaml": PRE_COMMIT})
    run = run_cli(project, "init", "--pre-commit")
    assert run.exit_code == 0, run.stderr
    text = (project / ".pre-commit-config.yaml").read_text()
    assert text.startswith(PRE_COMMIT.split("\nci:")[0].rstrip("\n"))
    assert text.endswith("\nci:\n    autofix_prs: false\n")
    data = yaml.safe_load(text)
    assert [r["repo"] for r in data["repos"]] == [
        "https://github.com/pre-commit/pre-commit-hooks",
        "local",
    ]
    assert data["ci"] == {"autofix_prs": False}
    assert run_cli(project, "init", "--pre-commit").exit_code == 0
    assert (project / ".pre-commit-config.yaml").read_text() == text


def test_init_pre_commit_refuses_a_flow_list(project: Path) -> None:
    write_tree(project, {".pre-commit-config.yaml": "repos: []\n"})
    run = run_cli(project, "init", "--pre-commit")
    assert run.exit_code == 2
    assert "add the hook by hand" in run.stderr
    assert (project / ".pre-commit-config.yaml").read_text() == "repos: []\n"
