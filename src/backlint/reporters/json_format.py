"""A JSON array of findings, in report order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TextIO

from backlint.types import Finding


def report(findings: Sequence[Finding], files: int, out: TextIO) -> None:
    json.dump([f.as_dict() for f in findings], out, indent=2)
    out.write("\n")
