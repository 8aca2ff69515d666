"""JUnit XML: one test suite, one failed test case per finding (a clean run
is one passing case), for CI systems that show test reports."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TextIO

from backlint.reporters import Results
from backlint.reporters.rules import rule_info


def report(results: Results, out: TextIO) -> None:
    count = max(1, len(results.findings))
    failures = str(len(results.findings))
    suites = ET.Element("testsuites", name="backlint", tests=str(count), failures=failures)
    suite = ET.SubElement(
        suites, "testsuite", name="backlint", tests=str(count), failures=failures, errors="0"
    )
    for f in results.findings:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f.path,
            name=f"{f.code} {rule_info(results, f.code).name} at {f.line}:{f.column}",
            file=f.path,
            line=str(f.line),
        )
        failure = ET.SubElement(case, "failure", message=f.message, type=f.code)
        failure.text = f"{f.path}:{f.line}:{f.column}: {f.code} {f.message}"
    if not results.findings:
        ET.SubElement(suite, "testcase", classname="backlint", name="no findings")
    ET.indent(suites)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(suites, encoding="unicode"))
    out.write("\n")
