"""The fixture harness: fixtures are data, compared exactly.

A fixture is `fixtures/<family>/BKLnnn.py` (variants `BKLnnn_slug.py`) or a
directory `fixtures/<family>/BKLnnn_slug/` (a multi-file project: every .py
under it, at any depth). Only the rule named by the fixture's code runs on it.

Every line that must be flagged carries `# expect: BKLnnn` (several codes
comma-separated; the same code twice means two findings on that line). An
`# expect:` comment alone on its line applies to the next line holding code.
The comparison is an exact multiset match of (file, line, code): a missing
finding and an extra one both fail, with a table of the differences per line.

A single-file fixture may start with header directives, parsed as TOML (never
`eval`ed):

    # fixture: path = "shop/views.py"
    # fixture: options = { include-tests = true }

`path` is where the file is placed in the temporary project (it decides the
module name and whether the file is a test; the parent directories become
packages); the default is the fixture's own file name at the project root.
`options` is the option table of the rule under test, as a user writes it in
`[tool.backlint.<rule-name>]`. `unsafe-fixes = true` makes the golden file
(below) the result of `--fix --unsafe-fixes` instead of `--fix`. A directory
fixture is copied as it is; it may carry its own `pyproject.toml`, whose
`[tool.backlint]` table is kept except for the selection, which the harness
sets.

Fixes are proven by golden files: `BKLnnn.fixed.py` next to `BKLnnn.py` (for
a directory fixture `BKLnnn_slug.fixed/`, holding the files that change) is
what `backlint check --fix` makes of the fixture, compared exactly; the fixed
code must compile, and a second `--fix` must change nothing. A fixture whose
rule offers a fix on it must have a golden file: `BACKLINT_UPDATE_GOLDEN=1
python -m pytest tests/test_fix_golden.py` writes the missing or outdated ones
(review them before committing).

Besides the rule's code the harness selects the engine's own codes (`BKL0`):
they run no rule, but a fixture that does not parse (BKL001) or on which the
rule crashes (BKL002) then shows up as an extra finding instead of passing
silently with nothing reported.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tokenize
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backlint.config import load_config
from backlint.engine.check import check, settings_for
from backlint.registry import ENGINE_CODES, rule_by_code

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"

# `BKL801.py`, `BKL801_include_tests.py`, `BKL301_prefetch/`.
FIXTURE_NAME = re.compile(r"^(?P<code>BKL\d{3})(?:_(?P<slug>[a-z0-9]+(?:_[a-z0-9]+)*))?$")
_EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>[A-Z]+\d+(?:\s*,\s*[A-Z]+\d+)*)")
_HEADER = re.compile(r"^#\s*fixture:(?P<toml>.*)$")
_HEADER_KEYS = frozenset({"path", "options", "unsafe-fixes"})
GOLDEN_SUFFIX = ".fixed"
# Tokens that are not code: a line holding only these has no statement on it.
_NOT_CODE = frozenset(
    {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
    }
)

Key = tuple[str, int, str]  # (file relative to the project root, line, code)


class FixtureError(Exception):
    """A fixture that is malformed (bad name, bad header, dangling expectation)."""


@dataclass(frozen=True)
class Fixture:
    path: Path  # the fixture file or directory, in the repository
    family: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.family}/{self.path.name}"

    @property
    def is_directory(self) -> bool:
        return self.path.is_dir()

    @property
    def golden(self) -> Path:
        """Where the golden file (or directory) of `--fix` is, if there is one."""
        if self.is_directory:
            return self.path.with_name(self.path.name + GOLDEN_SUFFIX)
        return self.path.with_name(self.path.stem + GOLDEN_SUFFIX + ".py")

    def source_files(self) -> list[Path]:
        """The fixture's Python files, in the repository."""
        if not self.is_directory:
            return [self.path]
        return sorted(
            p
            for p in self.path.rglob("*.py")
            if "__pycache__" not in p.relative_to(self.path).parts
        )


@dataclass(frozen=True)
class Header:
    path: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    unsafe_fixes: bool = False


@dataclass(frozen=True)
class Project:
    """A fixture laid out in a temporary directory, ready to lint."""

    root: Path
    fixture: Fixture
    # project-relative path -> the fixture file it came from
    files: dict[str, Path]
    expected: Counter[Key]
    unsafe_fixes: bool = False


