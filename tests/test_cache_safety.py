"""The cache is data, never code: crafted files under `.backlint_cache/`
(a pickle payload, garbage, truncated or mis-shaped JSON, a huge file) are
ignored by the CLI and the flake8 plugin, the findings stay the same, and
nothing in them is executed. They are rewritten by the next run."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import pyproject, write_tree
from harness import clean_env, run_module

from backlint.engine.cache_store import CACHE_DIR, MAX_CACHE_BYTES, read_json

SOURCES = {
    "pyproject.toml": pyproject('select = ["ALL"]'),
    "shop/__init__.py": "",
    "shop/models.py": (
        "from django.db import models\n\n\n"
        "class Order(models.Model):\n"
        "    customer = models.ForeignKey('Customer', on_delete=models.CASCADE)\n"
    ),
    "shop/views.py": (
        "from shop.models import Order\n\n\n"
        "def names(request):\n"
        "    return [o.customer.name for o in Order.objects.all()]\n"
    ),
}


class _Payload:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def _backlint(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module(root, "backlint", "check", ".", "-j1", *args, timeout=120)


def _flake8(root: Path) -> subprocess.CompletedProcess[str]:
    return run_module(root, "flake8", "--select", "BKL", "-j1", ".", timeout=120)


def _cache_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / CACHE_DIR).glob("*-*") if not p.name.startswith("."))


def _deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _crafted(name: str, marker: Path, real: bytes) -> bytes:
    envelope = json.loads(real)
    if name == "pickle":
        return pickle.dumps({"x": _Payload(marker)})
    if name == "garbage":
        return os.urandom(4096)
    if name == "truncated":
        return real[: len(real) // 2]
    if name == "wrong-format":
        return json.dumps({**envelope, "format": "something-else"}).encode()
    if name == "wrong-key":
        return json.dumps({**envelope, "key": "0" * 16}).encode()
    if name == "wrong-schema":
        # The right envelope around entries of every wrong shape.
        payload = dict(zip(envelope["payload"], _BAD_ENTRIES, strict=False))
        return json.dumps({**envelope, "payload": payload}).encode()
    if name == "deep":
        return _deep_json(200_000)
    if name == "not-a-dict":
        return b"[1, 2, 3]"
    raise AssertionError(name)


_BAD_ENTRIES: list[object] = [
    None,
    "digest",
    [1, 2, 3],
    ["digest", ["not", "facts"], None],
    ["x", {"__reduce__": "os.system"}, "!!!not base64!!!"],
    [0, None, None],
]

CRAFTED = [
    "pickle",
    "garbage",
    "truncated",
    "wrong-format",
    "wrong-key",
    "wrong-schema",
    "deep",
    "not-a-dict",
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Findings with no cache: through the CLI, and through flake8."""
    root = write_tree(tmp_path_factory.mktemp("reference"), SOURCES)
    expected_cli = _backlint(root, "--no-cache").stdout
    assert not (root / CACHE_DIR).exists()
    expected_flake8 = _flake8(root).stdout  # (the plugin has no --no-cache)
    assert "BKL301" in expected_cli and "BKL301" in expected_flake8
    return expected_cli, expected_flake8


def _real_cache(root: Path) -> dict[str, bytes]:
    """The cache files a run of the CLI and one of flake8 write in `root`."""
    _backlint(root)
    _flake8(root)
    files = {p.name: p.read_bytes() for p in _cache_files(root)}
    assert {name.split("-")[0] for name in files} == {"index", "findings"}
    return files


@pytest.mark.parametrize("front_end", ["cli", "flake8"])
@pytest.mark.parametrize("crafted", CRAFTED)
def test_a_crafted_cache_is_ignored(
    tmp_path: Path, reference: tuple[str, str], crafted: str, front_end: str
) -> None:
    expected_cli, expected_flake8 = reference
    root = write_tree(tmp_path / "project", SOURCES)
    files = _real_cache(root)
    marker = tmp_path / "executed"
    cache = root / CACHE_DIR
    for name, real in files.items():
        (cache / name).write_bytes(_crafted(crafted, marker, real))
        # The names an older release used too.
        (cache / name.replace(".json", ".pickle")).write_bytes(_crafted(crafted, marker, real))
    runs = [("cli", _backlint), ("flake8", _flake8)]
    if front_end == "flake8":
        runs.reverse()
    for front, run_front in runs:  # the front end under test first, on the crafted files
        run = run_front(root)
        assert "Traceback" not in run.stderr
        assert run.stdout == (expected_cli if front == "cli" else expected_flake8)
        assert not marker.exists(), "something in the cache was executed"
    # Once both have run, every crafted file was replaced by a valid one.
    for name, real in files.items():
        written = (cache / name).read_bytes()
        assert json.loads(written)["format"] == json.loads(real)["format"]
    assert not list(cache.glob("index-*.pickle"))


def test_a_huge_cache_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "index-0.json"
    with path.open("wb") as handle:  # sparse: no disk is used
        handle.truncate(MAX_CACHE_BYTES + 1)
    assert read_json(path, "backlint-index", "0") is None


def test_a_huge_cache_file_leaves_the_run_unchanged(
    tmp_path: Path, reference: tuple[str, str]
) -> None:
    expected_cli, _ = reference
    root = write_tree(tmp_path / "project", SOURCES)
    for name in _real_cache(root):
        with (root / CACHE_DIR / name).open("wb") as handle:
            handle.truncate(MAX_CACHE_BYTES + 1)
    run = _backlint(root)
    assert run.stdout == expected_cli
    assert "Traceback" not in run.stderr


