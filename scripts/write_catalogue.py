"""Rewrite `src/backlint/catalogue.py` from the rule classes (after adding,
renaming or moving a rule; `tests/test_catalogue.py` says when it is stale).

    python scripts/write_catalogue.py
"""

from __future__ import annotations

import json
from pathlib import Path

from backlint.registry import all_rules

HEADER = '''"""Every rule's code, name, group and module, as data: what selection,
configuration and the findings cache need, without importing the rules (and
LibCST with them). Written by `scripts/write_catalogue.py`; a test checks it
against the rule classes."""

from __future__ import annotations

GROUPS = ("default", "strict")

# (code, name, group, module, class)
RULES: tuple[tuple[str, str, str, str, str], ...] = (
'''


def render() -> str:
    # One item a line, with trailing commas: the form ruff format keeps.
    rows = [
        "    (\n"
        + "".join(
            f"        {json.dumps(item)},\n"
            for item in (r.code, r.name, r.group, r.__module__, r.__name__)
        )
        + "    ),\n"
        for r in all_rules()
    ]
    return HEADER + "".join(rows) + ")\n"


def main() -> None:
    target = Path(__file__).resolve().parents[1] / "src" / "backlint" / "catalogue.py"
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
