"""A rule's documentation as text: what `backlint rule CODE` prints, and the
files of docs/rules/ (one per code, and an index), generated from the rules.

    python -m backlint.docs docs/rules          # write them
    python -m backlint.docs --check docs/rules  # exit 1 when they differ
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from backlint.registry import ENGINE_CODES, EngineCode, all_rules
from backlint.rule import DOC_SECTIONS, Rule

# Where the repository lives; rule URLs (SARIF's helpUri) point into its docs.
REPOSITORY_URL = "https://github.com/OWNER/backlint"
INDEX = "README.md"


def rule_url(code: str) -> str:
    return f"{REPOSITORY_URL}/blob/main/docs/rules/{code}.md"


def render_rule(rule: type[Rule]) -> str:
    docs = rule.docs()
    frameworks = ", ".join(sorted(rule.frameworks)) or "any"
    lines = [
        f"# {rule.code}: {rule.name}",
        "",
        f"Group: {rule.group} · Fix: {rule.fix_kind.value} · Frameworks: {frameworks}",
        "",
        docs.get("summary", ""),
    ]
    for section in DOC_SECTIONS:
        lines += ["", f"## {section}", "", docs.get(section, "")]
    options = rule.option_fields()
    if options:
        lines += ["", "## Options", ""]
        for f in options:
            factory = f.default_factory
            default = factory() if factory is not dataclasses.MISSING else f.default
            lines.append(f"- `{f.name.replace('_', '-')}` (default: {default!r})")
    return "\n".join(lines).rstrip() + "\n"


def render_engine_code(code: EngineCode) -> str:
    return (
        f"# {code.code}: {code.name}\n\nGroup: {code.group} · Fix: {code.fix_kind.value}\n\n"
        f"{code.summary}\n"
    )


def render_index() -> str:
    lines = [
        "# backlint rules",
        "",
        "Generated from the rules by `python -m backlint.docs docs/rules`; "
        "`backlint rule CODE` prints the same pages.",
        "",
        "| code | name | group | fix | summary |",
        "|---|---|---|---|---|",
    ]
    for engine in ENGINE_CODES:
        summary = engine.summary.split(". ")[0].rstrip(".") + "."
        lines.append(
            f"| [{engine.code}]({engine.code}.md) | {engine.name} | {engine.group} "
            f"| {engine.fix_kind.value} | {summary} |"
        )
    for rule in all_rules():
        summary = rule.docs().get("summary", "").replace("|", "\\|")
        lines.append(
            f"| [{rule.code}]({rule.code}.md) | {rule.name} | {rule.group} "
            f"| {rule.fix_kind.value} | {summary} |"
        )
    return "\n".join(lines) + "\n"


def generated() -> dict[str, str]:
    """file name -> content, for docs/rules/."""
    files = {f"{engine.code}.md": render_engine_code(engine) for engine in ENGINE_CODES}
    files.update({f"{rule.code}.md": render_rule(rule) for rule in all_rules()})
    files[INDEX] = render_index()
    return files


def differences(directory: Path) -> list[str]:
    """Files of `directory` that are missing, stale, or not generated."""
    wanted = generated()
    problems = [
        name
        for name, text in wanted.items()
        if not (directory / name).is_file()
        or (directory / name).read_text(encoding="utf-8") != text
    ]
    if directory.is_dir():
        problems += sorted(p.name for p in directory.glob("*.md") if p.name not in wanted)
    return sorted(problems)


def write(directory: Path) -> list[str]:
    """Bring `directory` up to date; returns the files written or removed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = differences(directory)
    wanted = generated()
    for name in changed:
        path = directory / name
        if name in wanted:
            with path.open("w", encoding="utf-8", newline="\n") as handle:
                handle.write(wanted[name])
        else:
            path.unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    if len(paths) != 1:
        print("usage: python -m backlint.docs [--check] DIRECTORY", file=sys.stderr)
        return 2
    directory = Path(paths[0])
    if check:
        stale = differences(directory)
        for name in stale:
            print(f"{directory / name}: differs from the rules' docs", file=sys.stderr)
        return 1 if stale else 0
    for name in write(directory):
        print(f"wrote {directory / name}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
