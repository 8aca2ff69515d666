"""Running ruff beside backlint: the preset, the run, and merging findings.

RULES.md leaves to ruff what a general linter already checks well. backlint
ships a preset of those ruff rules; `backlint check --ruff` (or `ruff = true`
in `[tool.backlint]`) runs the `ruff` package's binary with it on the same
files and merges ruff's findings, with ruff's codes, into one report.

The preset is given to ruff as `--config` overrides of `lint.select` (and of
extra per-file ignores), on top of whatever ruff configuration the project
has: the preset replaces the project's rule selection (`select`, `ignore`),
while its excludes, per-file ignores, target version and rule settings still
apply. A project that runs ruff with its own selection keeps running it
beside backlint (README: "backlint beside ruff").

Findings that a backlint rule and a ruff rule both make on the same code
(ruff's S608 inside a statement BKL601 flags) are reported once, as
backlint's, which knows the framework.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from backlint.engine.files import display_path
from backlint.reporters import RuleInfo
from backlint.types import Edit, Finding, Fix, FixKind

# The ruff rules backlint composes with (RULES.md, "What backlint leaves to ruff").
PRESET_SELECT: tuple[str, ...] = (
    "E4", "E7", "E9", "E101",  # pycodestyle: imports, statements, syntax (E722 bare except)
    "W",          # pycodestyle warnings
    "F",          # pyflakes
    "I",          # isort
    "N",          # pep8-naming
    "UP031", "UP032",  # pyupgrade: f-strings over `%` and `.format()`
    "ASYNC",      # blocking HTTP, time.sleep, open in async code
    "FAST",       # FastAPI: Depends without Annotated, unused path parameters
    "DJ",         # Django: null=True on strings, models without __str__
    "S",          # flake8-bandit (S501: verify=False on HTTP clients)
    "TRY400",     # logger.error in except: use logger.exception
    "BLE",        # broad except
)  # fmt: skip
# flake8-annotations only where backlint's type-hint rules are off.
ANNOTATIONS: dict[str, tuple[str, ...]] = {
    "BKL801": ("ANN001", "ANN002", "ANN003"),
    "BKL802": ("ANN201", "ANN204", "ANN205", "ANN206"),
}
# Tests assert; bandit's S101 would flag every one.
PRESET_PER_FILE_IGNORES: dict[str, tuple[str, ...]] = {
    "**/tests/**": ("S101",),
    "**/test_*.py": ("S101",),
    "**/*_test.py": ("S101",),
    "**/conftest.py": ("S101",),
}
# ruff codes that flag what a backlint rule flags, on the same statement.
OVERLAPS: dict[str, frozenset[str]] = {
    "S608": frozenset({"BKL601"}),  # SQL built from strings
    "S105": frozenset({"BKL602"}),  # hard-coded password string
    "S106": frozenset({"BKL602"}),  # hard-coded password argument
    "S107": frozenset({"BKL602"}),  # hard-coded password default
    "S324": frozenset({"BKL603"}),  # insecure hash function
    "ANN001": frozenset({"BKL801"}),
    "ANN002": frozenset({"BKL801"}),
    "ANN003": frozenset({"BKL801"}),
    "ANN201": frozenset({"BKL802"}),
    "ANN204": frozenset({"BKL802"}),
    "ANN205": frozenset({"BKL802"}),
    "ANN206": frozenset({"BKL802"}),
}


class RuffError(Exception):
    """ruff could not be run, or its output could not be read."""


def preset_select(selected: Collection[str]) -> list[str]:
    """The preset's `lint.select`, given backlint's selected codes."""
    codes = list(PRESET_SELECT)
    for code, ann_codes in ANNOTATIONS.items():
        if code not in selected:
            codes.extend(ann_codes)
    return codes


def _toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def preset_toml(selected: Collection[str]) -> str:
    """The preset as a `[tool.ruff.lint]` table, for `backlint init --ruff`."""
    lines = [
        "[tool.ruff.lint]",
        "# backlint's ruff preset: the conventions backlint leaves to ruff.",
        f"select = {_toml_list(preset_select(selected))}",
        "# Keep `# noqa: BKL...` comments: they are backlint's (RUF100 would remove them).",
        'external = ["BKL"]',
        "",
        "[tool.ruff.lint.per-file-ignores]",
    ]
    lines += [f'"{glob}" = {_toml_list(codes)}' for glob, codes in PRESET_PER_FILE_IGNORES.items()]
    return "\n".join(lines) + "\n"


def overrides(selected: Collection[str]) -> list[str]:
    per_file = ", ".join(
        f"{json.dumps(glob)} = {_toml_list(codes)}"
        for glob, codes in PRESET_PER_FILE_IGNORES.items()
    )
    return [
        "--config",
        f"lint.select = {_toml_list(preset_select(selected))}",
        "--config",
        f"lint.extend-per-file-ignores = {{{per_file}}}",
    ]


def ruff_binary() -> str:
    """The binary of the `ruff` package (a dependency of backlint)."""
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - ruff is a dependency
        raise RuffError("the `ruff` package is not installed") from None
    try:
        return os.fsdecode(find_ruff_bin())
    except FileNotFoundError as exc:  # pragma: no cover
        raise RuffError(f"ruff's binary was not found: {exc}") from None


@dataclass(frozen=True, slots=True)
class RuffResult:
    findings: list[Finding]
    rules: dict[str, RuleInfo]


# Arguments per ruff call: well under the smallest ARG_MAX of the platforms.
_BATCH = 500


def run_ruff(paths: Sequence[Path], selected: Collection[str], cwd: Path) -> RuffResult:
    """ruff's findings on `paths` (absolute file paths), with the preset."""
    binary = ruff_binary()
    findings: list[Finding] = []
    rules: dict[str, RuleInfo] = {}
    for start in range(0, len(paths), _BATCH):
        batch = [os.fspath(p) for p in paths[start : start + _BATCH]]
        command = [
            binary,
            "check",
            "--output-format",
            "json",
            "--exit-zero",
            "--no-fix",
            "--force-exclude",
            "--quiet",
            *overrides(selected),
            "--",
            *batch,
        ]
        try:
            done = subprocess.run(
                command, cwd=cwd, capture_output=True, text=True, encoding="utf-8", check=False
            )
        except OSError as exc:
            raise RuffError(f"cannot run ruff: {exc}") from None
        if done.returncode != 0:
            raise RuffError(f"ruff failed (exit {done.returncode}): {done.stderr.strip()}")
        if done.stderr.strip():
            sys.stderr.write(done.stderr)
        try:
            items = json.loads(done.stdout or "[]")
        except json.JSONDecodeError as exc:
            raise RuffError(f"cannot read ruff's output: {exc}") from None
        for item in items:
            finding, info = _finding(item, cwd)
            if finding is not None:
                findings.append(finding)
                rules.setdefault(finding.code, info)
    return RuffResult(findings, rules)


