"""BKL205's fix: `status_code=201` added to the route decorator, in its layout."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import pyproject, write_tree
from test_fixes import apply, lint_with_edits

SELECT = pyproject('select = ["BKL205"]')

SOURCE = """\
from fastapi import APIRouter

router = APIRouter()


@router.post("/a")
async def create_a() -> None:
    print("a")


@router.post(
    "/b",
    response_model=None,
)
async def create_b() -> None:
    print("b")


@router.post(
    "/c",
)
def add_c() -> None:
    print("c")


class Views:
    @router.post("/d", tags=["d"])  # a comment
    def register_d(self) -> None:
        print("d")


@router.post()
def create_e() -> None:
    print("e")
"""

EXPECTED = """\
from fastapi import APIRouter

router = APIRouter()


@router.post("/a", status_code=201)
async def create_a() -> None:
    print("a")


@router.post(
    "/b",
    response_model=None,
    status_code=201,
)
async def create_b() -> None:
    print("b")


@router.post(
    "/c",
    status_code=201,
)
def add_c() -> None:
    print("c")


class Views:
    @router.post("/d", tags=["d"], status_code=201)  # a comment
    def register_d(self) -> None:
        print("d")


@router.post(status_code=201)
def create_e() -> None:
    print("e")
"""


def test_status_code_is_added_in_the_decorator_layout(tmp_path: Path) -> None:
    write_tree(tmp_path, {"pyproject.toml": SELECT, "app.py": SOURCE})
    findings = lint_with_edits(tmp_path)
    assert [f.line for f in findings] == [7, 15, 22, 28, 33]
    assert all(f.fix is not None and f.fix.applicability.value == "unsafe" for f in findings)
    edits = [edit for f in findings if f.fix is not None for edit in f.fix.edits]
    assert len(edits) == 5
    result = apply(SOURCE, edits)
    assert result == EXPECTED
    ast.parse(result)
    write_tree(tmp_path, {"app.py": result})
    assert lint_with_edits(tmp_path) == []


def test_status_constant_when_the_module_imports_status(tmp_path: Path) -> None:
    source = (
        "from fastapi import FastAPI, status\n\napp = FastAPI()\n\n\n"
        '@app.post("/x")\ndef create_x() -> None:\n    print("x")\n'
    )
    write_tree(tmp_path, {"pyproject.toml": SELECT, "app.py": source})
    (finding,) = lint_with_edits(tmp_path)
    assert finding.fix is not None
    result = apply(source, list(finding.fix.edits))
    assert '@app.post("/x", status_code=status.HTTP_201_CREATED)\n' in result
