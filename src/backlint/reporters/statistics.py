"""`--statistics`: the number of findings per code, most frequent first."""

from __future__ import annotations

import json
from collections import Counter
from typing import TextIO

from backlint.reporters import Results
from backlint.reporters.rules import rule_info
from backlint.reporters.text import plural


def rows(results: Results) -> list[tuple[str, str, int, bool]]:
    """(code, name, count, fixable) per code."""
    counts = Counter(f.code for f in results.findings)
    fixable = {f.code for f in results.findings if f.fix is not None}
    return [
        (code, rule_info(results, code).name, count, code in fixable)
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def print_statistics(results: Results, output_format: str, out: TextIO) -> None:
    table = rows(results)
    if output_format == "json":
        data = [
            {"code": code, "name": name, "count": count, "fixable": fixable}
            for code, name, count, fixable in table
        ]
        json.dump(data, out, indent=2)
        out.write("\n")
        return
    width = max((len(str(count)) for _, _, count, _ in table), default=1)
    code_width = max((len(code) for code, _, _, _ in table), default=6)
    for code, name, count, fixable in table:
        marker = "[*]" if fixable else "   "
        out.write(f"{count:>{width}}  {code:<{code_width}}  {marker}  {name}\n")
    out.write(f"{plural(len(results.findings), 'finding')} in {plural(results.files, 'file')}\n")
