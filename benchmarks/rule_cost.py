#!/usr/bin/env python3
"""What a set of rules adds to a run: CPU time of the engine on a tree with a
baseline selection and with another, best of N, in one process.

    python benchmarks/rule_cost.py path/to/django                # issue 2's rules vs default
    python benchmarks/rule_cost.py path/to/tree --runs 5 --base BKL1,BKL2 --full ALL

Both selections run alternately on one worker with the index cache warm, so the
ratio is the cost of the rules themselves (parsing the files they need more,
walking, their semantics), without process start-up or scheduling noise: the
best of N CPU times is what the code costs, the rest is the machine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from backlint.config import load_config
from backlint.engine.check import check, settings_for
from backlint.registry import SelectionLayer

# The rules of the core issue: what the other families are measured against.
CORE_RULES = "BKL101,BKL102,BKL201,BKL301,BKL801,BKL802"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--base", default=CORE_RULES, help=f"default: {CORE_RULES}")
    parser.add_argument("--full", default="default", help="default: the default group")
    args = parser.parse_args()
    root = args.tree.resolve()
    config = load_config(root)
    selections = {
        name: settings_for(config, SelectionLayer(select=tuple(value.split(","))))
        for name, value in (("base", args.base), ("full", args.full))
    }
    best = dict.fromkeys(selections, float("inf"))
    for _ in range(args.runs):
        for name, settings in selections.items():
            start = time.process_time()
            check([root], config, settings, cwd=root, jobs=1, use_cache=True)
            best[name] = min(best[name], time.process_time() - start)
    print(f"{root}: best of {args.runs}, CPU seconds, one worker")
    print(f"  base ({args.base}): {best['base']:.2f}")
    print(f"  full ({args.full}): {best['full']:.2f}")
    print(f"  full / base: {best['full'] / best['base']:.3f}")


if __name__ == "__main__":
    main()
