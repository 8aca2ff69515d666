"""SARIF 2.1.0, as GitHub code scanning reads it.

One run; its driver lists one rule per code (backlint's every code, then the
other tools' codes that occur) with its documentation as help text and its
URL; each result has a physical location (paths relative to the working
directory, under `%SRCROOT%`) and its fix, when it has one. Columns count
characters (`columnKind: unicodeCodePoints`), as backlint's do.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any, TextIO
from urllib.parse import quote

from backlint import __version__
from backlint.docs import REPOSITORY_URL
from backlint.reporters import Results
from backlint.reporters.rules import codes_of, rule_info
from backlint.types import Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_ERROR_CODES = frozenset({"BKL001", "BKL002"})


def _artifact(path: str) -> dict[str, str]:
    if Path(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(PurePosixPath(path).as_posix()), "uriBaseId": "%SRCROOT%"}


def _region(line: int, column: int, end_line: int, end_column: int) -> dict[str, int]:
    end_line, end_column = max((end_line, end_column), (line, column))
    return {"startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column}


def _tags(code: str, tool: str) -> list[str]:
    # GitHub code scanning files findings tagged "security" as security alerts.
    security = code.startswith("BKL6") or (tool == "ruff" and code.startswith("S"))
    return [tool, "security"] if security else [tool]


def _rule(results: Results, code: str) -> dict[str, Any]:
    info = rule_info(results, code)
    rule: dict[str, Any] = {
        "id": code,
        "name": info.name,
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": info.description or info.summary},
        "defaultConfiguration": {"level": "error" if code in _ERROR_CODES else "warning"},
        "properties": {"tags": _tags(code, info.tool), "fix": info.fix_kind.value},
    }
    if info.help_markdown:
        rule["help"] = {"text": info.help_markdown, "markdown": info.help_markdown}
    else:
        rule["help"] = {"text": f"{info.summary} See {info.url}." if info.url else info.summary}
    if info.url:
        rule["helpUri"] = info.url
    return rule


def _result(finding: Finding, index: int) -> dict[str, Any]:
    location = {
        "physicalLocation": {
            "artifactLocation": _artifact(finding.path),
            "region": _region(finding.line, finding.column, finding.end_line, finding.end_column),
        }
    }
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": index,
        "level": "error" if finding.code in _ERROR_CODES else "warning",
        "message": {"text": finding.message},
        "locations": [location],
    }
    if finding.fix is not None and finding.fix.edits:
        result["fixes"] = [
            {
                "description": {
                    "text": f"{finding.fix.message} ({finding.fix.applicability.value} fix)"
                },
                "artifactChanges": [
                    {
                        "artifactLocation": _artifact(finding.path),
                        "replacements": [
                            {
                                "deletedRegion": _region(
                                    e.line, e.column, e.end_line, e.end_column
                                ),
                                "insertedContent": {"text": e.content},
                            }
                            for e in finding.fix.edits
                        ],
                    }
                ],
            }
        ]
    return result


def document(results: Results, cwd: Path | None = None) -> dict[str, Any]:
    codes = codes_of(results)
    index = {code: i for i, code in enumerate(codes)}
    root = (cwd or Path.cwd()).resolve()
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "backlint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": REPOSITORY_URL,
                        "rules": [_rule(results, code) for code in codes],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": [_result(f, index[f.code]) for f in results.findings],
            }
        ],
    }


def report(results: Results, out: TextIO) -> None:
    json.dump(document(results), out, indent=2)
    out.write("\n")
