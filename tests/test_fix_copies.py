"""`--fix --unsafe-fixes` on copies of real code (the fixtures, as written
and as CRLF, latin-1 and BOM files with unusual permissions): every file
still compiles, a second `--fix` changes nothing, and encodings, line
endings and permissions are kept. `scripts/fix_corpora.py` is the check;
run it on the real corpora too."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from fix_corpora import fix_tree  # noqa: E402


def _variants(tree: Path) -> None:
    """Rewrite the copied fixtures: a third CRLF, a third latin-1 with a
    coding cookie, a third with a BOM; permissions 0o755 / 0o600 / 0o640."""
    files = sorted(p for p in tree.rglob("*.py") if p.is_file())
    for i, path in enumerate(files):
        text = path.read_text(encoding="utf-8")
        if i % 3 == 0:
            path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
            path.chmod(0o755)
        elif i % 3 == 1 and not text.startswith("#!"):
            data = text.encode("latin-1", errors="replace")
            path.write_bytes(b"# -*- coding: latin-1 -*-\n" + data)
            path.chmod(0o600)
        else:
            path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
            path.chmod(0o640)


def test_fixes_on_copies_of_the_fixtures_keep_the_files_valid(tmp_path: Path) -> None:
    tree = tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures", tree)
    _variants(tree)
    work = tmp_path / "work"
    work.mkdir()
    files, changed, applied, problems = fix_tree(tree, work)
    assert problems == []
    assert files > 100 and changed > 10 and applied > 10
