"""Output formats: one module per format, each a function of the findings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TextIO

from backlint.reporters import json_format, text
from backlint.types import Finding

Reporter = Callable[[Sequence[Finding], int, TextIO], None]

REPORTERS: dict[str, Reporter] = {
    "text": text.report,
    "json": json_format.report,
}
