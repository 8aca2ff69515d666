"""The five performance ratios backlint is held to, on real trees:

1. cold   `backlint check --no-cache .` (default rules) / `flake8 -j2 .`
2. warm   `backlint check .` on an unchanged tree (cache primed)
          / `ruff check --select ALL --no-cache .` (cold)
3. one    one changed file, as pre-commit runs it (cache primed, the file
          edited before every run) / `flake8 FILE`
4. plugin `flake8 -j2 .` with backlint's BKL plugin / `flake8 -j2 .` alone
5. memory peak RSS of the largest process of `backlint check --no-cache .`

Each pair runs A B A B (every run its own process); the ratio is the median
of the paired ratios of wall time. flake8 and ruff come from the tools'
virtualenv of bench.py (without backlint); flake8 with the plugin is the one
beside the backlint being timed. Every tree is copied to a scratch directory
first: the cache and the edits never touch the original.

    python benchmarks/targets.py                          # django + open-webui
    python benchmarks/targets.py django lnbits --runs 5 --one-file lnbits/core/crud.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import (
    ROOT,
    ensure_tools_venv,
    find_backlint,
    resolve_tree,
    venv_bin,
)

# The file pre-commit would pass after an edit, per tree (else the largest).
ONE_FILE = {"django": "django/db/models/query.py"}
CONFIG = "[tool.backlint]\n"


def _run(argv: Sequence[str], cwd: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB of the largest process) of one run."""
    probe = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv], cwd=cwd, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - start
    return wall, int(done.stdout.strip() or 0)


def paired(
    a: Sequence[str],
    b: Sequence[str],
    cwd: Path,
    runs: int,
    before_a: Callable[[], None] | None = None,
) -> tuple[float, float, float]:
    """(median wall of A, median wall of B, median of the paired ratios A/B)."""
    walls_a: list[float] = []
    walls_b: list[float] = []
    for _ in range(runs):
        if before_a is not None:
            before_a()
        walls_a.append(_run(a, cwd)[0])
        walls_b.append(_run(b, cwd)[0])
    ratios = [x / y for x, y in zip(walls_a, walls_b, strict=True)]
    return statistics.median(walls_a), statistics.median(walls_b), statistics.median(ratios)


def largest_file(tree: Path) -> Path:
    return max(tree.rglob("*.py"), key=lambda p: p.stat().st_size).relative_to(tree)


def measure(
    name: str, tree: Path, backlint: Path, tools: Path, runs: int, one: str | None
) -> list[tuple[str, str, float, float, float, str]]:
    flake8 = str(venv_bin(tools, "flake8"))
    ruff = str(venv_bin(tools, "ruff"))
    plugin_flake8 = str(backlint.parent / "flake8")
    bl = str(backlint)
    rows = []
    with tempfile.TemporaryDirectory(prefix="backlint-targets-") as scratch:
        copy = Path(scratch) / tree.name
        shutil.copytree(tree, copy, ignore=shutil.ignore_patterns(".backlint_cache"))
        (copy / "pyproject.toml").write_text(CONFIG, encoding="utf-8")

        a, b, r = paired(
            [bl, "check", "--no-cache", "--exit-zero", "."],
            [flake8, "--isolated", "-j2", "--exit-zero", "."],
            copy,
            runs,
        )
        rows.append(("cold / flake8 -j2", "<= 0.5", a, b, r, ""))

        subprocess.run([bl, "check", "--exit-zero", "."], cwd=copy, capture_output=True)
        a, b, r = paired(
            [bl, "check", "--exit-zero", "."],
            [ruff, "check", "--isolated", "--select", "ALL", "--no-cache", "--exit-zero", "."],
            copy,
            runs,
        )
        rows.append(("warm / ruff ALL cold", "<= 1.5", a, b, r, ""))

        chosen = one or ONE_FILE.get(tree.name)
        target = Path(chosen) if chosen else largest_file(copy)
        if not (copy / target).is_file():
            target = largest_file(copy)
        edits = iter(range(10**6))

        def edit() -> None:
            with (copy / target).open("a", encoding="utf-8") as handle:
                handle.write(f"# edit {next(edits)}\n")

        a, b, r = paired(
            [bl, "check", "--exit-zero", str(target)],
            [flake8, "--isolated", "--exit-zero", str(target)],
            copy,
            runs,
            before_a=edit,
        )
        rows.append(("one file / flake8 FILE", "<= 1.0", a, b, r, str(target)))

        # flake8's own cache is none; the plugin's index is cached like the CLI's.
        subprocess.run(
            [plugin_flake8, "--isolated", "-j2", "--extend-select", "BKL", "--exit-zero", "."],
            cwd=copy,
            capture_output=True,
        )
        a, b, r = paired(
            [plugin_flake8, "--isolated", "-j2", "--extend-select", "BKL", "--exit-zero", "."],
            [flake8, "--isolated", "-j2", "--exit-zero", "."],
            copy,
            runs,
        )
        rows.append(("flake8+BKL / flake8", "<= 1.3", a, b, r, ""))

        peaks = [_run([bl, "check", "--no-cache", "--exit-zero", "."], copy)[1] for _ in range(2)]
        mib = max(peaks) / 1024
        rows.append(("peak memory (MiB)", "<= 1024", mib, 0.0, 0.0, "largest process"))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", default=["django", "open-webui"])
    parser.add_argument("--corpora", type=Path, default=ROOT / "benchmarks" / "corpora")
    parser.add_argument(
        "--fetch-script", type=Path, default=ROOT.parent / "shared/corpora/fetch.sh"
    )
    parser.add_argument("--tools-venv", type=Path, default=ROOT / "benchmarks" / ".tools-venv")
    parser.add_argument("--backlint", type=Path)
    parser.add_argument("--runs", type=int, default=5, help="pairs per measure (default: 5)")
    parser.add_argument("--one-file", help="the file to edit for measure 3 (relative to the tree)")
    args = parser.parse_args(argv)
    backlint = find_backlint(args.backlint)
    tools = args.tools_venv.resolve()
    ensure_tools_venv(tools, sys.executable)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"backlint: {backlint}; {cores} cores; {args.runs} pairs, A B A B; wall seconds")
    for name in args.trees:
        tree = resolve_tree(name, args.corpora.resolve(), args.fetch_script)
        print(f"\n{name} ({tree})", flush=True)
        print(f"  {'measure':<24} {'target':>8} {'backlint':>9} {'other':>8} {'ratio':>7}")
        for label, target, a, b, r, note in measure(
            name, tree, backlint, tools, args.runs, args.one_file
        ):
            if label.startswith("peak"):
                print(f"  {label:<24} {target:>8} {a:>9.0f} {'':>8} {'':>7}  {note}")
            else:
                print(f"  {label:<24} {target:>8} {a:>9.2f} {b:>8.2f} {r:>7.2f}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
