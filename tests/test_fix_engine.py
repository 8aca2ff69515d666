"""`--fix`, `--unsafe-fixes`, `--diff`: what is written, and what is kept.

A fixed file keeps its encoding (BOM, coding cookie), line endings, permission
bits and every byte outside the fixed nodes; it is replaced atomically; a fix
that would break the code is not applied; a fix is never applied twice.
"""

from __future__ import annotations

import codecs
import stat
from pathlib import Path

import libcst as cst
import pytest
from conftest import pyproject, run_cli, write_tree

from backlint.engine.files import source_file
from backlint.engine.fixes import (
    FileChangedError,
    apply_edits,
    fix_text,
    write_atomically,
)
from backlint.engine.runner import lint_text
from backlint.engine.settings import RunSettings
from backlint.rule import Rule
from backlint.semantics.index import ProjectIndex
from backlint.types import Edit, FixKind

SELECT_802 = pyproject('select = ["BKL802"]')
SELECT_101 = pyproject('select = ["BKL101"]')

BEFORE = "import os\n\n\ndef tidy(path: str):  # keep this comment\n    os.remove(path)\n"
AFTER = "import os\n\n\ndef tidy(path: str) -> None:  # keep this comment\n    os.remove(path)\n"

DJANGO = """\
from django.db import models


class Order(models.Model):
    total = models.IntegerField()


async def view(request, pk):
    order = Order.objects.get(pk=pk)
    if order:
        again = Order.objects.get(pk=pk)
        return again
    return order
"""


# ---------------------------------------------------------------------------
# Edits as text.


def test_apply_edits_counts_characters_and_every_line_ending() -> None:
    text = "é = 1\r\nb = 2\rc = 3\n"
    edits = [Edit(1, 5, 1, 6, "10"), Edit(2, 1, 2, 2, "bb"), Edit(3, 5, 3, 5, "-")]
    assert apply_edits(text, edits) == "é = 10\r\nbb = 2\rc = -3\n"


def test_apply_edits_rejects_positions_outside_the_text() -> None:
    with pytest.raises(ValueError):
        apply_edits("x = 1\n", [Edit(5, 1, 5, 2, "y")])


# ---------------------------------------------------------------------------
# --fix through the command line.


def test_fix_writes_the_fix_and_reports_what_is_left(project: Path) -> None:
    write_tree(
        project,
        {"pyproject.toml": SELECT_802, "a.py": BEFORE, "b.py": "def keep(x):\n    return x\n"},
    )
    run = run_cli(project, "check", "--fix")
    assert (project / "a.py").read_text() == AFTER
    assert run.stdout.splitlines() == [
        "b.py:1:1: BKL802 `keep` has no return annotation",
        "1 finding in 2 files",
    ]
    assert run.stderr == "Fixed 1 finding in 1 file.\n"
    assert run.exit_code == 1  # a finding is left
    assert run_cli(project, "check", "--fix", "a.py").exit_code == 0


@pytest.mark.parametrize(
    ("label", "encode"),
    [
        ("utf-8", lambda text: text.encode("utf-8")),
        ("bom", lambda text: codecs.BOM_UTF8 + text.encode("utf-8")),
        ("crlf", lambda text: text.replace("\n", "\r\n").encode("utf-8")),
        ("cr", lambda text: text.replace("\n", "\r").encode("utf-8")),
        (
            "latin-1",
            lambda text: ("# -*- coding: latin-1 -*-\n# café\n" + text).encode("latin-1"),
        ),
        ("no-final-newline", lambda text: text.rstrip("\n").encode("utf-8")),
        ("tabs", lambda text: text.replace("    ", "\t").encode("utf-8")),
    ],
)
def test_fix_keeps_every_byte_outside_the_fix(project: Path, label: str, encode: object) -> None:
    assert callable(encode)
    before, after = encode(BEFORE), encode(AFTER)
    write_tree(project, {"pyproject.toml": SELECT_802, "a.py": before})
    run = run_cli(project, "check", "--fix")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert (project / "a.py").read_bytes() == after