@dataclass(frozen=True)
class Seen:
    """A finding as a front end reported it."""

    path: str
    line: int
    column: int
    code: str
    message: str

    @property
    def key(self) -> Key:
        return (self.path, self.line, self.code)


# ---------------------------------------------------------------------------
# Finding fixtures.


def discover_fixtures(root: Path = FIXTURES) -> list[Fixture]:
    """Every fixture under `root`, sorted; malformed names are left to
    `malformed_fixture_names`."""
    found: list[Fixture] = []
    if not root.is_dir():
        return found
    for family in sorted(p for p in root.iterdir() if p.is_dir() and not _skipped(p)):
        for entry in sorted(family.iterdir()):
            if _skipped(entry) or _is_golden(entry):
                continue
            name = entry.name.removesuffix(".py") if entry.is_file() else entry.name
            match = FIXTURE_NAME.match(name)
            if match is None or (entry.is_file() and entry.suffix != ".py"):
                continue
            found.append(Fixture(entry, family.name, match.group("code")))
    return found


def malformed_fixture_names(root: Path = FIXTURES) -> list[str]:
    """Python files and directories under fixtures/<family>/ whose names are not
    fixture names (a typo would otherwise silently drop the fixture)."""
    bad: list[str] = []
    if not root.is_dir():
        return bad
    for entry in sorted(root.iterdir()):
        if _skipped(entry):
            continue
        if entry.is_file():
            if entry.suffix == ".py":
                bad.append(entry.relative_to(root).as_posix())
            continue
        for item in sorted(entry.iterdir()):
            if _skipped(item) or (item.is_file() and item.suffix != ".py"):
                continue
            if _is_golden(item):
                # A golden file needs its fixture: `BKL101.fixed.py` <- `BKL101.py`.
                stem = item.name.removesuffix(".py").removesuffix(GOLDEN_SUFFIX)
                fixture = item.with_name(stem + ".py" if item.is_file() else stem)
                if FIXTURE_NAME.match(stem) is None or not fixture.exists():
                    bad.append(item.relative_to(root).as_posix())
                continue
            name = item.name.removesuffix(".py") if item.is_file() else item.name
            if FIXTURE_NAME.match(name) is None:
                bad.append(item.relative_to(root).as_posix())
    return bad


def _is_golden(path: Path) -> bool:
    if path.is_file():
        return path.name.endswith(GOLDEN_SUFFIX + ".py")
    return path.name.endswith(GOLDEN_SUFFIX)


def _skipped(path: Path) -> bool:
    return path.name.startswith(".") or path.name == "__pycache__"


# ---------------------------------------------------------------------------
# Reading a fixture: header and expectations.


def parse_header(text: str, where: str) -> Header:
    """The `# fixture:` directives of the leading comment block, as TOML."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            break
        match = _HEADER.match(line)
        if match:
            lines.append(match.group("toml").strip())
    if not lines:
        return Header()
    try:
        data = tomllib.loads("\n".join(lines))
    except tomllib.TOMLDecodeError as exc:
        raise FixtureError(f"{where}: bad `# fixture:` header: {exc}") from None
    unknown = set(data) - _HEADER_KEYS
    if unknown:
        raise FixtureError(
            f"{where}: unknown `# fixture:` key(s) {sorted(unknown)}; known: {sorted(_HEADER_KEYS)}"
        )
    path = data.get("path")
    if path is not None:
        pure = Path(path)
        if (
            not isinstance(path, str)
            or pure.is_absolute()
            or ".." in pure.parts
            or pure.suffix != ".py"
        ):
            raise FixtureError(
                f"{where}: `path` must be a relative path to a .py file, got {path!r}"
            )
    options = data.get("options", {})
    if not isinstance(options, dict):
        raise FixtureError(f"{where}: `options` must be a table, got {options!r}")
    unsafe = data.get("unsafe-fixes", False)
    if not isinstance(unsafe, bool):
        raise FixtureError(f"{where}: `unsafe-fixes` must be true or false, got {unsafe!r}")
    return Header(path, options, unsafe)


def expectations(text: str, where: str) -> Counter[tuple[int, str]]:
    """The `# expect:` comments of a file, as a multiset of (line, code).

    Comments are found with tokenize, so `# expect:` inside a string is not one.
    """
    out: Counter[tuple[int, str]] = Counter()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return _expectations_by_line(text)  # a fixture that does not tokenize
    lines = text.splitlines()
    pending: list[tuple[int, list[str]]] = []  # own-line comments waiting for code
    for kind, string, (line, col), _, _ in tokens:
        if kind == tokenize.COMMENT:
            match = _EXPECT.search(string)
            if match is None:
                continue
            codes = [c.strip() for c in match.group("codes").split(",")]
            if lines[line - 1][:col].strip():
                out.update((line, code) for code in codes)
            else:
                pending.append((line, codes))
        elif kind not in _NOT_CODE and pending:
            for _, codes in pending:
                out.update((line, code) for code in codes)
            pending = []
    if pending:
        lines_text = ", ".join(str(line) for line, _ in pending)
        raise FixtureError(f"{where}: `# expect:` on line(s) {lines_text} is followed by no code")
    return out


def _expectations_by_line(text: str) -> Counter[tuple[int, str]]:
    out: Counter[tuple[int, str]] = Counter()
    for number, line in enumerate(text.splitlines(), start=1):
        match = _EXPECT.search(line)
        if match:
            out.update((number, c.strip()) for c in match.group("codes").split(","))
    return out


def code_lines(text: str) -> set[int]:
    """Lines where a token of code starts (not blank, not only a comment)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return {
            n
            for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")
        }
    return {start[0] for kind, _, start, _, _ in tokens if kind not in _NOT_CODE}