# Modules that generate Python code from LibCST's own node classes (the
# walker's getters): the only `exec` in the package, on no input of the tree.
_GENERATES_CODE = {"semantics/tree.py"}


def test_no_pickle_marshal_or_eval_in_the_package() -> None:
    """Nothing in backlint deserialises code: no pickle, marshal or eval
    anywhere, and exec only where code is generated from LibCST's classes."""
    package = Path(__file__).resolve().parents[1] / "src" / "backlint"
    offenders = []
    for path in package.rglob("*.py"):
        relative = path.relative_to(package).as_posix()
        text = path.read_text(encoding="utf-8")
        needles = ["import pickle", "from pickle", "import marshal", "from marshal", " eval("]
        if relative not in _GENERATES_CODE:
            needles.append("exec(compile")
        offenders += [f"{relative}: {needle}" for needle in needles if needle in text]
    assert offenders == []


def test_concurrent_runs_never_misread_the_cache(tmp_path: Path) -> None:
    """Two runs at once on one tree, three times: each gives the findings of
    a run without cache, and the cache left behind is valid."""
    root = write_tree(tmp_path / "project", SOURCES)
    expected = _backlint(root, "--no-cache").stdout
    for _ in range(3):
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "backlint", "check", ".", "-j1"],
                cwd=root,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=clean_env(),
            )
            for _ in range(2)
        ]
        for run in runs:
            out, err = run.communicate(timeout=120)
            assert out == expected
            assert "Traceback" not in err
        for path in _cache_files(root):
            assert json.loads(path.read_bytes())["format"].startswith("backlint-")


# A project whose lint reads the methods of a class cached from another module
# (a DRF view's handlers: BKL403 asks whether the view writes).
LAZY_SOURCES = {
    "pyproject.toml": pyproject('select = ["ALL"]'),
    "api/__init__.py": "",
    "api/base.py": (
        "from rest_framework.views import APIView\n\n\n"
        "class BaseWriteView(APIView):\n"
        "    def post(self, request):\n"
        "        return None\n"
    ),
    "api/views.py": (
        "from api.base import BaseWriteView\n\n\n"
        "class OrderView(BaseWriteView):\n"
        "    permission_classes = []\n"
    ),
}


def _craft_methods(index_file: Path) -> int:
    """Replace every cached method by a malformed one, the rest of the entry
    (and the envelope) left valid; the number of methods replaced."""
    document = json.loads(index_file.read_bytes())
    replaced = 0
    for entry in document["payload"]["files"].values():
        for cls in entry[1][5] if entry[1] else ():
            replaced += len(cls[7])
            cls[7] = [["not", "a", "method"] for _ in cls[7]]
    index_file.write_text(json.dumps(document))
    return replaced


def _backlint_parallel(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module(root, "backlint", "check", ".", "-j2", *args, timeout=120)


@pytest.mark.parametrize("front_end", ["cli", "cli-workers", "flake8"])
def test_a_malformed_method_decoded_late_restarts_without_the_cache(
    tmp_path: Path, front_end: str
) -> None:
    """Methods are decoded on first use (`LazyMethods`): one that is
    malformed surfaces mid-run (in a worker too), and the run starts over
    without the cache, with the findings of a run that had none."""
    sources = dict(LAZY_SOURCES)
    if front_end == "cli-workers":  # enough files for a process pool
        sources |= {f"api/m{i}.py": "from api.base import BaseWriteView\n" for i in range(20)}
    root = write_tree(tmp_path / "project", sources)
    run_front = {"cli": _backlint, "cli-workers": _backlint_parallel, "flake8": _flake8}[front_end]
    expected = run_front(root, "--no-cache").stdout if front_end != "flake8" else None
    if expected is None:
        expected = run_front(root).stdout  # (the plugin has no --no-cache)
        shutil.rmtree(root / CACHE_DIR)
    assert "BKL" in expected
    run_front(root)
    (index_file,) = (root / CACHE_DIR).glob("index-*.json")
    assert _craft_methods(index_file) >= 1
    for findings in (root / CACHE_DIR).glob("findings-*.json"):
        findings.unlink()  # every file is linted again, from the crafted index
    crafted = index_file.read_bytes()
    run = run_front(root)
    assert "Traceback" not in run.stderr
    assert run.stdout == expected
    assert index_file.read_bytes() != crafted, "the crafted methods were never read"
    assert _craft_methods(index_file) >= 1  # rewritten whole, methods valid again


def test_lazy_methods_decode_on_first_use_and_behave_as_a_tuple() -> None:
    import ast

    from backlint.engine.cache_store import StaleFacts
    from backlint.semantics.facts import summarise
    from backlint.semantics.facts_codec import LazyMethods, decode_module, encode_module

    source = "class View:\n    def get(self):\n        return 1\n\n    def post(self): ...\n"
    facts = summarise(ast.parse(source), "app.views", "app/views.py", False)
    lazy = decode_module(encode_module(facts), lazy=True)
    methods = lazy.classes["View"].methods
    assert isinstance(methods, LazyMethods)
    assert len(methods) == 2 and methods._items is None  # counted, not decoded
    assert lazy == facts and hash(lazy.classes["View"]) == hash(facts.classes["View"])
    assert [m.name for m in methods] == ["get", "post"] and methods[1].name == "post"
    assert pickle.loads(pickle.dumps(methods)) == facts.classes["View"].methods
    encoded = encode_module(facts)
    encoded[5][0][7][0] = ["not", "a", "method"]
    broken = decode_module(encoded, lazy=True)  # the class itself decodes
    with pytest.raises(StaleFacts):
        list(broken.classes["View"].methods)
