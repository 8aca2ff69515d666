#!/usr/bin/env python3
"""Time backlint against ruff, flake8 and Fixit on the same source trees.

    python benchmarks/bench.py                      # django and wagtail, 1 warm-up + 5 runs
    python benchmarks/bench.py --corpora path/to/corpora lnbits weblate
    python benchmarks/bench.py --runs 3 --skip fixit --timeout 300

backlint is the one installed beside the Python running this script (or
`--backlint PATH`). ruff, flake8 and Fixit run from a virtualenv of their own,
created on first use (benchmarks/.tools-venv) from the `bench` extra of
pyproject.toml, without backlint: backlint registers a flake8 plugin (`BKL`),
and flake8 would otherwise time it too.

Every command runs in the tree's directory on `.`, each tool's own
configuration files ignored, with its output written to a file (and the
findings counted from it). For each tool: wall time and CPU time (user + sys
of the tool and every process it waited for, from getrusage(RUSAGE_CHILDREN)
deltas), median over the counted runs, and the ratio backlint / tool.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_CORPORA = HERE / "corpora"
DEFAULT_TOOLS_VENV = HERE / ".tools-venv"
# The shared corpus fetcher beside the repository (a CI checkout has shared/ next to it).
FETCH_SCRIPT = ROOT.parent / "shared" / "corpora" / "fetch.sh"
DEFAULT_TREES = ("django", "wagtail")
TOOLS = ("backlint", "ruff", "flake8", "fixit")

# Written into a tree fetched below the repository: makes the tree its own
# project for backlint (root, excludes) and Fixit (config search stops here),
# instead of inheriting backlint's own pyproject.toml.
ISOLATION_CONFIG = """\
# Written by benchmarks/bench.py: this tree is a project of its own.
[tool.backlint]

[tool.fixit]
root = true
"""


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    argv: tuple[str, ...]  # run in the tree's directory; "." is the tree
    ok_codes: frozenset[int]
    count: Callable[[str], int | None]  # findings, from the output
    version: str


@dataclass(slots=True)
class Timing:
    tool: str
    version: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    findings: int | None = None
    problem: str | None = None  # "timeout after 600 s", "exit 2: ..."

    @property
    def wall(self) -> float | None:
        return statistics.median(self.walls) if self.walls and not self.problem else None

    @property
    def cpu(self) -> float | None:
        return statistics.median(self.cpus) if self.cpus and not self.problem else None


def _count_backlint(output: str) -> int | None:
    match = re.search(r"^(\d+) findings? in \d+ files?$", output, re.MULTILINE)
    return int(match.group(1)) if match else None


def _count_ruff(output: str) -> int | None:
    match = re.search(r"^Found (\d+) errors?", output, re.MULTILINE)
    if match:
        return int(match.group(1))
    return 0 if "All checks passed" in output else None


def _count_lines(pattern: str) -> Callable[[str], int | None]:
    compiled = re.compile(pattern, re.MULTILINE)
    return lambda output: len(compiled.findall(output))


# ---------------------------------------------------------------------------
# The tools' virtualenv.


def bench_requirements() -> list[str]:
    """The `bench` extra of pyproject.toml: the tools and their version ranges."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = data["project"]["optional-dependencies"]["bench"]
    return [str(r) for r in requirements]


def venv_bin(venv: Path, name: str) -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return venv / scripts / name


def ensure_tools_venv(venv: Path, python: str) -> None:
    """Create (or bring up to date) the virtualenv holding ruff, flake8, Fixit."""
    requirements = bench_requirements()
    stamp = venv / "bench-requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted:
        return
    print(f"setting up the tools' virtualenv in {venv}: {' '.join(requirements)}", flush=True)
    if not venv_bin(venv, "python").exists():
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv_bin(venv, "python")), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--quiet", "--upgrade", *requirements], check=True)
    shown = subprocess.run([*pip, "show", "backlint"], capture_output=True, check=False)
    if shown.returncode == 0:
        sys.exit(f"{venv} has backlint installed: flake8 would run its plugin; remove {venv}")
    stamp.write_text(wanted, encoding="utf-8")