# ---------------------------------------------------------------------------
# Laying a fixture out as a project.


def prepare(fixture: Fixture, destination: Path) -> Project:
    """Copy `fixture` into `destination` (an empty directory) with a
    pyproject.toml that selects only its rule."""
    rule = rule_by_code(fixture.code)
    backlint: dict[str, Any] = {}
    document: dict[str, Any] = {}
    files: dict[str, Path] = {}
    unsafe = False
    if fixture.is_directory:
        shutil.copytree(fixture.path, destination, dirs_exist_ok=True, ignore=_ignore_caches)
        own = destination / "pyproject.toml"
        if own.is_file():
            document = tomllib.loads(own.read_text(encoding="utf-8"))
            backlint = dict(document.get("tool", {}).get("backlint", {}))
            for key in ("select", "extend-select", "ignore"):
                backlint.pop(key, None)
        for source in fixture.source_files():
            relative = source.relative_to(fixture.path).as_posix()
            header = parse_header(source.read_text(encoding="utf-8"), fixture.id)
            if header != Header():
                raise FixtureError(
                    f"{fixture.id}/{relative}: `# fixture:` headers are for single-file "
                    "fixtures; a directory fixture carries a pyproject.toml instead"
                )
            files[relative] = source
    else:
        text = fixture.path.read_text(encoding="utf-8")
        header = parse_header(text, fixture.id)
        relative = header.path or fixture.path.name
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fixture.path, target)
        package = target.parent
        while package != destination:
            (package / "__init__.py").touch()
            package = package.parent
        files[relative] = fixture.path
        unsafe = header.unsafe_fixes
        if header.options:
            if rule is None:
                raise FixtureError(f"{fixture.id}: options given, but {fixture.code} is no rule")
            backlint[rule.name] = dict(header.options)
    backlint["select"] = [fixture.code, "BKL0"]
    document.setdefault("tool", {})["backlint"] = backlint
    (destination / "pyproject.toml").write_text(dump_toml(document), encoding="utf-8")

    expected: Counter[Key] = Counter()
    for relative, source in files.items():
        where = f"{fixture.id} ({relative})" if fixture.is_directory else fixture.id
        for (line, code), count in expectations(source.read_text(encoding="utf-8"), where).items():
            expected[(relative, line, code)] += count
    return Project(destination, fixture, files, expected, unsafe)


