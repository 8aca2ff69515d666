"""Rule selection, with ruff's semantics (registry.resolve_selection)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from unittest.mock import patch

from conftest import keys, lint, pyproject, run_cli, write_tree

from backlint import registry
from backlint.config import load_config
from backlint.engine.check import settings_for
from backlint.registry import SelectionLayer, is_valid_selector, resolve_selection

# A fixed catalogue, so that these tests do not change as rules are added.
CATALOGUE = {
    "BKL001": "default",
    "BKL002": "default",
    "BKL101": "default",
    "BKL102": "default",
    "BKL205": "default",
    "BKL206": "strict",
    "BKL301": "default",
    "BKL305": "strict",
    "BKL801": "default",
    "BKL802": "default",
}
DEFAULT = {code for code, group in CATALOGUE.items() if group == "default"}
STRICT = {code for code, group in CATALOGUE.items() if group == "strict"}


def catalogue() -> AbstractContextManager[object]:
    return patch.object(registry, "all_codes", lambda: dict(CATALOGUE))


def resolve(*layers: SelectionLayer) -> set[str]:
    with catalogue():
        return set(resolve_selection(layers))


def layer(
    select: list[str] | None = None, extend: list[str] = (), ignore: list[str] = ()
) -> SelectionLayer:
    return SelectionLayer(select=select, extend_select=tuple(extend), ignore=tuple(ignore))


def test_nothing_configured_runs_the_default_group() -> None:
    assert resolve() == DEFAULT
    assert resolve(layer()) == DEFAULT


def test_select_replaces_the_defaults() -> None:
    assert resolve(layer(select=["BKL801"])) == {"BKL801"}


def test_prefixes_select_families() -> None:
    assert resolve(layer(select=["BKL1"])) == {"BKL101", "BKL102"}
    assert resolve(layer(select=["BKL20"])) == {"BKL205", "BKL206"}
    assert resolve(layer(select=["BKL3", "BKL8"])) == {"BKL301", "BKL305", "BKL801", "BKL802"}


def test_a_prefix_reaches_strict_rules_by_code() -> None:
    # A strict rule runs when selected by code or prefix, not by default.
    assert "BKL206" not in resolve()
    assert resolve(layer(select=["BKL206"])) == {"BKL206"}
    assert "BKL305" in resolve(layer(select=["BKL"]))


def test_groups() -> None:
    assert resolve(layer(select=["default"])) == DEFAULT
    assert resolve(layer(select=["strict"])) == STRICT
    assert resolve(layer(extend=["strict"])) == DEFAULT | STRICT
    assert resolve(layer(ignore=["default"])) == set()


def test_all() -> None:
    assert resolve(layer(select=["ALL"])) == set(CATALOGUE)
    assert resolve(layer(select=["ALL"], ignore=["strict"])) == DEFAULT
    assert resolve(layer(select=["ALL"], ignore=["BKL1", "BKL0"])) == set(CATALOGUE) - {
        "BKL101",
        "BKL102",
        "BKL001",
        "BKL002",
    }


def test_ignore_wins_at_equal_specificity() -> None:
    assert resolve(layer(select=["BKL1"], ignore=["BKL1"])) == set()
    assert resolve(layer(select=["BKL801"], ignore=["BKL801"])) == set()
    assert resolve(layer(select=["strict"], ignore=["strict"])) == set()
    assert resolve(layer(extend=["BKL206"], ignore=["BKL206"])) == DEFAULT


def test_the_more_specific_selector_wins() -> None:
    # A code beats its prefix, whichever of select/ignore it is.
    assert resolve(layer(select=["BKL1"], ignore=["BKL101"])) == {"BKL102"}
    assert resolve(layer(select=["BKL101"], ignore=["BKL1"])) == {"BKL101"}
    # A longer prefix beats a shorter one.
    assert resolve(layer(select=["BKL20"], ignore=["BKL2"])) == {"BKL205", "BKL206"}
    # Any prefix beats a group; a group beats ALL.
    assert resolve(layer(select=["BKL3"], ignore=["strict"])) == {"BKL301", "BKL305"}
    assert resolve(layer(select=["strict"], ignore=["ALL"])) == STRICT
    assert resolve(layer(select=["ALL"], ignore=["default"])) == STRICT


def test_ignore_without_select_keeps_the_rest_of_the_defaults() -> None:
    assert resolve(layer(ignore=["BKL8"])) == DEFAULT - {"BKL801", "BKL802"}


def test_extend_select_adds_to_select() -> None:
    assert resolve(layer(select=["BKL1"], extend=["BKL801"])) == {"BKL101", "BKL102", "BKL801"}


def test_a_later_select_replaces_an_earlier_layer() -> None:
    config = layer(select=["BKL8"], ignore=["BKL801"])
    assert resolve(config) == {"BKL802"}
    # The command line's --select replaces the whole configured selection,
    # its ignore included.
    assert resolve(config, layer(select=["BKL801"])) == {"BKL801"}
    assert resolve(layer(ignore=["BKL801"]), layer(select=["BKL8"])) == {"BKL801", "BKL802"}


def test_a_later_layer_without_select_builds_on_the_earlier_one() -> None:
    config = layer(select=["BKL1"])
    assert resolve(config, layer(ignore=["BKL101"])) == {"BKL102"}
    assert resolve(config, layer(extend=["BKL206"])) == {"BKL101", "BKL102", "BKL206"}
    # A later layer's ignore cannot be undone by an earlier select.
    assert resolve(layer(select=["BKL101"]), layer(ignore=["BKL1"])) == set()


def test_valid_selectors() -> None:
    with catalogue():
        for selector in ("ALL", "default", "strict", "BKL", "BKL1", "BKL10", "BKL101"):
            assert is_valid_selector(selector), selector
        for selector in ("BKL999", "BKL4", "bkl101", "E501", "all", "", "BKL1011"):
            assert not is_valid_selector(selector), selector


# ---------------------------------------------------------------------------
# Through the configuration and the command line (the real registry).


SOURCE = "def load(pk):\n    return pk\n"  # BKL801 and BKL802 on line 1


def test_settings_for_runs_only_the_selected_rules(project: Path) -> None:
    write_tree(project, {"pyproject.toml": pyproject('select = ["BKL802"]'), "app.py": SOURCE})
    settings = settings_for(load_config(project))
    assert [rule.code for rule in settings.rules] == ["BKL802"]
    assert settings.engine_codes == frozenset()  # not selected
    assert keys(lint(project)) == [("app.py", 1, "BKL802")]


def test_cli_select_overrides_configured_ignore(project: Path) -> None:
    write_tree(project, {"pyproject.toml": pyproject('ignore = ["BKL801"]'), "app.py": SOURCE})
    assert keys(lint(project)) == [("app.py", 1, "BKL802")]
    assert keys(lint(project, cli=SelectionLayer(select=("BKL801",)))) == [("app.py", 1, "BKL801")]
    run = run_cli(project, "check", "--select", "BKL801")
    assert run.exit_code == 1
    assert run.stdout.splitlines()[0].startswith("app.py:1:1: BKL801 ")


def test_cli_ignore_and_extend_select(project: Path) -> None:
    write_tree(project, {"pyproject.toml": pyproject('select = ["BKL801"]'), "app.py": SOURCE})
    assert "BKL802" in run_cli(project, "check", "--extend-select", "BKL802").stdout
    run = run_cli(project, "check", "--ignore", "BKL8")
    assert run.exit_code == 0
    assert run.stdout == "0 findings in 1 file\n"


def test_cli_rejects_an_unknown_selector(project: Path) -> None:
    write_tree(project, {"app.py": SOURCE})
    run = run_cli(project, "check", "--select", "BKL801,BKL999")
    assert run.exit_code == 2
    assert "BKL999" in run.stderr
    assert "--select" in run.stderr
