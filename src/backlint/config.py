"""`[tool.backlint]` in pyproject.toml, validated into a `Config`."""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backlint.engine.files import DEFAULT_EXCLUDE
from backlint.registry import all_rules, is_valid_selector, rule_by_code, rule_by_name

if TYPE_CHECKING:
    from backlint.rule import Rule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]


class ConfigError(Exception):
    """A configuration problem, naming the file and the key."""


@dataclass(frozen=True, slots=True)
class Config:
    root: Path  # the project root: where the config lives, else the repository root
    path: Path | None = None  # the file the settings came from
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] | None = None  # None: the defaults
    extend_exclude: tuple[str, ...] = ()
    rule_options: Mapping[str, Any] = field(default_factory=dict)  # code -> Options
    ruff: bool = False  # run ruff with backlint's preset and merge its findings

    @property
    def exclude_patterns(self) -> tuple[str, ...]:
        base = self.exclude if self.exclude is not None else (*DEFAULT_EXCLUDE, "*.egg-info")
        return (*base, *self.extend_exclude)

    def options_for(self, rule: type[Rule]) -> Any:
        return self.rule_options.get(rule.code) or rule.Options()


_LIST_KEYS = ("select", "extend-select", "ignore", "exclude", "extend-exclude")
_BOOL_KEYS = ("ruff",)
_KNOWN_KEYS = frozenset({*_LIST_KEYS, *_BOOL_KEYS, "per-file-ignores"})
_ROOT_MARKERS = (".git", ".hg", "pyproject.toml", "setup.cfg", "setup.py")


def find_config(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` with a [tool.backlint] table."""
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            # A pyproject.toml that cannot be read may hold our table: running
            # with the defaults instead would pass what the project configured
            # to fail, so it is a configuration error, as it is for ruff.
            try:
                text = candidate.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise ConfigError(f"{candidate}: cannot read: not UTF-8 ({exc.reason})") from None
            except OSError as exc:
                raise ConfigError(f"{candidate}: cannot read: {exc.strerror}") from None
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{candidate}: not valid TOML: {exc}") from None
            if isinstance(data.get("tool"), dict) and "backlint" in data["tool"]:
                return candidate
    return None


def find_root(start: Path) -> Path:
    for directory in (start, *start.parents):
        if any((directory / marker).exists() for marker in _ROOT_MARKERS):
            return directory
    return start


def load_config(start: Path, explicit: Path | None = None) -> Config:
    """Settings from `explicit`, else from the nearest configured pyproject.toml.

    The project root is the found pyproject.toml's directory. An explicit file
    may live anywhere (`--config ci/lint.toml`): as ruff does for `--config`,
    its patterns are then relative to the project root found from `start`.
    """
    if explicit is not None:
        path: Path | None = explicit if explicit.is_absolute() else start / explicit
    else:
        path = find_config(start)
    if path is None:
        return Config(root=find_root(start))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    tool = data.get("tool")
    if isinstance(tool, dict) and "backlint" in tool:
        table = tool["backlint"]
    else:
        # A pyproject.toml without the table configures nothing; another TOML
        # file (`--config backlint.toml`) may hold the settings at its top level.
        table = {} if path.name == "pyproject.toml" else data
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.backlint] must be a table")
    return parse_table(table, path, find_root(start) if explicit is not None else path.parent)


def parse_table(table: Mapping[str, Any], path: Path, root: Path | None = None) -> Config:
    where = f"{path}: [tool.backlint]"
    values: dict[str, Any] = {}
    rule_options: dict[str, Any] = {}
    for key, value in table.items():
        if key in _LIST_KEYS:
            values[key] = _string_list(value, f"{where} {key}")
            if key in ("select", "extend-select", "ignore"):
                for selector in values[key]:
                    if not is_valid_selector(selector):
                        raise ConfigError(
                            f"{where} {key}: unknown rule code or selector {selector!r}"
                        )
        elif key == "per-file-ignores":
            values[key] = _per_file_ignores(value, f"{where} {key}")
        elif key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise ConfigError(f"{where} {key}: expected true or false, got {value!r}")
            values[key] = value
        else:
            rule = rule_by_name(key) or rule_by_code(key)
            if rule is None:
                known = ", ".join(sorted(_KNOWN_KEYS))
                raise ConfigError(
                    f"{where}: unknown key {key!r} (expected one of {known}, or a rule's "
                    "name or code for its options)"
                )
            if rule.code in rule_options:
                raise ConfigError(f"{where}: options for {rule.code} given twice")
            rule_options[rule.code] = parse_options(rule, value, f"{where} {key}")
    return Config(
        root=root if root is not None else path.parent,
        path=path,
        select=values.get("select"),
        extend_select=values.get("extend-select", ()),
        ignore=values.get("ignore", ()),
        per_file_ignores=values.get("per-file-ignores", ()),
        exclude=values.get("exclude"),
        extend_exclude=values.get("extend-exclude", ()),
        rule_options=rule_options,
        ruff=values.get("ruff", False),
    )


def _string_list(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


def _per_file_ignores(value: object, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table of glob = [codes]")
    out: list[tuple[str, tuple[str, ...]]] = []
    for pattern, codes in value.items():
        selectors = _string_list(codes, f"{where} {pattern!r}")
        for selector in selectors:
            if not is_valid_selector(selector):
                raise ConfigError(
                    f"{where} {pattern!r}: unknown rule code or selector {selector!r}"
                )
        out.append((pattern, selectors))
    return tuple(out)


def parse_options(rule: type[Rule], value: object, where: str) -> Any:
    """A rule's option table -> its Options dataclass, every key and type checked."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table of options")
    fields = {f.name.replace("_", "-"): f for f in rule.option_fields()}
    hints = typing.get_type_hints(rule.Options) if fields else {}
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        if key not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise ConfigError(f"{where}: unknown option {key!r} for {rule.code} (options: {known})")
        f = fields[key]
        kwargs[f.name] = _coerce(item, hints[f.name], f"{where} {key}")
    return rule.Options(**kwargs)


def _coerce(value: object, tp: Any, where: str) -> Any:
    """Check a TOML value against a simple type: bool, int, str, tuple[str, ...],
    or a dict[str, str]."""
    origin = typing.get_origin(tp)
    if tp is bool or tp is int or tp is str or tp is float:
        if type(value) is not tp and not (tp is float and type(value) is int):
            raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
        return value
    if origin is tuple or origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_type, *_) = typing.get_args(tp) or (str,)
        return tuple(_coerce(v, item_type, where) for v in value)
    if origin is dict or origin is Mapping or origin is types.MappingProxyType:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        key_type, item_type = typing.get_args(tp)
        return {_coerce(k, key_type, where): _coerce(v, item_type, where) for k, v in value.items()}
    raise ConfigError(f"{where}: unsupported option type {tp!r}")  # pragma: no cover


def known_option_keys() -> dict[str, Sequence[str]]:
    """For docs: each rule's option keys."""
    return {
        r.code: [f.name.replace("_", "-") for f in dataclasses.fields(r.Options)]
        for r in all_rules()
        if dataclasses.is_dataclass(r.Options)
    }