def _ignore_caches(_directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__" or n.endswith(".pyc")]


def dump_toml(document: Mapping[str, Any]) -> str:
    """A small TOML writer: tables, inline values (str, bool, int, float, lists,
    inline tables). Enough for pyproject.toml files of fixtures."""
    out: list[str] = []

    def table(name: str, data: Mapping[str, Any]) -> None:
        scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in data.items() if isinstance(v, dict)}
        if name and (scalars or not tables):
            out.append(f"[{name}]")
        out.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars.items())
        if scalars:
            out.append("")
        for key, value in tables.items():
            table(f"{name}.{_key(key)}" if name else _key(key), value)

    table("", document)
    return "\n".join(out).rstrip() + "\n"


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _value(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


# ---------------------------------------------------------------------------
# Running the front ends.


def run_engine(project: Project) -> list[Seen]:
    """Lint the project through the engine API, as `backlint check` does."""
    config = load_config(project.root)
    settings = settings_for(config)
    codes = {rule.code for rule in settings.rules}
    assert codes <= {project.fixture.code}, f"rules other than the one under test ran: {codes}"
    result = check([project.root], config, settings, cwd=project.root, jobs=1, use_cache=False)
    return [Seen(f.path, f.line, f.column, f.code, f.message) for f in result.findings]


_FLAKE8_FORMAT = "%(path)s\t%(row)d\t%(col)d\t%(code)s\t%(text)s"


def clean_env() -> dict[str, str]:
    """The environment for a subprocess of backlint or flake8: no settings of
    the caller's flake8 or Python (PYTHONPATH would hide the installed package)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("FLAKE8", "PYTHON"))}


def run_module(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`python -m ARGS` in `cwd` (backlint or flake8, as users run them)."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=clean_env() if env is None else env,
        check=False,
        timeout=timeout,
    )


def run_flake8(project: Project) -> list[Seen]:
    """Lint the project with flake8 in a subprocess: the plugin is loaded from
    its `flake8.extension` entry point, as users get it."""
    env = clean_env()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "flake8",
            "--isolated",
            "--select",
            "BKL",
            f"--format={_FLAKE8_FORMAT}",
            ".",
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if completed.returncode not in (0, 1) or completed.stderr.strip():
        raise AssertionError(
            f"flake8 failed (exit {completed.returncode}) on {project.fixture.id}:\n"
            f"{completed.stderr}{completed.stdout}"
        )
    seen: list[Seen] = []
    for line in completed.stdout.splitlines():
        path, row, col, code, text = line.split("\t", 4)
        relative = Path(os.path.normpath(path)).as_posix()
        seen.append(Seen(relative, int(row), int(col) + 1, code, text))
    return seen


# ---------------------------------------------------------------------------
# Comparing.


def difference(project: Project, seen: Iterable[Seen], front_end: str) -> str | None:
    """None when `seen` is exactly what the fixture expects, else a table of the
    missing and extra findings, line by line."""
    seen = list(seen)
    actual = Counter(s.key for s in seen)
    if actual == project.expected:
        return None
    missing = project.expected - actual
    extra = actual - project.expected
    messages: dict[Key, list[str]] = {}
    for s in seen:
        messages.setdefault(s.key, []).append(s.message)
    rows: list[tuple[str, int, str, str]] = []
    for (path, line, code), count in missing.items():
        rows.extend((path, line, "missing", code) for _ in range(count))
    for key, count in extra.items():
        # Which of several findings on one line is the extra one is moot: show
        # every message reported there.
        texts = " | ".join(messages.get(key, []))
        rows.extend((key[0], key[1], "extra", f"{key[2]}  {texts}") for _ in range(count))
    rows.sort(key=lambda r: (r[0], r[1], r[2] != "missing", r[3]))
    width = max(len(f"{path}:{line}") for path, line, _, _ in rows)
    out = [
        f"{project.fixture.id} through {front_end}: "
        f"{sum(missing.values())} missing, {sum(extra.values())} extra finding(s)",
        f"  {'where':<{width}}  {'kind':<7}  finding",
    ]
    sources: dict[str, list[str]] = {}
    for path, line, kind, what in rows:
        out.append(f"  {f'{path}:{line}':<{width}}  {kind:<7}  {what}")
        origin = project.files.get(path)
        if origin is not None:
            if path not in sources:
                sources[path] = origin.read_text(encoding="utf-8").splitlines()
            lines = sources[path]
            if 0 < line <= len(lines):
                out.append(f"  {'':<{width}}  {'':<7}  | {lines[line - 1].strip()}")
    return "\n".join(out)


def engine_codes() -> frozenset[str]:
    return frozenset(c.code for c in ENGINE_CODES)
