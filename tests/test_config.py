"""`[tool.backlint]`: validation, rule options, and where settings come from."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import keys, lint, pyproject, run_cli, write_tree

from backlint.config import ConfigError, load_config
from backlint.rules.type_hints import TypeHintOptions

# In a test file: silent unless BKL801's include-tests option is set.
TEST_SOURCE = "def test_total(order):\n    assert order\n"


def config_error(project: Path, body: str) -> str:
    """The CLI's message for a bad [tool.backlint] table (exit code 2)."""
    write_tree(project, {"pyproject.toml": pyproject(body), "app.py": "x = 1\n"})
    with pytest.raises(ConfigError):
        load_config(project)
    run = run_cli(project, "check")
    assert run.exit_code == 2, run.stdout + run.stderr
    assert run.stdout == ""
    assert str(project / "pyproject.toml") in run.stderr, run.stderr
    return run.stderr


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('selcet = ["BKL801"]', "selcet"),
        ('extend_select = ["BKL801"]', "extend_select"),
        ("[tool.backlint.no-such-rule]\nfoo = 1", "no-such-rule"),
        ("[tool.backlint.BKL999]\nfoo = 1", "BKL999"),
    ],
)
def test_unknown_keys(project: Path, body: str, named: str) -> None:
    message = config_error(project, body)
    assert f"unknown key {named!r}" in message


@pytest.mark.parametrize(
    ("body", "key", "code"),
    [
        ('select = ["BKL999"]', "select", "BKL999"),
        ('ignore = ["BKL8", "BKL80X"]', "ignore", "BKL80X"),
        ('extend-select = ["E501"]', "extend-select", "E501"),
        ('[tool.backlint.per-file-ignores]\n"tests/*" = ["BKL999"]', "per-file-ignores", "BKL999"),
    ],
)
def test_unknown_codes(project: Path, body: str, key: str, code: str) -> None:
    message = config_error(project, body)
    assert f"{key}" in message
    assert f"unknown rule code or selector {code!r}" in message


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('select = "BKL801"', "select"),
        ("exclude = [1, 2]", "exclude"),
        ('per-file-ignores = ["tests/*"]', "per-file-ignores"),
        ('[tool.backlint.per-file-ignores]\n"tests/*" = "BKL801"', "per-file-ignores"),
        ('[tool.backlint.missing-param-annotation]\ninclude-tests = "yes"', "include-tests"),
        ("[tool.backlint.BKL801]\ninclude-tests = 1", "include-tests"),
        ('missing-param-annotation = "on"', "missing-param-annotation"),
    ],
)
def test_wrong_types(project: Path, body: str, named: str) -> None:
    message = config_error(project, body)
    assert named in message


def test_unknown_rule_option(project: Path) -> None:
    message = config_error(project, "[tool.backlint.BKL802]\ninclude-test = true")
    assert "unknown option 'include-test' for BKL802" in message
    assert "include-tests" in message  # the options it has


def test_options_given_twice(project: Path) -> None:
    body = (
        "[tool.backlint.BKL801]\ninclude-tests = true\n"
        "[tool.backlint.missing-param-annotation]\ninclude-tests = false"
    )
    assert "options for BKL801 given twice" in config_error(project, body)


def test_invalid_toml(project: Path) -> None:
    write_tree(project, {"pyproject.toml": "[tool.backlint\nselect = 1\n", "app.py": "x = 1\n"})
    run = run_cli(project, "check")
    assert run.exit_code == 2
    assert str(project / "pyproject.toml") in run.stderr


@pytest.mark.parametrize("table", ["missing-param-annotation", "BKL801"])
def test_rule_options_by_name_and_by_code(project: Path, table: str) -> None:
    files = {
        "tests/test_orders.py": TEST_SOURCE,
        "pyproject.toml": pyproject('select = ["BKL801"]'),
    }
    write_tree(project, files)
    assert lint(project) == []
    write_tree(
        project,
        {
            "pyproject.toml": pyproject(
                f'select = ["BKL801"]\n[tool.backlint.{table}]\ninclude-tests = true\n'
                'scope = "public"'
            )
        },
    )
    config = load_config(project)
    assert config.rule_options == {"BKL801": TypeHintOptions(scope="public", include_tests=True)}
    assert keys(lint(project)) == [("tests/test_orders.py", 1, "BKL801")]


def test_options_apply_to_their_rule_only(project: Path) -> None:
    body = 'select = ["BKL8"]\n[tool.backlint.BKL802]\ninclude-tests = true\nscope = "public"'
    write_tree(project, {"pyproject.toml": pyproject(body), "test_api.py": TEST_SOURCE})
    assert keys(lint(project)) == [("test_api.py", 1, "BKL802")]


