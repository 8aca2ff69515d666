"""docs/rules/ is generated from the rules: a page per code and an index. The
committed pages must be what the rules generate (regenerate them with
`python -m backlint.docs docs/rules`), and `backlint rule CODE` prints the
same text."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from backlint.docs import differences, generated, main, write
from backlint.registry import ENGINE_CODES, all_rules

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules"
CODES = [c.code for c in ENGINE_CODES] + [r.code for r in all_rules()]


def test_committed_docs_are_what_the_rules_generate() -> None:
    stale = differences(DOCS)
    assert not stale, (
        f"docs/rules/ differs from the rules' docs for {stale}: run "
        "`python -m backlint.docs docs/rules` and commit the result"
    )


@pytest.mark.parametrize("code", CODES)
def test_backlint_rule_prints_the_page(code: str) -> None:
    run = run_cli(Path.cwd(), "rule", code)
    assert run.exit_code == 0
    assert run.stdout == (DOCS / f"{code}.md").read_text(encoding="utf-8")


def test_index_links_every_page() -> None:
    index = generated()["README.md"]
    for code in CODES:
        assert f"[{code}]({code}.md)" in index


def test_stale_missing_and_extra_pages_are_found(tmp_path: Path) -> None:
    assert differences(tmp_path) == sorted(generated())
    write(tmp_path)
    assert differences(tmp_path) == []
    (tmp_path / "BKL101.md").write_text("old\n", encoding="utf-8")
    (tmp_path / "BKL999.md").write_text("a rule that is gone\n", encoding="utf-8")
    assert differences(tmp_path) == ["BKL101.md", "BKL999.md"]
    assert main(["--check", str(tmp_path)]) == 1
    assert main([str(tmp_path)]) == 0
    assert main(["--check", str(tmp_path)]) == 0
    assert not (tmp_path / "BKL999.md").exists()
