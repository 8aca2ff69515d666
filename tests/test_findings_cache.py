"""The findings cache: a warm run gives exactly what a run without cache
gives, on every fixture, and whatever changed since the cache was written
(the file, a fact of another file, the configuration, a rule option,
backlint's version, a deleted file, a corrupted cache)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_tree
from harness import Fixture, clean_env, discover_fixtures, prepare, run_module

from backlint.config import load_config
from backlint.engine import findings_cache
from backlint.engine.cache_store import CACHE_DIR
from backlint.engine.check import check, settings_for
from backlint.types import Finding

MODELS = (
    "from django.db import models\n\n\n"
    "class Customer(models.Model):\n"
    "    name = models.CharField(max_length=10)\n\n\n"
    "class Order(models.Model):\n"
    "    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)\n"
)
VIEWS = (
    "from shop.models import Order\n\n\n"
    "def names(request):\n"
    "    return [o.customer.name for o in Order.objects.all()]\n"
)
PROJECT = {
    "pyproject.toml": '[tool.backlint]\nselect = ["ALL"]\n',
    "shop/__init__.py": "",
    "shop/models.py": MODELS,
    "shop/views.py": VIEWS,
    "shop/other.py": "def helper(x):\n    return x\n",
}


def run(root: Path, *, cache: bool = True, jobs: int = 1) -> list[Finding]:
    config = load_config(root)
    settings = settings_for(config)
    return check([root], config, settings, cwd=root, jobs=jobs, use_cache=cache).findings


def same(a: list[Finding], b: list[Finding]) -> bool:
    return [(f, f.message, f.fix) for f in a] == [(f, f.message, f.fix) for f in b]


def codes(findings: list[Finding]) -> list[tuple[str, int, str]]:
    return [(f.path, f.line, f.code) for f in findings]


@pytest.mark.parametrize("fixture", discover_fixtures(), ids=lambda f: f.id)
def test_warm_runs_equal_runs_without_cache_on_every_fixture(
    fixture: Fixture, tmp_path: Path
) -> None:
    project = prepare(fixture, tmp_path)
    root = project.root
    expected = run(root, cache=False)
    assert not (root / CACHE_DIR).exists()
    cold = run(root)
    warm = run(root)
    assert same(cold, expected) and same(warm, expected)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "shop-project", PROJECT)
    run(root)  # the cache is written
    return root


def test_an_unchanged_tree_is_answered_without_the_index(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backlint.engine import index as index_module

    expected = run(shop, cache=False)

    def no_index(*args: object, **kwargs: object) -> object:
        raise AssertionError("the index was built on a fully warm run")

    monkeypatch.setattr(index_module, "build_index", no_index)
    assert same(run(shop), expected)


WHAT_WAS_IMPORTED = """
import sys
from backlint.cli import main
try:
    main(["check", "--exit-zero", "."])
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m == "libcst" or m.startswith("backlint.rules."))
print("IMPORTED", ",".join(heavy) or "-")
"""


def _imported(root: Path) -> list[str]:
    """LibCST and the rule modules a `backlint check .` in its own process imports."""
    out = subprocess.run(
        [sys.executable, "-c", WHAT_WAS_IMPORTED],
        cwd=root,
        capture_output=True,
        text=True,
        env=clean_env(),
        check=True,
        timeout=180,
    ).stdout
    return out.rsplit("IMPORTED ", 1)[1].split()[0].split(",")


def test_a_fully_warm_run_imports_neither_libcst_nor_a_rule(shop: Path) -> None:
    primed = run_module(shop, "backlint", "check", "--exit-zero", ".")
    assert primed.returncode == 0, primed.stderr
    assert _imported(shop) == ["-"]
    # Not vacuous: with a file changed, the rules and LibCST are loaded.
    (shop / "shop/other.py").write_text("def helper(x: int) -> int:\n    return x + 1\n")
    imported = _imported(shop)
    assert "libcst" in imported
    assert any(m.startswith("backlint.rules.") for m in imported)


def test_a_changed_file(shop: Path) -> None:
    (shop / "shop/other.py").write_text("def helper(x: int) -> int:\n    return x\n")
    assert same(run(shop), run(shop, cache=False))
    assert "shop/other.py" not in {f.path for f in run(shop)}


def test_a_body_edit_elsewhere_relints_only_that_file(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    linted = _linted(monkeypatch)
    (shop / "shop/other.py").write_text("def helper(x):\n    # why\n\n    print(x)\n    return x\n")
    warm = run(shop)
    assert linted == ["shop/other.py"]
    assert same(warm, run(shop, cache=False))
    linted.clear()
    run(shop)  # warm again: nothing linted
    assert linted == []


def test_a_changed_fact_in_another_file(shop: Path) -> None:
    before = codes(run(shop))
    assert ("shop/views.py", 5, "BKL301") in before
    # customer is no longer a relation: views.py's finding goes, though
    # views.py did not change.
    (shop / "shop/models.py").write_text(
        MODELS.replace(
            "models.ForeignKey(Customer, on_delete=models.CASCADE)",
            "models.CharField(max_length=5)",
        )
    )
    after = run(shop)
    assert same(after, run(shop, cache=False))
    assert ("shop/views.py", 5, "BKL301") not in codes(after)


def _linted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files a run lints (not taken from the findings cache)."""
    from backlint.engine import runner

    linted: list[str] = []
    real = runner.lint_many

    def spy(files: list[object], *args: object) -> object:
        linted.extend(str(f.display) for f in files)  # type: ignore[attr-defined]
        return real(files, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "lint_many", spy)
    return linted


