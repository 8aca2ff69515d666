"""The static rule catalogue matches the rule classes it stands for."""

from __future__ import annotations

from backlint.catalogue import GROUPS, RULES
from backlint.registry import SelectedRules, all_codes, all_rules, codes_of, rule_by_name


def test_the_catalogue_lists_every_rule_class_as_it_is() -> None:
    found = tuple((r.code, r.name, r.group, r.__module__, r.__name__) for r in all_rules())
    # When this fails: python scripts/write_catalogue.py
    assert found == RULES


def test_every_group_is_known() -> None:
    assert {row[2] for row in RULES} <= set(GROUPS)
    assert set(all_codes().values()) <= set(GROUPS)


def test_a_selection_loads_its_rules_by_code() -> None:
    selected = SelectedRules({"BKL302", "BKL101"})
    assert codes_of(selected) == {"BKL101", "BKL302"}
    assert [r.code for r in selected] == ["BKL101", "BKL302"]
    assert len(selected) == 2 and selected[1].code == "BKL302"
    assert rule_by_name("django-query-in-loop") is selected[1]