def test_settings_come_from_the_nearest_configured_pyproject(project: Path) -> None:
    write_tree(
        project,
        {
            "pyproject.toml": pyproject('select = ["BKL802"]'),
            # A pyproject.toml without [tool.backlint] is passed over.
            "service/pyproject.toml": '[project]\nname = "service"\n',
            "service/app.py": "def load(pk):\n    return pk\n",
        },
    )
    config = load_config(project / "service")
    assert config.path == project / "pyproject.toml"
    assert config.root == project
    assert config.select == ("BKL802",)


def test_no_configuration_uses_defaults(project: Path) -> None:
    # By default BKL801/BKL802 judge entry points and the service layer only.
    source = "def load(pk):\n    return pk\n"
    write_tree(project, {"services.py": source, "helpers.py": source})
    config = load_config(project)
    assert config.path is None
    assert config.select is None
    assert keys(lint(project)) == [("services.py", 1, "BKL801"), ("services.py", 1, "BKL802")]


def test_explicit_config_file(project: Path, tmp_path: Path) -> None:
    write_tree(
        project,
        {
            # The project's own settings select BKL801; --config replaces them.
            "pyproject.toml": pyproject('select = ["BKL801"]'),
            "app.py": "def load(pk):\n    return pk\n",
        },
    )
    other = tmp_path / "ci" / "pyproject.toml"
    write_tree(tmp_path, {"ci/pyproject.toml": pyproject('select = ["BKL802"]')})
    assert "BKL801" in run_cli(project, "check").stdout
    run = run_cli(project, "check", "--config", str(other))
    assert run.exit_code == 1
    assert run.stdout.splitlines() == [
        "app.py:1:1: BKL802 `load` has no return annotation",
        "1 finding in 1 file",
    ]


def test_explicit_plain_toml_file(project: Path) -> None:
    # A file not named pyproject.toml holds the settings at its top level.
    write_tree(
        project,
        {"backlint.toml": 'select = ["BKL802"]\n', "services.py": "def load(pk):\n    return pk\n"},
    )
    run = run_cli(project, "check", "--config", "backlint.toml")
    assert run.exit_code == 1
    assert "BKL802" in run.stdout
    assert "BKL801" not in run.stdout


def test_explicit_toml_file_with_a_tool_table(project: Path) -> None:
    # A copy of a pyproject.toml under another name keeps [tool.backlint].
    write_tree(
        project,
        {"ci.toml": pyproject('select = ["BKL802"]'), "app.py": "def load(pk):\n    return pk\n"},
    )
    run = run_cli(project, "check", "--config", "ci.toml")
    assert run.exit_code == 1, run.stderr
    assert "BKL802" in run.stdout
    assert "BKL801" not in run.stdout


def test_explicit_config_errors_name_the_file(project: Path) -> None:
    write_tree(project, {"app.py": "x = 1\n", "bad.toml": "colour = 1\n"})
    run = run_cli(project, "check", "--config", "missing.toml")
    assert run.exit_code == 2
    assert "missing.toml" in run.stderr
    run = run_cli(project, "check", "--config", "bad.toml")
    assert run.exit_code == 2
    assert "bad.toml" in run.stderr
    assert "'colour'" in run.stderr


def test_explicit_config_patterns_are_relative_to_the_project_root(project: Path) -> None:
    # `--config ci/lint.toml`, given relative to the working directory: its
    # exclude and per-file-ignores patterns are the project's, and the
    # project's .gitignore still applies.
    source = "def f(x) -> None:\n    pass\n"
    write_tree(
        project,
        {
            ".git/HEAD": "ref: refs/heads/main\n",
            ".gitignore": "generated/\n",
            "ci/lint.toml": (
                'select = ["BKL801"]\nextend-exclude = ["vendor/lib"]\n'
                '[per-file-ignores]\n"legacy/*" = ["BKL801"]\n'
            ),
            "app/services.py": source,
            "legacy/m.py": source,
            "generated/m.py": source,
            "vendor/lib/m.py": source,
        },
    )
    expected = [
        "app/services.py:1:1: BKL801 `f` has parameters without type annotations: `x`",
        "1 finding in 2 files",
    ]
    assert run_cli(project, "check", "--config", "ci/lint.toml").stdout.splitlines() == expected
    absolute = str(project / "ci" / "lint.toml")
    assert run_cli(project, "check", "--config", absolute).stdout.splitlines() == expected
    # From a subdirectory, the file is named relative to it.
    run = run_cli(project / "app", "check", "--config", "../ci/lint.toml", ".")
    assert run.stdout.splitlines() == [
        "services.py:1:1: BKL801 `f` has parameters without type annotations: `x`",
        "1 finding in 1 file",
    ]
