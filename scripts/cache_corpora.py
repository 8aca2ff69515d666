"""The findings cache on real code: on a copy of each tree, a run without
cache, a cold run that writes the cache and a warm run must give the same
findings (JSON, fixes included); so must a warm run after an edit that
changes no fact (a comment), one that changes a fact (a new module-level
function) and, in a Django tree, one that changes the model graph (the
first `models.ForeignKey(` of the first models file, in path order, made a
plain `models.IntegerField(`: a relation and its reverse gone), each
compared with a run without cache of the edited tree.

    python scripts/cache_corpora.py path/to/corpora                 # every tree
    python scripts/cache_corpora.py path/to/corpora django lnbits
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fix_corpora import corpus_trees  # (beside this script)


def _findings(tree: Path, *extra: str) -> tuple[str, float]:
    command = [sys.executable, "-m", "backlint", "check", "--format", "json", "--exit-zero"]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, *extra, "."], cwd=tree, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"exit {done.returncode}: {done.stderr[-300:]}")
    return done.stdout, time.perf_counter() - start


def check_tree(tree: Path, work: Path) -> list[str]:
    copy = work / tree.name
    shutil.copytree(tree, copy, symlinks=True, ignore=shutil.ignore_patterns(".backlint_cache"))
    (copy / "pyproject.toml").write_text("[tool.backlint]\n", encoding="utf-8")
    problems = []
    expected, _ = _findings(copy, "--no-cache")
    cold, cold_s = _findings(copy)
    warm, warm_s = _findings(copy)
    if cold != expected:
        problems.append("cold run with the cache differs from --no-cache")
    if warm != expected:
        problems.append("warm run differs from --no-cache")
    largest = max(copy.rglob("*.py"), key=lambda p: p.stat().st_size)
    for label, text in (
        ("a comment", "\n# an edit that changes no fact\n"),
        ("a new function", "\n\ndef added_by_the_cache_check(x):\n    return x\n"),
    ):
        with largest.open("a", encoding="utf-8") as handle:
            handle.write(text)
        after, after_s = _findings(copy)
        fresh, _ = _findings(copy, "--no-cache")
        if after != fresh:
            problems.append(f"after {label} in {largest.relative_to(copy)}: warm differs")
        print(f"  after {label}: {after_s:.1f} s", flush=True)
    model = _first_relation(copy)
    if model is not None:
        text = model.read_text(encoding="utf-8")
        model.write_text(text.replace(RELATION, "models.IntegerField(", 1), encoding="utf-8")
        after, after_s = _findings(copy)
        fresh, _ = _findings(copy, "--no-cache")
        if after != fresh:
            problems.append(f"after a relation made a field in {model.relative_to(copy)}: differs")
        print(f"  after a relation made a field: {after_s:.1f} s", flush=True)
    print(f"  cold {cold_s:.1f} s, warm {warm_s:.1f} s", flush=True)
    return problems


RELATION = "models.ForeignKey("


def _first_relation(tree: Path) -> Path | None:
    for path in sorted(tree.rglob("models*.py")) + sorted(tree.rglob("models/*.py")):
        try:
            if RELATION in path.read_text(encoding="utf-8"):
                return path
        except (OSError, UnicodeDecodeError):
            continue
    return None


def main() -> int:
    failed = False
    with tempfile.TemporaryDirectory(prefix="backlint-cache-corpora-") as tmp:
        for tree in corpus_trees(__doc__):
            print(f"{tree.name}:", flush=True)
            problems = check_tree(tree, Path(tmp))
            print(f"  {'same findings: ok' if not problems else 'FAILED'}", flush=True)
            for problem in problems:
                print(f"  {problem}")
            failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
