"""backlint never imports or runs the code it lints, and never uses the
network: a tree whose modules, conftest.py, settings, __init__.py and
manage.py create a marker file when imported stays unmarked after a run of
the CLI (check, --fix, every format) and of the flake8 plugin, with every
rule selected; and no process of the run opens a socket to anywhere."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import pyproject, write_tree
from harness import clean_env, run_module

# Imported by every module of the tree: creates the marker when it runs.
_TRAP = textwrap.dedent(
    """
    import pathlib as _p
    _p.Path({marker!r}).write_text(__name__)
    """
)

# Run in each process of the run (sitecustomize): any socket connection or
# DNS lookup fails the run loudly instead of reaching out.
_NO_NETWORK = textwrap.dedent(
    """
    import socket, sys

    def _refuse(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                     "socket.sendto", "socket.bind"):
            family = getattr(args[0], "family", None) if args else None
            if family == getattr(socket, "AF_UNIX", -1):
                return  # a local pipe of multiprocessing is not the network
            with open({log!r}, "a") as handle:
                handle.write(f"{{event}} {{args!r}}\\n")
            raise OSError("backlint must not use the network")

    sys.addaudithook(_refuse)
    """
)


def _tree(root: Path, marker: Path) -> Path:
    trap = _TRAP.format(marker=str(marker))
    return write_tree(
        root,
        {
            "pyproject.toml": pyproject('select = ["ALL"]'),
            "manage.py": trap + "import shop.settings\n",
            "conftest.py": trap,
            "shop/__init__.py": trap,
            "shop/settings.py": trap + 'SECRET_KEY = "s3cr3t-value-for-tests"\nDEBUG = True\n',
            "shop/models.py": trap
            + "from django.db import models\n\n\nclass Order(models.Model):\n"
            "    customer = models.ForeignKey('Customer', on_delete=models.CASCADE)\n",
            "shop/views.py": trap + "from shop.models import Order\n\n\ndef names(request):\n"
            "    return [o.customer.name for o in Order.objects.all()]\n",
            "api/__init__.py": trap,
            "api/main.py": trap
            + "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get('/items')\n"
            "def items(q):\n    return {'q': q}\n",
            "tests/test_views.py": trap + "def test_x():\n    assert True\n",
        },
    )


def _run(root: Path, tmp: Path, *command: str) -> subprocess.CompletedProcess[str]:
    site = tmp / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        _NO_NETWORK.format(log=str(tmp / "network.log")), encoding="utf-8"
    )
    env = clean_env()
    env["PYTHONPATH"] = str(site)
    return run_module(root, *command, env=env)


@pytest.mark.parametrize(
    "command",
    [
        ("backlint", "check", "."),
        ("backlint", "check", ".", "-j2", "--no-cache"),
        ("backlint", "check", ".", "--format", "sarif"),
        ("backlint", "check", ".", "--fix", "--unsafe-fixes"),
        ("backlint", "check", "shop/views.py"),
        ("flake8", "--select", "BKL", "."),
    ],
    ids=["check", "parallel", "sarif", "fix", "one-file", "flake8"],
)
def test_linted_code_is_never_imported_and_no_network_is_used(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    marker = tmp_path / "imported"
    root = _tree(tmp_path / "project", marker)
    run = _run(root, tmp_path, *command)
    assert run.returncode in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    assert "BKL" in run.stdout or command[-1] == "--unsafe-fixes"
    assert not marker.exists(), f"linted code ran: {marker.read_text()}"
    assert not (tmp_path / "network.log").exists(), (tmp_path / "network.log").read_text()


def test_the_network_guard_would_catch_a_connection(tmp_path: Path) -> None:
    """The guard itself works: a process that connects is caught."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "probe.py").write_text(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), 1)\n"
        "except OSError:\n    pass\n",
        encoding="utf-8",
    )
    _run(root, tmp_path, "probe")
    assert (tmp_path / "network.log").exists()


def test_the_import_trap_would_catch_an_import(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    root = _tree(tmp_path / "project", marker)
    _run(root, tmp_path, "shop.views")
    assert marker.exists()
