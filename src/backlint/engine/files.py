"""Which files to lint: discovery, exclusion, .gitignore, module names."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath

import pathspec

from backlint.types import NON_PRODUCTION_PACKAGES, SourceFile

__all__ = ["Skipped", "SourceFile", "discover", "source_file"]

# Directories never worth linting, as in ruff's defaults (as gitignore-style
# patterns: a bare name matches at any depth). A user's `exclude` replaces them.
DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".backlint_cache",
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".git-rewrite",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pyenv",
    ".pytest_cache",
    ".pytype",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    ".vscode",
    "__pycache__",
    "__pypackages__",
    "_build",
    "buck-out",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)


def display_path(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


def module_name(
    path: Path, root: Path | None = None, packages: dict[str, bool] | None = None
) -> tuple[str, bool]:
    """Dotted module name from the package directories above the file.

    Below the project `root`, a directory without `__init__.py` inside a
    package is a namespace portion of it (`shop/routers/apps.py` is
    `shop.routers.apps` when `shop/__init__.py` exists): Python imports it so,
    and naming it `apps` would merge unrelated modules of one basename.
    `packages` caches, per directory, whether it holds an `__init__.py`."""
    known = {} if packages is None else packages

    def holds_init(directory: str) -> bool:
        found = known.get(directory)
        if found is None:
            found = known[directory] = os.path.isfile(os.path.join(directory, "__init__.py"))
        return found

    is_package = path.name == "__init__.py"
    parts = [] if is_package else [path.stem]
    directory = os.path.dirname(str(path))
    if root is not None:
        # The directories from the file's up to the root (when it is below it).
        top_dir = str(root)
        chain: list[str] = []
        current = directory
        while current != top_dir:
            parent = os.path.dirname(current)
            if parent == current:
                break
            chain.append(current)
            current = parent
        if current == top_dir:
            inits = [i for i, d in enumerate(chain) if holds_init(d)]
            if inits and len(inits) != inits[-1] + 1:
                # A namespace directory between the file and its package.
                top = inits[-1]
                parts += [os.path.basename(d) for d in chain[: top + 1]]
                directory = os.path.dirname(chain[top])
    while holds_init(directory):
        parts.append(os.path.basename(directory))
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    if not parts:
        parts.append(path.parent.name or "__main__")
    return ".".join(reversed(parts)), is_package


def is_test_path(relative: PurePosixPath) -> bool:
    """Tests, as RULES.md defines them, plus `tests.py`: the test module of
    every Django app (`startapp` writes it; Django's runner finds it), and
    the test helper packages a project ships outside `tests/` (`oscar/test/`,
    `nautobot/core/testing/`: test cases, factories and fixtures)."""
    name = relative.name
    if name in ("conftest.py", "tests.py") or name.startswith("test_") or name.endswith("_test.py"):
        return True
    return not NON_PRODUCTION_PACKAGES.isdisjoint(relative.parts[:-1])


def is_migration_path(relative: PurePosixPath) -> bool:
    """Django migrations (`<app>/migrations/`) and Alembic revisions
    (`alembic/versions/`, `migrations/versions/`, and Alembic's `env.py`)."""
    folders = relative.parts[:-1]
    if "migrations" in folders:
        return True
    return ("alembic" in folders or relative.name == "env.py") and (
        "versions" in folders or relative.name == "env.py"
    )


class Excluder:
    """Decides which paths below a root are left out."""

    def __init__(self, root: Path, exclude: Sequence[str], respect_gitignore: bool = True) -> None:
        self.root = root
        self.user = pathspec.GitIgnoreSpec.from_lines(exclude)
        self.respect_gitignore = respect_gitignore
        self._gitignores: dict[Path, pathspec.GitIgnoreSpec | None] = {}
        self._chains: dict[Path, list[tuple[str, pathspec.GitIgnoreSpec]] | None] = {}
        # directory -> whether it holds an __init__.py (module names).
        self.packages: dict[str, bool] = {}

    def _relative(self, path: Path) -> str | None:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return None

    def excluded_by_user(self, path: Path, is_dir: bool) -> bool:
        relative = self._relative(path)
        if relative is None:
            return bool(self.user.match_file(path.name + ("/" if is_dir else "")))
        return self.user.match_file(relative + ("/" if is_dir else ""))

    def _gitignore(self, directory: Path) -> pathspec.GitIgnoreSpec | None:
        if directory not in self._gitignores:
            spec = None
            ignore = directory / ".gitignore"
            if ignore.is_file():
                try:
                    lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
                    spec = pathspec.GitIgnoreSpec.from_lines(lines)
                except OSError:
                    spec = None
            self._gitignores[directory] = spec
        return self._gitignores[directory]

    def _specs(self, directory: Path) -> list[tuple[str, pathspec.GitIgnoreSpec]] | None:
        """The .gitignore specs from `directory` up to the root, as (base
        directory with a trailing slash, spec); None outside the root."""
        if directory in self._chains:
            return self._chains[directory]
        if directory == self.root:
            specs: list[tuple[str, pathspec.GitIgnoreSpec]] | None = []
        elif self._relative(directory) is None or directory.parent == directory:
            specs = None
        else:
            above = self._specs(directory.parent)
            specs = None if above is None else list(above)
        if specs is not None:
            spec = self._gitignore(directory)
            if spec is not None:
                specs.insert(0, (os.path.join(str(directory), ""), spec))
        self._chains[directory] = specs
        return specs

    def ignored_by_git(self, path: Path, is_dir: bool) -> bool:
        """True when a .gitignore between the root and the path ignores it."""
        if not self.respect_gitignore:
            return False
        specs = self._specs(path.parent)
        if not specs:
            return False
        text = str(path)
        for base, spec in specs:
            relative = text[len(base) :].replace(os.sep, "/") + ("/" if is_dir else "")
            if spec.match_file(relative):
                return True
        return False


def _is_virtualenv(directory: Path) -> bool:
    return (directory / "pyvenv.cfg").is_file()


# (display path, why it was skipped): files and directories discovery passed
# over; the CLI prints each as a warning line.
Skipped = list[tuple[str, str]]


def _not_regular(path: Path) -> str | None:
    """Why a `*.py` path that is not a regular file is skipped, or None when it
    is simply absent (a dangling symlink: nothing to lint, nothing to say)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        if exc.errno == errno.ENOENT:
            return None
        return f"cannot read: {exc.strerror}"
    if stat.S_ISFIFO(mode):
        return "a FIFO, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    return None


def _walk(top: Path, excluder: Excluder, skipped: Skipped, cwd: Path) -> Iterator[Path]:
    """The `*.py` files below `top`, in sorted order; iterative, so that no
    depth of directories exhausts the stack. Symlinked directories are not
    followed (a loop of them would never end)."""
    stack: list[Path] = [top]
    while stack:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            skipped.append((display_path(directory, cwd), f"cannot read: {exc.strerror}"))
            continue
        subdirectories: list[Path] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if not is_dir and not entry.name.endswith(".py"):
                continue  # templates, locales, data: no path object for each
            path = Path(entry.path)
            try:
                is_file = not is_dir and entry.is_file()
            except OSError:
                is_dir = is_file = False
            if is_dir:
                if not (
                    _is_virtualenv(path)
                    or excluder.excluded_by_user(path, True)
                    or excluder.ignored_by_git(path, True)
                ):
                    subdirectories.append(path)
            elif entry.name.endswith(".py") and not (
                excluder.excluded_by_user(path, False) or excluder.ignored_by_git(path, False)
            ):
                if is_file:
                    yield path
                else:
                    reason = _not_regular(path)
                    if reason is not None:
                        skipped.append((display_path(path, cwd), reason))
        # Files of a directory before its subdirectories, both in name order
        # (the result is sorted by display path anyway).
        stack.extend(reversed(subdirectories))


def discover(
    targets: Iterable[Path],
    root: Path,
    exclude: Sequence[str],
    cwd: Path,
    skipped: Skipped | None = None,
) -> list[SourceFile]:
    """The Python files named by `targets`, sorted by display path.

    Directories are walked skipping virtual environments, what the `exclude`
    patterns match and what .gitignore files ignore. A file named explicitly is
    linted unless `exclude` matches it (so pre-commit honours the configuration).
    What cannot be linted (a FIFO or device named `*.py`, a symlink loop, an
    unreadable directory) is added to `skipped`, and discovery goes on; a
    target that does not exist raises FileNotFoundError.
    """
    excluder = Excluder(root, exclude)
    passed_over: Skipped = [] if skipped is None else skipped
    seen: dict[Path, SourceFile] = {}
    for target in targets:
        target = target if target.is_absolute() else (cwd / target)
        target = Path(os.path.normpath(target))
        if target.is_dir():
            paths: Iterable[Path] = _walk(target, excluder, passed_over, cwd)
        elif target.is_file():
            paths = [] if excluder.excluded_by_user(target, False) else [target]
        else:
            reason = _not_regular(target)
            if reason is None:
                raise FileNotFoundError(str(target))
            passed_over.append((display_path(target, cwd), reason))
            paths = []
        for path in paths:
            if path not in seen:
                seen[path] = source_file(path, root, cwd, excluder.packages)
    return sorted(seen.values(), key=lambda f: f.display)


def source_file(
    path: Path, root: Path, cwd: Path, packages: dict[str, bool] | None = None
) -> SourceFile:
    module, is_package = module_name(path, root, packages)
    try:
        relative = PurePosixPath(path.relative_to(root).as_posix())
    except ValueError:
        relative = PurePosixPath(path.name)
    return SourceFile(
        path=path,
        display=display_path(path, cwd),
        module=module,
        is_package=is_package,
        is_test=is_test_path(relative),
        is_migration=is_migration_path(relative),
    )
