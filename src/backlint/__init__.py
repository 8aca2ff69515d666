"""backlint: a linter for the conventions of Python backends."""

from __future__ import annotations

__version__ = "0.1.0"
