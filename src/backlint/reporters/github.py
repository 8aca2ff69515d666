"""GitHub Actions workflow commands: each finding annotates its line in the
pull request (`::error file=...,line=...::message`)."""

from __future__ import annotations

from typing import TextIO

from backlint.reporters import Results
from backlint.reporters.rules import rule_info
from backlint.reporters.text import plural


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def report(results: Results, out: TextIO) -> None:
    for f in results.findings:
        name = rule_info(results, f.code).name
        properties = ",".join(
            [
                f"file={_property(f.path)}",
                f"line={f.line}",
                f"col={f.column}",
                f"endLine={max(f.end_line, f.line)}",
                f"endColumn={f.end_column if f.end_line > f.line else max(f.end_column, f.column)}",
                f"title={_property(f'{f.code} {name}')}",
            ]
        )
        out.write(f"::error {properties}::{_data(f'{f.code} {f.message}')}\n")
    out.write(f"{plural(len(results.findings), 'finding')} in {plural(results.files, 'file')}\n")
