"""What a run lints with: the rules, their options, per-file ignores. Kept
apart from the runner so that a fully warm run (answered from the findings
cache) never imports the runner, the rules or LibCST."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backlint.registry import PARSE_ERROR, RULE_ERROR, codes_of

if TYPE_CHECKING:
    from backlint.rule import Rule


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What every worker needs to lint a file (picklable: rules by reference)."""

    # The rules to run: a tuple, or the lazy `SelectedRules` of a selection.
    rules: Sequence[type[Rule]]
    options: dict[str, Any] = field(default_factory=dict)  # code -> Options
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    root: Path = Path()
    engine_codes: frozenset[str] = frozenset({PARSE_ERROR.code, RULE_ERROR.code})
    # Compute fix edits (JSON output, --fix); text output only marks fixable findings.
    want_edits: bool = False
    # Seconds of lint one file may take before it is given up with a BKL002
    # (0: no limit). A file within LibCST's limits takes well under a second.
    time_budget: float = 30.0

    def options_for(self, rule: type[Rule]) -> Any:
        return self.options.get(rule.code) or rule.Options()

    @property
    def codes(self) -> frozenset[str]:
        """The selected rules' codes (a lazy selection stays unimported)."""
        return codes_of(self.rules)
