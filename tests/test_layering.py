"""Imports go one way (docs/design.md, "Packages"): ``engine`` never loads PySide6, ``ui`` never
loads trio, and the core of ``ipc`` loads neither. Each check imports in a fresh
interpreter, so what another test imported cannot hide a violation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Imports every module of the named packages (except __main__, which would run) or the
# named modules, then prints which of the forbidden top-level packages got loaded.
PROBE = """
import importlib, json, pkgutil, sys
targets, forbidden = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for name in targets:
    module = importlib.import_module(name)
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), name + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
print(json.dumps(sorted(m for m in forbidden if m in sys.modules)))
"""


def loaded(targets: list[str], forbidden: list[str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(targets), json.dumps(forbidden)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("targets", "forbidden"),
    [
        (["engine"], ["PySide6", "shiboken6"]),
        (["ui"], ["trio"]),
        (
            [
                "ipc.schema",
                "ipc.codec",
                "ipc.errors",
                "ipc.framing",
                "ipc.diagnosis",
                "ipc.recording",
                "ipc.text",
                "ipc.pcapng",
                "ipc.payload_text",
                "ipc.cli_args",
                "ipc.socket_path",
            ],
            ["trio", "PySide6", "shiboken6"],
        ),
        (["decoders"], ["trio", "PySide6", "shiboken6"]),
        (["exchanges"], ["trio", "PySide6", "shiboken6"]),
    ],
    ids=[
        "engine-without-qt",
        "ui-without-trio",
        "ipc-core-without-either",
        "decoders-without-either",
        "exchanges-without-either",
    ],
)
def test_imports_go_one_way(targets, forbidden):
    assert loaded(targets, forbidden) == []


def test_the_probe_notices_a_forbidden_import():
    # Guards the guard: if the probe were broken, every layering check would pass.
    assert loaded(["engine.session"], ["trio", "PySide6"]) == ["trio"]