def test_a_changed_fact_relints_only_the_files_that_depend_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_tree(
        tmp_path / "p",
        {**PROJECT, "shop/text.py": "def shout(word: str) -> str:\n    return word.upper()\n"},
    )
    run(root)
    linted = _linted(monkeypatch)
    # A new signature in other.py: a fact, but of no model. text.py read
    # nothing of other.py, views.py read the model graph, which is unchanged.
    (root / "shop/other.py").write_text("def helper(x: int, y: int = 0) -> int:\n    return x\n")
    warm = run(root)
    assert linted == ["shop/other.py"]
    assert same(warm, run(root, cache=False))
    linted.clear()
    assert same(run(root), warm)  # the entries revalidated are taken as they are
    assert linted == []
    # A model's field: the graph changes, and views.py (which reads it) with it.
    (root / "shop/models.py").write_text(MODELS + "    note = models.TextField()\n")
    warm = run(root)
    assert "shop/views.py" in linted and "shop/text.py" not in linted
    assert same(warm, run(root, cache=False))


def test_dependency_keys_digest_what_the_file_read(tmp_path: Path) -> None:
    from backlint.engine.dependencies import Dependencies, keys_of
    from backlint.engine.files import discover
    from backlint.engine.index import build_index
    from backlint.semantics.index import recording

    tree = {
        "pkg/__init__.py": "",
        "pkg/a.py": "def helper(x):\n    return x\n",
        "pkg/c.py": "def other():\n    return 1\n",
    }
    root = write_tree(tmp_path / "deps", tree)

    def index_now() -> Dependencies:
        files = discover([root], root, [], root)
        built = build_index(files, None, None, root)
        # Without an index cache no facts digest is computed: build one.
        from backlint.engine.index import collect

        modules = {f.module: collect(f).facts_digest for f in files}
        return Dependencies(built.index, modules)

    deps = index_now()
    with recording() as reads:
        assert deps.index.find_function("pkg.a.helper") is not None
    keys = keys_of(reads)
    assert keys is not None and "m:pkg.a" in keys and "m:pkg.c" not in keys
    before = deps.digest(keys)
    (root / "pkg/c.py").write_text("def other(y):\n    return y\n")
    assert index_now().digest(keys) == before  # c.py: not read
    (root / "pkg/a.py").write_text("def helper(x, y):\n    return x\n")
    assert index_now().digest(keys) != before  # a.py's facts: read
    assert index_now().digest(["v:no.such.view"]) is None  # a view of another version


def test_reads_of_the_whole_index_have_no_keys(tmp_path: Path) -> None:
    from backlint.engine.dependencies import keys_of
    from backlint.semantics.celery import celery_project
    from backlint.semantics.django import django_models, relation_names
    from backlint.semantics.index import ProjectIndex, recording

    index = ProjectIndex([])
    with recording() as reads:
        list(index.modules.values())
    assert keys_of(reads) is None
    with recording() as reads:
        index.view(lambda index: object())  # a view of no kind declared
    assert keys_of(reads) is None
    with recording() as reads:
        index.view(celery_project)  # data
    assert keys_of(reads) == ["v:backlint.semantics.celery.celery_project"]
    with recording() as reads:
        index.view(django_models)  # tracked: its state, and what it reads later
    assert keys_of(reads) == ["v:backlint.semantics.django.django_models"]
    with recording() as reads:
        index.view(relation_names)  # data: built (from the model graph) unrecorded
        assert "x" not in index.modules
        sorted(index.modules)
    assert keys_of(reads) == ["m:x", "n", "v:backlint.semantics.django.relation_names"]


def test_a_memo_replays_the_reads_that_filled_it() -> None:
    from backlint.engine.dependencies import keys_of
    from backlint.semantics.index import Once, ProjectIndex, recording

    index = ProjectIndex([])
    once: Once[bool] = Once()
    with recording() as first:
        assert once.get(lambda: "settings" in index.modules) is False
    with recording() as second:  # a later file: the memo answers, and says why
        assert once.get(lambda: True) is False
    assert keys_of(first) == keys_of(second) == ["m:settings"]


def test_drf_classes_replay_what_their_memos_read(tmp_path: Path) -> None:
    from backlint.engine.dependencies import keys_of
    from backlint.engine.files import discover
    from backlint.engine.index import build_index
    from backlint.semantics.drf import drf_classes
    from backlint.semantics.index import recording

    root = write_tree(
        tmp_path / "api",
        {
            "api/__init__.py": "",
            "api/base.py": "from rest_framework import viewsets\n\n\n"
            "class Base(viewsets.ModelViewSet):\n    pass\n",
            "api/views.py": "from api.base import Base\n\n\nclass Orders(Base):\n    pass\n",
        },
    )
    index = build_index(discover([root], root, [], root), None, None, root).index
    answers = []
    for _ in range(2):  # the second file is answered by the memos
        with recording() as reads:
            answers.append(index.view(drf_classes).mro("api.views.Orders"))
        keys = keys_of(reads)
        assert keys is not None and {"m:api.views", "m:api.base"} <= set(keys)
    assert answers[0] == answers[1] and "api.base.Base" in answers[0]


def test_entries_with_malformed_dependency_keys_are_misses(shop: Path) -> None:
    (path,) = (shop / CACHE_DIR).glob("findings-*.json")
    data = json.loads(path.read_text())
    files = data["payload"]["files"]
    for key, entry in files.items():
        # Stale index digest: only the keys could make the entry valid.
        files[key] = [entry[0], "stale", entry[2], [1, 2], "x"]
    path.write_text(json.dumps(data))
    (shop / "shop/other.py").write_text("def helper(x: int) -> int:\n    return x\n")
    assert same(run(shop), run(shop, cache=False))


def test_a_changed_configuration(shop: Path) -> None:
    (shop / "pyproject.toml").write_text('[tool.backlint]\nselect = ["BKL3"]\n')
    findings = run(shop)
    assert same(findings, run(shop, cache=False))
    assert {f.code for f in findings} == {"BKL301"}


def test_a_changed_rule_option(shop: Path) -> None:
    # By default BKL801 judges entry points only; "public" adds the helper.
    assert ("shop/other.py", 1, "BKL801") not in codes(run(shop))
    (shop / "pyproject.toml").write_text(
        '[tool.backlint]\nselect = ["ALL"]\n\n'
        '[tool.backlint.missing-param-annotation]\nscope = "public"\n'
    )
    findings = run(shop)
    assert same(findings, run(shop, cache=False))
    assert ("shop/other.py", 1, "BKL801") in codes(findings)


