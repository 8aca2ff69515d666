"""Apply every fix to real code and prove the result still parses.

    python scripts/fix_corpora.py path/to/corpora          # every tree under it
    python scripts/fix_corpora.py path/to/corpora django wagtail

Each tree is copied to a temporary directory (the originals are never
touched), `backlint check --fix --unsafe-fixes --select ALL` runs on the copy,
and then every Python file that parsed before must still parse (with `ast`
and with LibCST) and compile, and keep its encoding (coding cookie, BOM),
line endings and permissions; a second run must change nothing. Prints one
line per tree and exits 1 if any file broke. (tests/test_fix_copies.py runs
the same check on the fixtures, with CRLF, latin-1 and BOM variants.)
"""

from __future__ import annotations

import argparse
import ast
import shutil
import stat
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import libcst as cst

from backlint.engine.reading import SourceError
from backlint.engine.source import decode


def _valid(data: bytes) -> tuple[bool, bool]:
    """(ast and compile accept it, LibCST parses it)."""
    try:
        text = decode(data).text
    except SourceError:
        return False, False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(text)
            compile(text, "<corpus>", "exec", dont_inherit=True)
            compiles = True
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            compiles = False
    try:
        cst.parse_module(text)
        parses = True
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        parses = False
    return compiles, parses


def _form(path: Path, data: bytes) -> tuple[int, str, bool, bool]:
    """(permission bits, encoding, BOM, only CRLF line endings) of a file."""
    try:
        source = decode(data)
        encoding, bom = source.encoding, source.bom
    except SourceError:
        encoding, bom = "?", False
    crlf = b"\r\n" in data and data.count(b"\n") == data.count(b"\r\n")
    return stat.S_IMODE(path.stat().st_mode), encoding, bom, crlf


def _snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*.py")) if p.is_file()}


def _run(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "backlint.cli", "check", "--fix", "--unsafe-fixes",
        "--select", "ALL", "--exit-zero", "--no-cache", "--format", "json", *extra, ".",
    ]  # fmt: skip
    return subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)


def fix_tree(tree: Path, workdir: Path) -> tuple[int, int, int, list[str]]:
    """(files, files changed, fixes applied, problems) for one tree."""
    copy = workdir / tree.name
    shutil.copytree(tree, copy, symlinks=True)
    # backlint must not pick up a configuration around the temporary copy.
    (copy / "pyproject.toml").write_text("[tool.backlint]\n", encoding="utf-8")
    before = _snapshot(copy)
    forms = {path: _form(path, data) for path, data in before.items()}
    first = _run(copy)
    problems = [line for line in first.stderr.splitlines() if line.startswith("backlint:")]
    if first.returncode != 0:
        problems.append(f"exit {first.returncode}: {first.stderr.strip()[-500:]}")
    applied = 0
    for line in first.stderr.splitlines():
        if line.startswith("Fixed "):
            applied = int(line.split()[1])
    after = _snapshot(copy)
    changed = [p for p in before if after.get(p) != before[p]]
    for path in changed:
        was = _valid(before[path])
        now = _valid(after[path])
        if (was[0] and not now[0]) or (was[1] and not now[1]):
            problems.append(f"{path.relative_to(copy)}: parsed before the fixes, not after")
        form = _form(path, after[path])
        if form != forms[path]:
            problems.append(
                f"{path.relative_to(copy)}: (mode, encoding, BOM, CRLF) {forms[path]} -> {form}"
            )
    second = _run(copy)
    if _snapshot(copy) != after:
        problems.append("a second --fix changed files again")
    if second.returncode != 0:
        problems.append(f"second run: exit {second.returncode}")
    return len(before), len(changed), applied, problems


def corpus_trees(description: str) -> list[Path]:
    """The trees named on the command line (`CORPORA [TREE...]`; every tree
    of CORPORA when none is named), for this script and its siblings."""
    parser = argparse.ArgumentParser(description=description.split("\n\n")[0])
    parser.add_argument("corpora", type=Path)
    parser.add_argument("trees", nargs="*")
    args = parser.parse_args()
    names = args.trees or sorted(
        p.name for p in args.corpora.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    return [args.corpora / name for name in names]


def main() -> int:
    failed = False
    with tempfile.TemporaryDirectory(prefix="backlint-fix-corpora-") as tmp:
        for tree in corpus_trees(__doc__):
            name = tree.name
            files, changed, applied, problems = fix_tree(tree, Path(tmp))
            status = "ok" if not problems else "FAILED"
            print(
                f"{name}: {files} files, {applied} fixes applied in {changed} files, "
                f"every fixed file parses: {status}"
            )
            for problem in problems:
                print(f"  {problem}")
            failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