def test_fix_keeps_permissions_and_replaces_atomically(project: Path) -> None:
    write_tree(project, {"pyproject.toml": SELECT_802, "a.py": BEFORE})
    path = project / "a.py"
    path.chmod(0o751)
    inode = path.stat().st_ino
    assert run_cli(project, "check", "--fix").exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    names = sorted(p.name for p in project.iterdir() if p.name != ".backlint_cache")
    assert names == ["a.py", "pyproject.toml"]


def test_fix_through_a_symbolic_link_fixes_the_target(project: Path) -> None:
    write_tree(project, {"pyproject.toml": SELECT_802, "real/a.py": BEFORE})
    (project / "link.py").symlink_to(project / "real" / "a.py")
    assert run_cli(project, "check", "--fix", "link.py").exit_code == 0
    assert (project / "link.py").is_symlink()
    assert (project / "real" / "a.py").read_text() == AFTER


def test_write_atomically_leaves_a_file_changed_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(b"new content\n")
    with pytest.raises(FileChangedError):
        write_atomically(path, b"fixed\n", expected=b"old content\n")
    assert path.read_bytes() == b"new content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]


def test_diff_prints_and_writes_nothing(project: Path) -> None:
    write_tree(project, {"pyproject.toml": SELECT_802, "a.py": BEFORE})
    run = run_cli(project, "check", "--diff")
    assert run.exit_code == 1
    assert (project / "a.py").read_text() == BEFORE
    assert run.stdout == (
        "--- a/a.py\n+++ b/a.py\n@@ -1,5 +1,5 @@\n import os\n \n \n"
        "-def tidy(path: str):  # keep this comment\n"
        "+def tidy(path: str) -> None:  # keep this comment\n"
        "     os.remove(path)\n"
    )
    assert run.stderr == "Would fix 1 finding in 1 file.\n"
    write_tree(project, {"a.py": AFTER})
    clean = run_cli(project, "check", "--diff")
    assert (clean.exit_code, clean.stdout) == (0, "")


def test_unsafe_fixes_only_when_asked(project: Path) -> None:
    write_tree(
        project, {"pyproject.toml": SELECT_101, "shop/__init__.py": "", "shop/views.py": DJANGO}
    )
    listing = run_cli(project, "check")
    assert listing.stdout.splitlines()[-1] == (
        "[*] 1 fixable with `--fix` (1 more with `--fix --unsafe-fixes`)"
    )
    safe = run_cli(project, "check", "--fix")
    text = (project / "shop/views.py").read_text()
    assert "order = await Order.objects.aget(pk=pk)" in text
    assert "again = Order.objects.get(pk=pk)" in text
    assert safe.exit_code == 1
    unsafe = run_cli(project, "check", "--fix", "--unsafe-fixes")
    assert "again = await Order.objects.aget(pk=pk)" in (project / "shop/views.py").read_text()
    assert unsafe.exit_code == 0
    assert unsafe.stderr == "Fixed 1 finding in 1 file.\n"


def test_json_and_sarif_carry_applicability(project: Path) -> None:
    write_tree(
        project, {"pyproject.toml": SELECT_101, "shop/__init__.py": "", "shop/views.py": DJANGO}
    )
    import json

    data = json.loads(run_cli(project, "check", "--format", "json").stdout)
    assert [f["fix"]["applicability"] for f in data] == ["safe", "unsafe"]


# ---------------------------------------------------------------------------
# The fix loop, with rules made for the test.


class _Rename(Rule):
    """Renames one name to another (test rules are made from it)."""

    old = ""
    new = ""
    message = "rename"
    fix_kind = FixKind.SAFE

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.old:
            self.report(node, replacement=node.with_changes(value=self.new))


class _AToB(_Rename):
    code, name, old, new = "BKL993", "test-a-to-b", "a", "b"