def tool_version(argv: Sequence[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    text = (done.stdout or done.stderr).strip().splitlines()
    first = text[0] if text else "?"
    match = re.search(r"\d+\.\d+(?:\.\d+)?\S*", first)
    return match.group(0) if match else first


def make_tools(backlint: Path, venv: Path) -> dict[str, Tool]:
    ruff, flake8, fixit = (str(venv_bin(venv, n)) for n in ("ruff", "flake8", "fixit"))
    return {
        "backlint": Tool(
            "backlint",
            (str(backlint), "check", "--no-cache", "--select", "ALL", "--exit-zero", "."),
            frozenset({0}),
            _count_backlint,
            tool_version([str(backlint), "--version"]),
        ),
        # --isolated: the tree's (or an enclosing project's) ruff settings stay
        # out; concise output: one line per finding like the others (the
        # default "full" format also prints source excerpts).
        "ruff": Tool(
            "ruff",
            (
                *(ruff, "check", "--isolated", "--select", "ALL", "--no-cache", "--exit-zero"),
                *("--output-format", "concise", "."),
            ),
            frozenset({0}),
            _count_ruff,
            tool_version([ruff, "--version"]),
        ),
        # flake8's defaults: pycodestyle + pyflakes (mccabe is installed but
        # off without max-complexity). Exit 1 means findings.
        "flake8": Tool(
            "flake8",
            (flake8, "--isolated", "."),
            frozenset({0, 1}),
            _count_lines(r"^\S+:\d+:\d+: [A-Z]+\d+ "),
            tool_version([flake8, "--version"]),
        ),
        # Fixit 2 with its default rules (fixit.rules). Exit 1 means findings.
        "fixit": Tool(
            "fixit",
            (fixit, "lint", "."),
            frozenset({0, 1}),
            _count_lines(r"^\S+@\d+:\d+ \w+: "),
            tool_version([fixit, "--version"]),
        ),
    }


# ---------------------------------------------------------------------------
# Trees.


def fetch_spec(name: str, script: Path) -> str:
    """`name==version` as pinned in the fetch script's default list, else `name`."""
    match = re.search(rf'"({re.escape(name)}==[^"\s]+)"', script.read_text(encoding="utf-8"))
    return match.group(1) if match else name


def resolve_tree(name: str, corpora: Path, fetch: Path | None) -> Path:
    candidate = Path(name)
    if candidate.is_dir() and (candidate.is_absolute() or os.sep in name):
        return candidate.resolve()
    tree = corpora / name
    if not tree.is_dir():
        if fetch is None or not fetch.is_file():
            sys.exit(f"no tree {tree}, and no fetch script to get it (see --fetch-script)")
        subprocess.run(["bash", str(fetch), str(corpora), fetch_spec(name, fetch)], check=True)
    return tree.resolve()


def isolate(tree: Path, corpora: Path) -> None:
    """Give a tree below this repository its own project configuration."""
    inside_repo = tree.is_relative_to(ROOT)
    if not inside_repo:
        for directory in tree.parents:
            if (directory / "pyproject.toml").is_file() or (directory / ".fixit.toml").is_file():
                print(f"note: {tree} is below {directory}, whose configuration may apply")
                break
        return
    config = tree / "pyproject.toml"
    if not config.exists() and tree.is_relative_to(corpora):
        config.write_text(ISOLATION_CONFIG, encoding="utf-8")


def python_files(tree: Path) -> tuple[int, int]:
    files = lines = 0
    for path in tree.rglob("*.py"):
        files += 1
        with path.open("rb") as handle:
            lines += sum(1 for _ in handle)
    return files, lines


# ---------------------------------------------------------------------------
# Timing.


def run_once(tool: Tool, tree: Path, timeout: float, log: Path) -> tuple[float, float, str]:
    """One run: (wall seconds, CPU seconds, output). Raises on timeout or failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("w+", encoding="utf-8", errors="replace") as out:
        process = subprocess.Popen(
            tool.argv,
            cwd=tree,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to end it whole on timeout
        )
        try:
            code = process.wait(timeout=timeout)
        except BaseException:  # timeout, Ctrl-C, SIGTERM: end the tool's whole group
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        output = out.read()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if code not in tool.ok_codes:
        tail = " | ".join(output.strip().splitlines()[-3:])
        raise RuntimeError(f"exit {code}: {tail[:200]}")
    return wall, cpu, output


def bench_tree(
    tree: Path, tools: Sequence[Tool], warmup: int, runs: int, timeout: float
) -> list[Timing]:
    timings: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="backlint-bench-") as scratch:
        log = Path(scratch) / "output.txt"
        for tool in tools:
            timing = Timing(tool.name, tool.version)
            timings.append(timing)
            for index in range(warmup + runs):
                label = "warm-up" if index < warmup else f"run {index - warmup + 1}/{runs}"
                print(f"  {tool.name:<8} {label:<9}", end=" ", flush=True)
                try:
                    wall, cpu, output = run_once(tool, tree, timeout, log)
                except subprocess.TimeoutExpired:
                    timing.problem = f"timeout ({timeout:g} s)"
                except RuntimeError as exc:
                    timing.problem = str(exc)
                if timing.problem:
                    print(timing.problem, flush=True)
                    break
                print(f"wall {wall:7.2f} s  cpu {cpu:7.2f} s", flush=True)
                if index >= warmup:
                    timing.walls.append(wall)
                    timing.cpus.append(cpu)
                    timing.findings = tool.count(output)
    return timings


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def _seconds(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def table(results: Sequence[tuple[str, str, Sequence[Timing]]]) -> str:
    header = (
        "tree",
        "files",
        "tool",
        "version",
        "runs",
        "wall s",
        "cpu s",
        "findings",
        "backlint/tool wall",
        "backlint/tool cpu",
    )
    rows: list[tuple[str, ...]] = []
    for tree, size, timings in results:
        ours = next((t for t in timings if t.tool == "backlint"), None)
        for timing in timings:
            findings = "?" if timing.findings is None else f"{timing.findings:,}"
            rows.append(
                (
                    tree,
                    size,
                    timing.tool,
                    timing.version,
                    str(len(timing.walls)),
                    _seconds(timing.wall) if not timing.problem else timing.problem,
                    _seconds(timing.cpu),
                    findings if not timing.problem else "-",
                    _ratio(ours.wall if ours else None, timing.wall),
                    _ratio(ours.cpu if ours else None, timing.cpu),
                )
            )
    numeric = {1, 4, 5, 6, 7, 8, 9}
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = (
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        )
        return "| " + " | ".join(cells) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (w + 1) + ":" if i in numeric else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    out = [line(header), rule]
    previous = None
    for row in rows:
        # The tree and its size on its first row only.
        out.append(line(row if row[0] != previous else ("", "", *row[2:])))
        previous = row[0]
    return "\n".join(out)


# ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time backlint against ruff, flake8 and Fixit on the same source trees.",
    )
    parser.add_argument(
        "trees",
        nargs="*",
        default=list(DEFAULT_TREES),
        help="names under --corpora (fetched when missing) or directories (default: %(default)s)",
    )
    parser.add_argument(
        "--corpora", type=Path, default=DEFAULT_CORPORA, help="default: %(default)s"
    )
    parser.add_argument("--runs", type=int, default=5, help="counted runs per tool (default: 5)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted first runs (default: 1)")
    parser.add_argument(
        "--skip", action="append", default=[], choices=TOOLS[1:], help="leave a tool out (repeat)"
    )
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds per run before a tool is given up"
    )
    parser.add_argument("--backlint", type=Path, help="the backlint executable to time")
    parser.add_argument(
        "--tools-venv", type=Path, default=DEFAULT_TOOLS_VENV, help="default: %(default)s"
    )
    parser.add_argument(
        "--fetch-script", type=Path, default=FETCH_SCRIPT, help="default: %(default)s"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    return args


def find_backlint(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit.resolve()
    beside = venv_bin(Path(sys.executable).parent.parent, "backlint")
    if beside.exists():
        return beside
    found = shutil.which("backlint")
    if found is None:
        sys.exit("backlint is not installed here: pip install . (or pass --backlint PATH)")
    return Path(found)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through run_once, which ends the tool


def describe_backlint(backlint: Path) -> str:
    """Which backlint is timed: where its package is, and the commit when that
    is this checkout (an editable install)."""
    python = backlint.parent / "python"
    if not python.exists():
        return str(backlint)
    where = subprocess.run(
        [str(python), "-c", "import backlint; print(backlint.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not where or not Path(where).is_relative_to(ROOT):
        return f"{backlint} (package {where or '?'})"
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{backlint} (this checkout, {commit or 'not a git checkout'})"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    corpora = args.corpora.resolve()
    backlint = find_backlint(args.backlint)
    ensure_tools_venv(args.tools_venv.resolve(), sys.executable)
    tools_by_name = make_tools(backlint, args.tools_venv.resolve())
    tools = [tools_by_name[name] for name in TOOLS if name not in args.skip]
    print(f"backlint: {describe_backlint(backlint)}", flush=True)

    results: list[tuple[str, str, Sequence[Timing]]] = []
    for name in args.trees:
        tree = resolve_tree(name, corpora, args.fetch_script)
        isolate(tree, corpora)
        files, lines = python_files(tree)
        size = f"{files:,} ({lines // 1000:,}k lines)"
        print(f"{tree}: {size}", flush=True)
        timings = bench_tree(tree, tools, args.warmup, args.runs, args.timeout)
        results.append((tree.name, size, timings))

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print()
    print(
        f"median of {args.runs} runs after {args.warmup} warm-up; {cores} cores; "
        f"Python {sys.version.split()[0]}; wall and CPU (user+sys, children included) in seconds"
    )
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