def _finding(item: dict[str, object], cwd: Path) -> tuple[Finding | None, RuleInfo]:
    code = str(item.get("code") or "ruff")  # no code: a syntax error
    url = item.get("url")
    name = str(item.get("name") or (str(url).rsplit("/", 1)[-1] if url else code.lower()))
    message = str(item.get("message", ""))
    info = RuleInfo(code, name, message, str(url) if url else None, tool="ruff")
    location = item.get("location")
    end = item.get("end_location") or location
    filename = item.get("filename")
    if not isinstance(location, dict) or not isinstance(end, dict) or not filename:
        return None, info
    path = display_path(Path(str(filename)), cwd)
    fix = None
    raw_fix = item.get("fix")
    if isinstance(raw_fix, dict):
        kinds = {"safe": FixKind.SAFE, "unsafe": FixKind.UNSAFE}
        applicability = kinds.get(str(raw_fix.get("applicability")), FixKind.NONE)
        edits = tuple(
            Edit(
                e["location"]["row"],
                e["location"]["column"],
                e["end_location"]["row"],
                e["end_location"]["column"],
                e.get("content") or "",
            )
            for e in raw_fix.get("edits", [])
        )
        if applicability is not FixKind.NONE:
            fix = Fix(applicability, str(raw_fix.get("message") or f"ruff {code}"), edits)
    finding = Finding(
        path,
        int(location["row"]),
        int(location["column"]),
        code,
        int(end["row"]),
        int(end["column"]),
        name,
        message,
        fix,
    )
    return finding, info


def merge(ours: Sequence[Finding], theirs: Sequence[Finding]) -> list[Finding]:
    """Both tools' findings, sorted, without a ruff finding that a backlint
    rule makes too: an overlapping code starting inside the span of the
    backlint finding (same file)."""
    by_path: dict[str, list[Finding]] = {}
    for finding in ours:
        by_path.setdefault(finding.path, []).append(finding)
    kept: list[Finding] = []
    for finding in theirs:
        twins = OVERLAPS.get(finding.code)
        if twins and any(
            other.code in twins
            and (other.line, other.column)
            <= (finding.line, finding.column)
            <= (max(other.end_line, other.line), other.end_column)
            for other in by_path.get(finding.path, ())
        ):
            continue
        kept.append(finding)
    return sorted([*ours, *kept])
