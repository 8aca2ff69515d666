"""A longer mutation fuzz run than CI's (tests/test_mutation_fuzz.py):
fixture files mutated so that they still parse, linted with every rule;
prints every BKL001/BKL002 and exits 1 if there was any.

    python scripts/fuzz_mutations.py --seeds 50 --per-seed 40
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_mutation_fuzz import SEED, mutants, rule_failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--per-seed", type=int, default=40)
    parser.add_argument("--first-seed", type=int, default=SEED + 1000)
    args = parser.parse_args()
    tried = failed = 0
    start = time.monotonic()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        batch = mutants(seed, args.per_seed)
        with tempfile.TemporaryDirectory() as tmp:
            failures = rule_failures(Path(tmp), batch)
        tried += len(batch)
        failed += len(failures)
        for failure in failures:
            print(f"seed {seed}: {failure}")
    print(f"{tried} mutants, {failed} failures, {time.monotonic() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
