"""`--diff-base REF`: the lines changed since a git ref.

The diff is taken from the merge base of REF and HEAD to the working tree (so
`--diff-base origin/main` on a pull request's branch sees the branch's own
changes, not what main gained since), plus untracked files, which are new in
their entirety.
"""

from __future__ import annotations

import codecs
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,(?P<count>\d+))? @@")


class GitError(Exception):
    """git is missing, this is not a repository, or the ref is unknown."""


@dataclass(frozen=True, slots=True)
class ChangedLines:
    """Lines changed per absolute path; None: the whole file is new."""

    files: dict[Path, set[int] | None]

    def contains(self, path: Path, line: int) -> bool:
        try:
            lines = self.files[path.resolve()]
        except KeyError:
            return False
        return lines is None or line in lines


def _git(cwd: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if done.returncode != 0:
        raise GitError(done.stderr.strip() or f"git {' '.join(args)} failed")
    return done.stdout


def _unquote(path: str) -> str:
    """git's C-style quoting of unusual paths ("a\\tb")."""
    if len(path) >= 2 and path[0] == '"' and path[-1] == '"':
        raw = path[1:-1].encode("latin-1", "backslashreplace")
        decoded: bytes = codecs.escape_decode(raw)[0]
        return decoded.decode("utf-8", "surrogateescape")
    return path


def parse_diff(text: str, top: Path) -> dict[Path, set[int] | None]:
    """Added or changed lines (in the new version) per file of a
    `git diff --unified=0` output."""
    files: dict[Path, set[int] | None] = {}
    current: set[int] | None = None
    for line in text.splitlines():
        if line.startswith("+++ "):
            name = _unquote(line[4:].rstrip("\t"))
            if name == "/dev/null":
                current = None
                continue
            name = name[2:] if name.startswith("b/") else name
            path = (top / name).resolve()
            current = set()
            files[path] = current
            continue
        match = _HUNK.match(line)
        if match and current is not None:
            start = int(match["start"])
            count = int(match["count"]) if match["count"] is not None else 1
            current.update(range(start, start + count))
    return files


def changed_lines(ref: str, cwd: Path) -> ChangedLines:
    top = Path(_git(cwd, "rev-parse", "--show-toplevel").strip())
    _git(cwd, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    base = _git(cwd, "merge-base", ref, "HEAD").strip()
    diff = _git(
        top,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--unified=0",
        "--find-renames",
        "--diff-filter=AMRC",
        base,
        "--",
    )
    files = parse_diff(diff, top)
    untracked = _git(top, "ls-files", "--others", "--exclude-standard", "-z")
    for name in filter(None, untracked.split("\0")):
        files[(top / name).resolve()] = None
    return ChangedLines(files)
