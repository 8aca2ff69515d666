"""A JSON array of findings, in report order."""

from __future__ import annotations

import json
from typing import TextIO

from backlint.reporters import Results


def report(results: Results, out: TextIO) -> None:
    json.dump([f.as_dict() for f in results.findings], out, indent=2)
    out.write("\n")