class _BToC(_Rename):
    code, name, old, new = "BKL994", "test-b-to-c", "b", "c"


class _BToA(_Rename):
    code, name, old, new = "BKL995", "test-b-to-a", "b", "a"


class _Same(_Rename):
    """A fix that changes nothing is not a fix."""

    code, name, old, new = "BKL996", "test-same", "s", "s"


class _Breaks(Rule):
    """A broken fix: renames `y` to `def`."""

    code = "BKL991"
    name = "test-breaks"
    message = "y"
    fix_kind = FixKind.SAFE

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "y":
            self.report(node, replacement=node.with_changes(value="def"))


class _Grows(Rule):
    """A fix that never ends: each `z...` gets one more `z`, a new finding each time."""

    code = "BKL992"
    name = "test-grows"
    message = "z"
    fix_kind = FixKind.SAFE

    def visit_Name(self, node: cst.Name) -> None:
        if node.value.startswith("z"):
            self.report(node, replacement=node.with_changes(value=node.value + "z"))


def _fix(
    tmp_path: Path, rule: type[Rule] | tuple[type[Rule], ...], text: str
) -> tuple[str, dict[str, int], list[str]]:
    path = tmp_path / "m.py"
    path.write_text(text)
    file = source_file(path, tmp_path, tmp_path)
    rules = rule if isinstance(rule, tuple) else (rule,)
    settings = RunSettings(rules=rules, root=tmp_path, want_edits=True)
    index = ProjectIndex([])
    findings = lint_text(file, text, settings, index)
    fixed, _, applied, problems = fix_text(file, text, findings, settings, index, False)
    return fixed, applied, problems


def test_a_fix_is_never_applied_twice(tmp_path: Path) -> None:
    fixed, applied, problems = _fix(tmp_path, _Grows, "z = 1\nprint(z)\n")
    # Each `z` became `zz` once; the findings on `zz` touch what the rule wrote.
    assert fixed == "zz = 1\nprint(zz)\n"
    assert applied == {"BKL992": 2}
    assert len(problems) == 2
    assert all("not applied again" in p for p in problems)


def test_a_fix_that_changes_nothing_is_not_applied(tmp_path: Path) -> None:
    assert _fix(tmp_path, _Same, "s = 1\n") == ("s = 1\n", {}, [])


def test_fixes_of_several_rules_chain_over_passes(tmp_path: Path) -> None:
    fixed, applied, problems = _fix(tmp_path, (_AToB, _BToC), "a = 1\n")
    assert (fixed, applied, problems) == ("c = 1\n", {"BKL993": 1, "BKL994": 1}, [])


def test_fixes_that_undo_each_other_stop(tmp_path: Path) -> None:
    fixed, _, problems = _fix(tmp_path, (_AToB, _BToA), "a = 1\n")
    assert fixed == "a = 1\n"
    assert problems == ["the fixes undo each other; stopped"]


def test_the_fix_loop_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("backlint.engine.fixes.MAX_PASSES", 1)
    fixed, applied, problems = _fix(tmp_path, (_AToB, _BToC), "a = 1\n")
    assert (fixed, applied) == ("b = 1\n", {"BKL993": 1})
    assert problems == ["fixes did not converge after 1 passes; stopped"]


def test_a_broken_fix_beside_good_ones_is_reported_once(tmp_path: Path) -> None:
    fixed, applied, problems = _fix(tmp_path, (_Breaks, _AToB), "y = 1\na = 2\n")
    assert (fixed, applied) == ("y = 1\nb = 2\n", {"BKL993": 1})
    assert len(problems) == 1


def test_a_fix_that_breaks_the_code_is_not_applied(tmp_path: Path) -> None:
    fixed, applied, problems = _fix(tmp_path, _Breaks, "y = 1\n")
    assert fixed == "y = 1\n"
    assert applied == {}
    assert problems == [
        "BKL991 at line 1: the fix would leave code that does not parse; not applied"
    ]
