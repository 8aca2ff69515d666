"""`backlint check`: output formats, exit codes, parallel runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import pyproject, run_cli, write_tree

from backlint import __version__

SELECT = pyproject('select = ["BKL8", "BKL0"]')
LINE = re.compile(
    r"^(?P<path>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<code>BKL\d{3})(?: \[\*\])? .+$"
)
JSON_KEYS = {"code", "name", "message", "path", "line", "column", "end_line", "end_column", "fix"}


def make_project(project: Path) -> None:
    write_tree(
        project,
        {
            "pyproject.toml": SELECT,
            "shop/__init__.py": "",
            "shop/views.py": (
                "def detail(request, pk):\n"  # BKL801 + BKL802
                "    return pk\n"
                "\n"
                "\n"
                "def ok(request: object) -> None:\n"
                "    pass\n"
            ),
            "shop/models.py": "class Order:\n    def save(self):\n        self.saved = True\n",
            "shop/broken.py": "def (:\n",  # BKL001
            "clean.py": "x = 1\n",
        },
    )


def test_text_output(project: Path) -> None:
    make_project(project)
    run = run_cli(project, "check")
    assert run.exit_code == 1
    assert run.stderr == ""
    lines = run.stdout.splitlines()
    assert lines == [
        "shop/broken.py:1:5: BKL001 cannot parse: invalid syntax",
        "shop/models.py:2:5: BKL802 [*] `save` has no return annotation; it returns nothing: "
        "add `-> None`",
        "shop/views.py:1:1: BKL801 `detail` has parameters without type annotations: "
        "`request`, `pk`",
        "shop/views.py:1:1: BKL802 `detail` has no return annotation",
        "4 findings in 5 files",
        "[*] 1 fixable with `--fix`",
    ]
    for line in lines[:-2]:
        assert LINE.match(line), line


def test_output_is_sorted_by_path_line_column_code(project: Path) -> None:
    files: dict[str, str] = {"pyproject.toml": SELECT}
    for name in ("b.py", "a/z.py", "a/b.py", "c.py"):
        files[name] = "x = 1\n\n\ndef later(x):\n    pass\n\n\ndef early(y):  pass\n"
    write_tree(project, files)
    run = run_cli(project, "check")
    rows = []
    for line in run.stdout.splitlines()[:-1]:
        match = LINE.match(line)
        assert match, line
        rows.append((match["path"], int(match["line"]), int(match["column"]), match["code"]))
    assert rows == sorted(rows)
    assert len(rows) == 16
    assert run.stdout.splitlines()[-1] == "16 findings in 4 files"


def test_summary_line_singular_and_plural(project: Path) -> None:
    write_tree(project, {"pyproject.toml": SELECT, "one.py": "def f(x) -> None:\n    pass\n"})
    assert run_cli(project, "check").stdout.splitlines()[-1] == "1 finding in 1 file"
    write_tree(project, {"two.py": "y = 2\n"})
    assert run_cli(project, "check", "two.py").stdout == "0 findings in 1 file\n"


def test_exit_codes(project: Path) -> None:
    make_project(project)
    assert run_cli(project, "check", "clean.py").exit_code == 0
    assert run_cli(project, "check").exit_code == 1
    assert run_cli(project, "check", "--exit-zero").exit_code == 0
    assert run_cli(project, "check", "--exit-zero").stdout == run_cli(project, "check").stdout
    # Usage errors: 2.
    assert run_cli(project, "check", "--select", "NOPE").exit_code == 2
    assert run_cli(project, "check", "--format", "xml").exit_code == 2
    assert run_cli(project, "check", "--jobs", "0").exit_code == 2
    assert run_cli(project, "check", "missing/").exit_code == 2
    assert run_cli(project, "frobnicate").exit_code == 2
    # Configuration errors: 2, even with --exit-zero.
    write_tree(project, {"pyproject.toml": pyproject("colour = 1")})
    assert run_cli(project, "check", "--exit-zero").exit_code == 2


def test_json_output(project: Path) -> None:
    make_project(project)
    run = run_cli(project, "check", "--format", "json")
    assert run.exit_code == 1
    data = json.loads(run.stdout)
    assert isinstance(data, list)
    assert [set(item) for item in data] == [JSON_KEYS] * 4
    assert [(d["path"], d["line"], d["column"], d["code"]) for d in data] == [
        ("shop/broken.py", 1, 5, "BKL001"),
        ("shop/models.py", 2, 5, "BKL802"),
        ("shop/views.py", 1, 1, "BKL801"),
        ("shop/views.py", 1, 1, "BKL802"),
    ]
    save = data[1]
    assert save["name"] == "missing-return-annotation"
    assert save["message"].startswith("`save` has no return annotation")
    assert (save["end_line"], save["end_column"]) >= (save["line"], save["column"])
    assert save["fix"]["applicability"] == "safe"
    assert data[3]["fix"] is None  # `detail` returns a value: no safe fix


def test_json_fix_edits_apply(project: Path) -> None:
    source = "class Order:\n    def save(self, *args: object):\n        print(args)\n"
    write_tree(project, {"pyproject.toml": SELECT, "models.py": source})
    [finding] = json.loads(run_cli(project, "check", "--format", "json").stdout)
    edits = finding["fix"]["edits"]
    assert edits, "the JSON output carries the fix's edits"
    lines = source.splitlines(keepends=True)
    for edit in reversed(edits):
        start = sum(len(x) for x in lines[: edit["line"] - 1]) + edit["column"] - 1
        end = sum(len(x) for x in lines[: edit["end_line"] - 1]) + edit["end_column"] - 1
        source = source[:start] + edit["content"] + source[end:]
        lines = source.splitlines(keepends=True)
    assert (
        source == "class Order:\n    def save(self, *args: object) -> None:\n        print(args)\n"
    )


def test_json_paths_are_relative_to_the_working_directory(project: Path) -> None:
    make_project(project)
    data = json.loads(run_cli(project / "shop", "check", "--format", "json", ".").stdout)
    assert {d["path"] for d in data} == {"broken.py", "models.py", "views.py"}
    data = json.loads(run_cli(project, "check", "--format", "json", "shop/views.py").stdout)
    assert {d["path"] for d in data} == {"shop/views.py"}


def test_json_output_when_clean(project: Path) -> None:
    write_tree(project, {"pyproject.toml": SELECT, "clean.py": "x = 1\n"})
    run = run_cli(project, "check", "--format", "json")
    assert run.exit_code == 0
    assert json.loads(run.stdout) == []


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_parallel_runs_give_identical_output(project: Path, output_format: str) -> None:
    files: dict[str, str] = {"pyproject.toml": SELECT}
    for i in range(30):
        package = f"app{i % 4}"
        files[f"{package}/__init__.py"] = ""
        files[f"{package}/module_{i:02d}.py"] = (
            f"def handler_{i}(request, *args):\n"
            "    return request\n"
            "\n"
            "\n"
            f"class Service{i}:\n"
            "    def run(self, payload: dict):\n"
            "        print(payload)\n" + ("\ndef broken(:\n" if i % 11 == 0 else "")
        )
    write_tree(project, files)
    serial = run_cli(project, "check", "--jobs", "1", "--format", output_format)
    parallel = run_cli(project, "check", "--jobs", "2", "--format", output_format)
    assert serial.exit_code == parallel.exit_code == 1
    assert serial.stdout == parallel.stdout
    if output_format == "text":
        assert serial.stdout.splitlines()[-2] == "84 findings in 34 files"


def test_no_cache_writes_no_cache(project: Path) -> None:
    write_tree(project, {"pyproject.toml": SELECT, "a.py": "x = 1\n"})
    run_cli(project, "check", "--no-cache")
    assert not (project / ".backlint_cache").exists()
    run_cli(project, "check")
    assert (project / ".backlint_cache").is_dir()
    # The cache ignores itself, so it never shows in `git status`.
    assert (
        (project / ".backlint_cache" / ".gitignore")
        .read_text(encoding="utf-8")
        .strip()
        .endswith("*")
    )


def test_cached_run_gives_the_same_output(project: Path) -> None:
    make_project(project)
    first = run_cli(project, "check")
    second = run_cli(project, "check")
    assert first.stdout == second.stdout
    write_tree(
        project, {"shop/views.py": "def detail(request: object, pk: int) -> int:\n    return pk\n"}
    )
    third = run_cli(project, "check")
    assert "shop/views.py" not in third.stdout


def test_version() -> None:
    run = run_cli(Path.cwd(), "--version")
    assert run.exit_code == 0
    assert __version__ in run.stdout


def test_a_directory_of_projects_indexes_only_the_target(tmp_path: Path) -> None:
    # No pyproject.toml or .git anywhere: the target is its own project, so
    # the limiter middleware of its neighbour does not cover its login route.
    write_tree(
        tmp_path,
        {
            "limited/app.py": (
                "from fastapi import FastAPI\n"
                "from slowapi.middleware import SlowAPIMiddleware\n\n"
                "app = FastAPI()\n"
                "app.add_middleware(SlowAPIMiddleware)\n"
            ),
            "shop/api.py": (
                "from fastapi import APIRouter\n\n"
                "router = APIRouter()\n\n\n"
                '@router.post("/login")\n'
                "async def login(username: str, password: str) -> dict[str, str]:\n"
                '    return {"token": username}\n'
            ),
        },
    )
    run = run_cli(tmp_path, "check", "shop", "--select", "BKL608", "--no-cache")
    assert "shop/api.py:7:1: BKL608" in run.stdout, run.stdout
    assert run.exit_code == 1
    whole = run_cli(tmp_path, "check", ".", "--select", "BKL608", "--no-cache")
    assert whole.exit_code == 0, whole.stdout  # one project: the middleware covers it


def test_a_file_deep_in_packages_is_linted_with_its_whole_project(tmp_path: Path) -> None:
    # No marker: the root is the directory the packages import from, so the
    # middleware of a sibling package still covers the route.
    write_tree(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/app.py": (
                "from fastapi import FastAPI\n"
                "from slowapi.middleware import SlowAPIMiddleware\n\n"
                "app = FastAPI()\n"
                "app.add_middleware(SlowAPIMiddleware)\n"
            ),
            "shop/api/__init__.py": "",
            "shop/api/auth.py": (
                "from fastapi import APIRouter\n\n"
                "router = APIRouter()\n\n\n"
                '@router.post("/login")\n'
                "async def login(username: str, password: str) -> dict[str, str]:\n"
                '    return {"token": username}\n'
            ),
        },
    )
    run = run_cli(tmp_path, "check", "shop/api/auth.py", "--select", "BKL608", "--no-cache")
    assert run.exit_code == 0, run.stdout


def test_the_command_exits_without_tearing_down_and_keeps_its_exit_code(tmp_path: Path) -> None:
    """`backlint` (`cli.run`) prints everything, keeps the exit code, and
    skips the interpreter's teardown (atexit handlers, freeing the index)."""
    import subprocess
    import sys

    from harness import clean_env

    root = write_tree(
        tmp_path / "p",
        {"pyproject.toml": pyproject(), "app.py": "def f(x):\n    return x\n"},
    )
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('torn down'))\n"
        "from backlint.cli import run\n"
        "sys.argv = ['backlint', *sys.argv[1:]]\n"
        "run()\n"
    )

    def backlint(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", probe, *args],
            cwd=root,
            capture_output=True,
            text=True,
            env=clean_env(),
            check=False,
        )

    found = backlint("check", "app.py", "--select", "BKL801")
    assert found.returncode == 1
    assert "app.py:1:1: BKL801" in found.stdout  # flushed before the exit
    missing = backlint("check", "nope.py")
    assert missing.returncode == 2 and "nope.py" in missing.stderr
    assert "torn down" not in found.stdout + missing.stdout
