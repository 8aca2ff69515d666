"""`backlint init`: configure a project without destroying what is there.

Every change is an addition at a place of its own (a table appended to
pyproject.toml, an entry added to the `repos:` list of
.pre-commit-config.yaml); the existing text is kept byte for byte, the result
is checked (TOML parsed, the other tables unchanged) before it is written, and
it is written atomically. What is configured already is left alone, so running
`init` twice changes nothing.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backlint.engine.fixes import write_atomically
from backlint.ruff_support import preset_toml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]


class InitError(Exception):
    """A file that cannot be changed safely (invalid TOML, an odd YAML layout)."""


BACKLINT_TABLE = """\
[tool.backlint]
# Every rule of the `default` group runs; `backlint rules` lists them.
# extend-select = ["strict"]          # the opinionated rules too
# ignore = ["BKL802"]                 # rules to leave out
# extend-exclude = ["scripts/legacy"] # files to skip (gitignore syntax)
# per-file-ignores = { "scripts/*" = ["BKL8"] }
"""

RUFF_LINE = "ruff = true                           # run ruff's preset too, in one report\n"

PRE_COMMIT_HOOK = """\
- repo: local
  hooks:
    - id: backlint
      name: backlint
      entry: backlint check
      language: system  # the backlint installed in the environment
      types: [python]
      require_serial: true
"""


@dataclass(frozen=True, slots=True)
class Change:
    path: Path
    what: str  # a sentence for the user
    written: bool


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _appended(text: str, block: str) -> str:
    newline = _newline(text) if text else "\n"
    block = block.replace("\n", newline)
    if not text:
        return block
    if not text.endswith(("\n", "\r")):
        text += newline
    return text + newline + block


def _load(text: str, path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        raise InitError(f"{path}: not valid TOML ({exc}); fix it first") from None


def _write(path: Path, text: str, existed: bool) -> None:
    data = text.encode("utf-8")
    if existed:
        write_atomically(path, data)
    else:
        path.write_bytes(data)


def _has_ruff_config(directory: Path, data: dict[str, Any]) -> bool:
    tool = data.get("tool")
    return (
        (isinstance(tool, dict) and "ruff" in tool)
        or (directory / "ruff.toml").is_file()
        or (directory / ".ruff.toml").is_file()
    )


def init_pyproject(directory: Path, ruff: bool) -> list[Change]:
    path = directory / "pyproject.toml"
    existed = path.is_file()
    text = path.read_bytes().decode("utf-8") if existed else ""
    data = _load(text, path)
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    assert isinstance(tool, dict)
    changes: list[Change] = []
    new = text
    if "backlint" in tool:
        changes.append(Change(path, "has a [tool.backlint] table already; left as it is", False))
        if ruff and not (isinstance(tool["backlint"], dict) and tool["backlint"].get("ruff")):
            changes.append(
                Change(path, "set `ruff = true` in [tool.backlint] to run ruff with it", False)
            )
    else:
        new = _appended(new, BACKLINT_TABLE + (RUFF_LINE if ruff else ""))
        changes.append(Change(path, "added a [tool.backlint] table", True))
    if ruff:
        if _has_ruff_config(directory, data):
            external = tool.get("ruff", {}).get("lint", {}).get("external", [])
            if "BKL" not in external:
                changes.append(
                    Change(
                        path,
                        'has a ruff configuration already; left as it is: add `external = ["BKL"]` '
                        "to its [lint] table so that ruff keeps backlint's `# noqa` comments",
                        False,
                    )
                )
        else:
            new = _appended(new, preset_toml({"BKL801", "BKL802"}))
            changes.append(Change(path, "added backlint's ruff preset as [tool.ruff.lint]", True))
    if new != text:
        after = _load(new, path)
        _check_kept(data, after, path)
        _write(path, new, existed)
    return changes


def _check_kept(before: dict[str, Any], after: dict[str, Any], path: Path) -> None:
    """Everything that was in the file means the same after the change."""
    for key, value in before.items():
        if key != "tool" and after.get(key) != value:
            raise InitError(f"{path}: adding the tables would change [{key}]; nothing written")
    for key, value in before.get("tool", {}).items():
        if after.get("tool", {}).get(key) != value:
            raise InitError(f"{path}: adding the tables would change [tool.{key}]; not written")


_TOP_KEY = re.compile(r"^[^\s#-][^:]*:")
_REPOS = re.compile(r"^repos\s*:\s*(?P<rest>.*)$")


def init_pre_commit(directory: Path) -> list[Change]:
    path = directory / ".pre-commit-config.yaml"
    if not path.is_file():
        _write(path, "repos:\n" + _indented(PRE_COMMIT_HOOK, 2), existed=False)
        return [Change(path, "created with a backlint hook", True)]
    text = path.read_bytes().decode("utf-8")
    if re.search(r"^\s*-?\s*id\s*:\s*['\"]?backlint['\"]?\s*$", text, re.MULTILINE):
        return [Change(path, "has a backlint hook already; left as it is", False)]
    newline = _newline(text)
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _REPOS.match(line.rstrip("\r\n"))), None)
    if start is None:
        raise InitError(
            f"{path}: no top-level `repos:` list; add the hook by hand:\n"
            + _indented(PRE_COMMIT_HOOK, 2)
        )
    rest = _REPOS.match(lines[start].rstrip("\r\n"))
    assert rest is not None
    if rest["rest"].strip() and not rest["rest"].strip().startswith("#"):
        raise InitError(
            f"{path}: `repos:` is not a block list; add the hook by hand:\n"
            + _indented(PRE_COMMIT_HOOK, 2)
        )
    end = len(lines)
    indent: int | None = None
    for i in range(start + 1, len(lines)):
        line = lines[i].rstrip("\r\n")
        if _TOP_KEY.match(line):
            end = i
            break
        stripped = line.lstrip(" ")
        if indent is None and stripped.startswith("-"):
            indent = len(line) - len(stripped)
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # insert after the list's last line, before blank lines
    entry = _indented(PRE_COMMIT_HOOK, 2 if indent is None else indent).replace("\n", newline)
    if end > 0 and not lines[end - 1].endswith(("\n", "\r")):
        lines[end - 1] += newline
    new = "".join(lines[:end]) + entry + "".join(lines[end:])
    _check_yaml(new, path)
    _write(path, new, existed=True)
    return [Change(path, "added a backlint hook to `repos:`", True)]


def _indented(block: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in block.splitlines(True))


def _check_yaml(text: str, path: Path) -> None:
    """With PyYAML at hand (pre-commit's own dependency), check the result."""
    try:
        import yaml  # type: ignore[import-untyped, unused-ignore]
    except ImportError:  # pragma: no cover - pre-commit users have it
        return
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InitError(f"{path}: the hook could not be added safely ({exc})") from None
    hooks = [h.get("id") for r in data.get("repos", []) for h in r.get("hooks", [])]
    if "backlint" not in hooks:  # pragma: no cover - a layout the text edit missed
        raise InitError(f"{path}: the hook could not be added safely; add it by hand")