def test_a_new_backlint_version(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = {p.name for p in (shop / CACHE_DIR).glob("findings-*")}
    monkeypatch.setattr(findings_cache, "__version__", "99.0.0")
    findings = run(shop)
    assert same(findings, run(shop, cache=False))
    assert {p.name for p in (shop / CACHE_DIR).glob("findings-*")} - stored  # a new file


def test_a_deleted_file(shop: Path) -> None:
    (shop / "shop/models.py").unlink()
    findings = run(shop)
    assert same(findings, run(shop, cache=False))
    assert "shop/models.py" not in {f.path for f in findings}
    assert ("shop/views.py", 5, "BKL301") not in codes(findings)


def test_a_corrupted_cache(shop: Path) -> None:
    for path in (shop / CACHE_DIR).glob("*-*.json"):
        data = json.loads(path.read_text())
        # Every entry made wrong in shape: digests of the right files, garbage findings.
        files = data["payload"].get("files")
        if isinstance(files, dict):
            for key in files:
                files[key] = [files[key][0], files[key][1], [["not", "a", "finding"]]]
        path.write_text(json.dumps(data))
    assert same(run(shop), run(shop, cache=False))


def test_parallel_and_serial_runs_share_the_cache(shop: Path) -> None:
    expected = run(shop, cache=False)
    assert same(run(shop, jobs=2), expected)
    assert same(run(shop, jobs=1), expected)


# The index cache: a base file and a delta of the entries changed since -------


def _summarised(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the index pass summarises afresh (not taken from its cache)."""
    from backlint.engine import index

    done: list[str] = []
    real = index.collect

    def spy(file: object, digests: bool = True) -> object:
        done.append(Path(str(file.path)).name)  # type: ignore[attr-defined]
        return real(file, digests)  # type: ignore[arg-type]

    monkeypatch.setattr(index, "collect", spy)
    return done


def _index_files(root: Path) -> tuple[Path, Path]:
    (base,) = (root / CACHE_DIR).glob("index-*.json")
    return base, base.with_name(base.name.replace("index-", "indexdelta-"))


def test_an_edit_writes_only_the_index_delta(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, delta = _index_files(shop)
    written = base.read_bytes()
    assert not delta.exists()
    summarised = _summarised(monkeypatch)
    (shop / "shop/other.py").write_text("def helper(x: int) -> int:\n    return x * 2\n")
    warm = run(shop)
    assert summarised == ["other.py"]
    assert same(warm, run(shop, cache=False))
    assert base.read_bytes() == written  # the megabytes of facts are not rewritten
    payload = json.loads(delta.read_text())["payload"]
    assert payload["base"] == json.loads(written)["payload"]["token"]
    assert [Path(p).name for p in payload["files"]] == ["other.py"]
    summarised.clear()
    (shop / "shop/views.py").write_text(VIEWS + "\n\ndef more(request):\n    return None\n")
    run(shop)  # the delta is read: only the newly edited file is summarised
    assert summarised == ["views.py"]
    assert sorted(Path(p).name for p in json.loads(delta.read_text())["payload"]["files"]) == [
        "other.py",
        "views.py",
    ]


def test_a_delta_of_another_base_is_ignored(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, delta = _index_files(shop)
    (shop / "shop/other.py").write_text("def helper(x: int) -> int:\n    return x * 2\n")
    run(shop)
    data = json.loads(delta.read_text())
    data["payload"]["base"] = "0" * 16  # as if a concurrent run had rewritten the base
    delta.write_text(json.dumps(data))
    summarised = _summarised(monkeypatch)
    (shop / "shop/views.py").write_text(VIEWS + "\n# edited\n")  # the index is needed
    warm = run(shop)
    assert sorted(summarised) == ["other.py", "views.py"]  # other.py's entry was the delta's
    assert same(warm, run(shop, cache=False))


@pytest.mark.parametrize("crafted", ["garbage", "wrong-shape", "not-a-dict"])
def test_a_crafted_delta_is_ignored(shop: Path, crafted: str) -> None:
    _, delta = _index_files(shop)
    (shop / "shop/other.py").write_text("def helper(x: int) -> int:\n    return x * 2\n")
    run(shop)
    data = json.loads(delta.read_text())
    if crafted == "garbage":
        delta.write_bytes(b"\x00\xff" * 100)
    elif crafted == "not-a-dict":
        delta.write_text("[1, 2, 3]")
    else:
        data["payload"]["files"] = {p: ["x", None, 1] for p in data["payload"]["files"]}
        delta.write_text(json.dumps(data))
    assert same(run(shop), run(shop, cache=False))


def test_a_large_delta_rewrites_the_base(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from backlint.engine.index import IndexCache

    monkeypatch.setattr(IndexCache, "DELTA_MIN", 0)  # a delta of 4 files may hold none
    base, delta = _index_files(shop)
    token = json.loads(base.read_text())["payload"]["token"]
    (shop / "shop/other.py").write_text("def helper(x: int) -> int:\n    return x * 2\n")
    assert same(run(shop), run(shop, cache=False))
    assert not delta.exists()
    assert json.loads(base.read_text())["payload"]["token"] != token


def test_flake8_workers_keep_each_others_entries(tmp_path: Path) -> None:
    """flake8 -j2's workers each merge their entries into the findings file;
    under a lock, none is lost, and the next run is answered from the cache."""
    tree = {"pyproject.toml": "[tool.backlint]\n", "pkg/__init__.py": ""}
    for i in range(60):
        tree[f"pkg/m{i}.py"] = f"def f{i}(x):\n    return x + {i}\n"
    root = write_tree(tmp_path / "many", tree)
    done = run_module(root, "flake8", "--select", "BKL", "-j2", ".", timeout=300)
    assert "Traceback" not in done.stderr
    (stored,) = (root / CACHE_DIR).glob("findings-*.json")
    files = json.loads(stored.read_text())["payload"]["files"]
    assert {Path(p).name for p in files} >= {f"m{i}.py" for i in range(60)}


def test_concurrent_merges_lose_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes' saves at once (flake8's workers): the read-merge-write
    is locked, so the second merge sees the first's entries."""
    import threading
    import time

    root = write_tree(tmp_path / "p", {"pyproject.toml": "[tool.backlint]\n", "a.py": ""})
    settings = settings_for(load_config(root))
    real_read = findings_cache.read_json

    def slow_read(*args: object) -> object:
        found = real_read(*args)  # type: ignore[arg-type]
        time.sleep(0.3)  # both would read the file before either wrote it
        return found

    monkeypatch.setattr(findings_cache, "read_json", slow_read)
    caches = [findings_cache.FindingsCache(root, settings, root, "flake8") for _ in range(2)]
    for i, cache in enumerate(caches):
        cache.put(f"/x/f{i}.py", "hash", "index", [])
    threads = [
        threading.Thread(target=c.merge_save, args=("project", "index", {"/x/f0.py", "/x/f1.py"}))
        for c in caches
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (stored,) = (root / CACHE_DIR).glob("findings-*.json")
    assert set(json.loads(stored.read_text())["payload"]["files"]) == {"/x/f0.py", "/x/f1.py"}


def test_an_index_built_without_a_cache_computes_no_digests(tmp_path: Path) -> None:
    """Digests only key caches: without one (`--no-cache`) none is computed,
    and with one every summarised file has its facts digest."""
    from backlint.engine.files import discover
    from backlint.engine.index import IndexCache, build_index

    root = write_tree(tmp_path / "p", {"app/__init__.py": "", "app/m.py": "X = 1\n"})
    files = discover([root], root, [], root)
    bare = build_index(files, None, None)
    assert bare.digest == "" and "app.m" in bare.index.modules
    cached = build_index(files, None, IndexCache(root))
    assert len(cached.digest) == 32
    assert bare.index.modules["app.m"] == cached.index.modules["app.m"]
