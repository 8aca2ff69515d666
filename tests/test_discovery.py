"""Which files are linted: default skips, exclude, extend-exclude, .gitignore."""

from __future__ import annotations

from pathlib import Path

from conftest import pyproject, run_cli, write_tree

from backlint.config import load_config
from backlint.engine.files import discover, module_name, source_file

CODE = "x = 1\n"


def discovered(root: Path, *targets: Path, cwd: Path | None = None) -> list[str]:
    config = load_config(root)
    files = discover(list(targets) or [root], config.root, config.exclude_patterns, cwd or root)
    return [f.display for f in files]


def test_default_skips(project: Path) -> None:
    write_tree(
        project,
        {
            "app/views.py": CODE,
            ".git/hooks/hook.py": CODE,
            "env/pyvenv.cfg": "home = /usr/bin\n",  # a virtualenv under any name
            "env/lib/site.py": CODE,
            "venv/lib/x.py": CODE,
            ".venv/lib/x.py": CODE,
            "frontend/node_modules/pkg/x.py": CODE,
            "app/__pycache__/views.py": CODE,
            "build/lib/app/views.py": CODE,
            "dist/app/views.py": CODE,
            ".tox/py311/x.py": CODE,
            "app.egg-info/x.py": CODE,
            "app/templates/page.html": "<p>",
            "app/notes.txt": "not python",
            "app/stub.pyi": "x: int\n",
        },
    )
    assert discovered(project) == ["app/views.py"]


def test_gitignore_at_the_root_and_nested(project: Path) -> None:
    write_tree(
        project,
        {
            ".gitignore": "generated/\n*_pb2.py\n/local.py\n",
            "app/views.py": CODE,
            "app/orders_pb2.py": CODE,
            "generated/client.py": CODE,
            "local.py": CODE,
            "app/local.py": CODE,  # `/local.py` is anchored at the root
            "app/.gitignore": "secrets.py\nfixtures/\n",
            "app/secrets.py": CODE,
            "app/fixtures/data.py": CODE,
            "other/secrets.py": CODE,  # the nested .gitignore applies below app/ only
            "other/fixtures/data.py": CODE,
        },
    )
    assert discovered(project) == [
        "app/local.py",
        "app/views.py",
        "other/fixtures/data.py",
        "other/secrets.py",
    ]


def test_gitignore_negation(project: Path) -> None:
    write_tree(
        project,
        {".gitignore": "*.py\n!keep.py\n", "drop.py": CODE, "keep.py": CODE},
    )
    assert discovered(project) == ["keep.py"]


def test_exclude_replaces_the_defaults(project: Path) -> None:
    write_tree(
        project,
        {
            "pyproject.toml": pyproject('exclude = ["legacy", "*_old.py"]'),
            "app/views.py": CODE,
            "app/views_old.py": CODE,
            "legacy/views.py": CODE,
            "build/lib/x.py": CODE,  # no longer excluded
            "node_modules/x.py": CODE,  # no longer excluded
            "env/pyvenv.cfg": "",  # virtualenvs are always skipped
            "env/x.py": CODE,
        },
    )
    assert discovered(project) == ["app/views.py", "build/lib/x.py", "node_modules/x.py"]


def test_extend_exclude_adds_to_the_defaults(project: Path) -> None:
    write_tree(
        project,
        {
            "pyproject.toml": pyproject('extend-exclude = ["legacy/", "app/generated_*.py"]'),
            "app/views.py": CODE,
            "app/generated_api.py": CODE,
            "legacy/views.py": CODE,
            "build/x.py": CODE,
        },
    )
    assert discovered(project) == ["app/views.py"]


def test_explicit_files_honour_exclude(project: Path) -> None:
    write_tree(
        project,
        {
            "pyproject.toml": pyproject('extend-exclude = ["legacy"]'),
            "app/views.py": CODE,
            "legacy/views.py": CODE,
            "build/x.py": CODE,
        },
    )
    # As pre-commit passes them: one by one, relative to the project root.
    targets = [project / "app/views.py", project / "legacy/views.py", project / "build/x.py"]
    assert discovered(project, *targets) == ["app/views.py"]
    # An excluded directory named explicitly is walked with the same rules.
    assert discovered(project, project / "legacy") == []


