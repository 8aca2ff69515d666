"""Index views are built once per run: through `ProjectIndex.view`, never by
calling the builder (a direct call rebuilt the SQLAlchemy model graph once per
function of the project: a fifth of a cold run on open-webui)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "backlint"
VIEW_DECORATORS = frozenset({"index_view", "data_view", "tracked_view"})


def _view_builders(trees: dict[Path, ast.Module]) -> set[str]:
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Name) and d.id in VIEW_DECORATORS for d in node.decorator_list
            ):
                names.add(node.name)
    return names


def test_no_view_builder_is_called_directly() -> None:
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in SRC.rglob("*.py")}
    builders = _view_builders(trees)
    assert {"sqlalchemy_models", "django_models", "fastapi_apps"} <= builders  # not vacuous
    direct = [
        f"{path.relative_to(SRC)}:{node.lineno} {node.func.id}()"
        for path, tree in trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in builders
    ]
    assert direct == []
