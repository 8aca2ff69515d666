#!/usr/bin/env python3
"""What a set of rules adds to a run: `backlint check` on a tree with a
baseline selection and with another, alternately, each in its own process.

    python benchmarks/rule_cost.py path/to/django                # issue 2's rules vs default
    python benchmarks/rule_cost.py path/to/tree --runs 9 --base BKL1,BKL2 --full ALL

Runs go A B A B ... after one warm-up of each (the index cache is then warm),
with `--jobs` workers (default 1). Printed: the median CPU time (user + sys of
the process and its workers) of each selection and the median of the paired
ratios full / base, which stays meaningful when the machine's speed drifts.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

# The rules of the core issue: what the other families are measured against.
CORE_RULES = "BKL101,BKL102,BKL201,BKL301,BKL801,BKL802"


def _cpu_of(command: list[str], cwd: Path) -> float:
    """CPU seconds of one run of `command`, its child processes included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--base", default=CORE_RULES, help=f"default: {CORE_RULES}")
    parser.add_argument("--full", default="default", help="default: the default group")
    parser.add_argument("--backlint", default=shutil.which("backlint") or "backlint")
    args = parser.parse_args()
    tree = args.tree.resolve()
    check = [args.backlint, "check", ".", "--exit-zero", "--jobs", str(args.jobs)]
    commands = {
        name: [*check, "--select", selection]
        for name, selection in (("base", args.base), ("full", args.full))
    }
    for command in commands.values():
        _cpu_of(command, tree)  # warm-up: imports, index cache
    times: dict[str, list[float]] = {name: [] for name in commands}
    for run in range(args.runs):
        for name, command in commands.items():
            times[name].append(_cpu_of(command, tree))
        print(
            f"run {run + 1}/{args.runs}: base {times['base'][-1]:.2f} s, "
            f"full {times['full'][-1]:.2f} s",
            file=sys.stderr,
        )
    ratios = [full / base for base, full in zip(times["base"], times["full"], strict=True)]
    print(f"{tree}: {args.runs} runs each, {args.jobs} worker(s), CPU seconds (median)")
    print(f"  base ({args.base}): {statistics.median(times['base']):.2f}")
    print(f"  full ({args.full}): {statistics.median(times['full']):.2f}")
    print(f"  full / base, median of paired ratios: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