def test_explicit_targets_are_deduplicated_and_sorted(project: Path) -> None:
    write_tree(project, {"b.py": CODE, "a/x.py": CODE, "a/y.py": CODE})
    assert discovered(project, project / "b.py", project / "a", project / "a/x.py") == [
        "a/x.py",
        "a/y.py",
        "b.py",
    ]


def test_display_paths_are_relative_to_the_working_directory(project: Path) -> None:
    write_tree(project, {"pkg/sub/a.py": CODE})
    assert discovered(project, project / "pkg", cwd=project / "pkg") == ["sub/a.py"]


def test_cli_lints_the_discovered_files(project: Path) -> None:
    write_tree(
        project,
        {
            ".gitignore": "generated/\n",
            "app/services.py": "def f(x):\n    return x\n",
            "generated/api.py": "def f(x):\n    return x\n",
            "build/api.py": "def f(x):\n    return x\n",
        },
    )
    run = run_cli(project, "check", "--select", "BKL801")
    assert run.stdout.splitlines() == [
        "app/services.py:1:1: BKL801 `f` has parameters without type annotations: `x`",
        "1 finding in 1 file",
    ]


def test_cli_rejects_a_missing_path(project: Path) -> None:
    run = run_cli(project, "check", "nowhere.py")
    assert run.exit_code == 2
    assert "nowhere.py" in run.stderr


def test_module_names_and_test_files(project: Path) -> None:
    write_tree(
        project,
        {
            "shop/__init__.py": "",
            "shop/api/__init__.py": "",
            "shop/api/views.py": CODE,
            "scripts/run.py": CODE,  # not a package
            "shop/tests/test_views.py": CODE,
            "shop/conftest.py": CODE,
            "shop/views_test.py": CODE,
            "shop/tests.py": CODE,  # a Django app's test module
            "shop/testing.py": CODE,  # a module named testing: production
            "shop/test/factories.py": CODE,  # test helper packages outside tests/
            "shop/core/testing/mixins.py": CODE,
            "shop/contest/views.py": CODE,
        },
    )
    assert module_name(project / "shop/api/views.py") == ("shop.api.views", False)
    assert module_name(project / "shop/api/__init__.py") == ("shop.api", True)
    assert module_name(project / "scripts/run.py") == ("run", False)
    tests = {
        f.display: f.is_test
        for f in (source_file(p, project, project) for p in sorted(project.rglob("*.py")))
    }
    assert tests == {
        "scripts/run.py": False,
        "shop/__init__.py": False,
        "shop/api/__init__.py": False,
        "shop/api/views.py": False,
        "shop/conftest.py": True,
        "shop/contest/views.py": False,
        "shop/core/testing/mixins.py": True,
        "shop/test/factories.py": True,
        "shop/testing.py": False,
        "shop/tests/test_views.py": True,
        "shop/tests.py": True,
        "shop/views_test.py": True,
    }


def test_a_namespace_directory_inside_a_package_keeps_its_path(project: Path) -> None:
    # open-webui's layout: `open_webui/routers/` has no __init__.py; its
    # modules are `open_webui.routers.apps`, not `apps` (which would merge
    # routers/apps.py, models/apps.py... into one module of the index).
    write_tree(
        project,
        {
            "pyproject.toml": "",
            "webui/__init__.py": "",
            "webui/routers/apps.py": CODE,
            "webui/models/apps.py": CODE,
            "webui/ns/pkg/__init__.py": "",
            "scripts/run.py": CODE,
        },
    )
    names = {
        f.display: f.module
        for f in (source_file(p, project, project) for p in sorted(project.rglob("*.py")))
    }
    assert names == {
        "webui/__init__.py": "webui",
        "webui/routers/apps.py": "webui.routers.apps",
        "webui/models/apps.py": "webui.models.apps",
        "webui/ns/pkg/__init__.py": "webui.ns.pkg",
        "scripts/run.py": "run",
    }
