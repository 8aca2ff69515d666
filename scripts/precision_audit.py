"""The precision audit's bookkeeping (docs/precision-audit.md): run the rules
on the corpora, see which audited findings the code still reports, draw fresh
findings to read, and merge reviewers' verdicts into the document.

    python scripts/precision_audit.py run OUT CORPUS_DIR...      # one JSON per app
    python scripts/precision_audit.py status OUT                 # verdicts vs findings
    python scripts/precision_audit.py sample OUT BKL301=30,BKL404 [--seed S]
    python scripts/precision_audit.py compile OUT VERDICTS.md... # merge, recompute table

A CORPUS_DIR holds applications unpacked by ../shared/corpora/fetch.sh (one
directory each; `django` is left out: a framework, not an application).
Verdict lines, in the document and in reviewers' files, read
    - BKLnnn `app/path:line` **right|wrong|debatable**: reason
A later verdict on the same finding replaces the earlier line. A sample tops
a rule up to its size (default 20) with findings no verdict covers, drawn at
random (seeded by rule and `--seed`) round-robin over the applications.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "precision-audit.md"
STRICT = ("BKL206", "BKL305", "BKL404")  # also read: the strict rules the document covers
VERDICT = re.compile(r"^- (BKL\d{3}) `([^`]+):(\d+)` \*\*(right|wrong|debatable)\*\*: (.*)$")
KINDS = ("right", "wrong", "debatable")

Key = tuple[str, str, int]  # rule, app/path, line
Finding = tuple[str, str, int, str]  # app, app/path, line, message


def run(out: Path, corpora: list[Path], backlint: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for root in corpora:
        for app in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "django"):
            done = subprocess.run(
                [backlint, "check", app.name, "--no-cache", "--format", "json", "--exit-zero",
                 "--extend-select", ",".join(STRICT)],
                cwd=root, capture_output=True, text=True, check=False,
            )  # fmt: skip
            (out / f"{app.name}.json").write_text(done.stdout or "[]")
            print(f"{app.name}: {len(json.loads(done.stdout or '[]'))} findings")


def findings(out: Path) -> dict[str, list[Finding]]:
    found: dict[str, list[Finding]] = {}
    for path in sorted(out.glob("*.json")):
        for item in json.loads(path.read_text() or "[]"):
            entry = (path.stem, item["path"], item["line"], item["message"])
            found.setdefault(item["code"], []).append(entry)
    return found


def verdicts(paths: list[Path]) -> dict[Key, tuple[str, str]]:
    """(rule, path, line) -> (kind, the verdict's line); later files win."""
    out: dict[Key, tuple[str, str]] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            match = VERDICT.match(line.strip())
            if match:
                out[(match[1], match[2], int(match[3]))] = (match[4], line.strip())
    return out


def table(found: dict[str, list[Finding]], judged: dict[Key, tuple[str, str]]) -> list[str]:
    current = {(code, f[1], f[2]) for code, items in found.items() for f in items}
    rules = sorted({k[0] for k in judged} | {c for c in found if not c.startswith("BKL00")})
    rows = [
        "| rule | findings | read | right | wrong | debatable | right % | sampled, gone since |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rule in rules:
        present = [kind for key, (kind, _) in judged.items() if key[0] == rule and key in current]
        gone = sum(1 for key in judged if key[0] == rule and key not in current)
        right, wrong, debatable = (present.count(kind) for kind in KINDS)
        share = f"{round(100 * right / (right + wrong))}" if right + wrong else "-"
        name = f"{rule} (strict)" if rule in STRICT else rule
        rows.append(
            f"| {name} | {len(found.get(rule, []))} | {len(present)} | {right} | {wrong} "
            f"| {debatable} | {share} | {gone} |"
        )
    return rows


def sample(out: Path, spec: str, seed: str) -> None:
    found = findings(out)
    judged = verdicts([DOC])
    sizes: dict[str, int] = {}
    for part in spec.split(","):
        code, _, wanted = part.partition("=")
        sizes[code] = int(wanted or 20)
    for rule, size in sorted(sizes.items()):
        items = found.get(rule, [])
        present = sum(1 for f in items if (rule, f[1], f[2]) in judged)
        need = max(0, min(size, len(items)) - present)
        rng = random.Random(f"{rule}-{seed}")
        by_app: dict[str, list[Finding]] = {}
        for f in items:
            if (rule, f[1], f[2]) not in judged:
                by_app.setdefault(f[0], []).append(f)
        for pool in by_app.values():
            rng.shuffle(pool)
        apps = sorted(by_app)
        rng.shuffle(apps)
        picked: list[Finding] = []
        seen: set[tuple[str, int]] = set()
        while len(picked) < need and any(by_app.values()):
            for app in apps:
                if by_app[app] and len(picked) < need:
                    f = by_app[app].pop()
                    if (f[1], f[2]) not in seen:
                        seen.add((f[1], f[2]))
                        picked.append(f)
        for f in picked:
            print(f"{rule} `{f[1]}:{f[2]}` {f[3]}")


def compile_doc(out: Path, files: list[Path]) -> None:
    lines = DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## Every verdict"))
    head, body = lines[:start], lines[start:]
    judged = verdicts([DOC, *files])
    preamble = []
    for line in body:
        if VERDICT.match(line.strip()):
            break
        preamble.append(line)
    rows = table(findings(out), judged)
    first = next(i for i, line in enumerate(head) if line.startswith("| rule | findings"))
    last = first
    while last < len(head) and head[last].startswith("|"):
        last += 1
    head = head[:first] + rows + head[last:]
    listed = [judged[key][1] for key in sorted(judged)]
    DOC.write_text("\n".join([*head, *preamble, *listed]) + "\n")
    print(f"{len(judged)} verdicts")
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run")
    p_run.add_argument("out", type=Path)
    p_run.add_argument("corpora", type=Path, nargs="+")
    p_run.add_argument("--backlint", default="backlint")
    p_status = sub.add_parser("status")
    p_status.add_argument("out", type=Path)
    p_sample = sub.add_parser("sample")
    p_sample.add_argument("out", type=Path)
    p_sample.add_argument("spec", help="rules, each with an optional size: BKL301=30,BKL404")
    p_sample.add_argument("--seed", default="round3")
    p_compile = sub.add_parser("compile")
    p_compile.add_argument("out", type=Path)
    p_compile.add_argument("verdicts", type=Path, nargs="*")
    args = parser.parse_args()
    if args.command == "run":
        run(args.out, args.corpora, args.backlint)
    elif args.command == "status":
        print("\n".join(table(findings(args.out), verdicts([DOC]))))
    elif args.command == "sample":
        sample(args.out, args.spec, args.seed)
    else:
        compile_doc(args.out, args.verdicts)


if __name__ == "__main__":
    main()
