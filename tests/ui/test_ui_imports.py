"""``ui`` never imports trio -- every module of it, not only the package (docs/design.md)."""

import json
import pkgutil
import subprocess
import sys

import ui
import ui.widgets


def test_no_ui_module_loads_trio():
    modules = sorted(
        f"{pkg.__name__}.{info.name}"
        for pkg in (ui, ui.widgets)
        for info in pkgutil.iter_modules(pkg.__path__)
        if info.name != "__main__"
    )
    assert "ui.app" in modules and "ui.widgets.pulse" in modules
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'trio')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []
