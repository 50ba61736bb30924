"""Guard for the ``PySide6-Essentials<6.12`` cap (pyproject.toml).

PySide6 6.12.0 on CPython 3.11 takes a reference from ``None`` on every void Qt call;
after a few thousand calls ``None``'s count reaches zero and the interpreter aborts with
"Fatal Python error: none_dealloc". This makes 100,000 void calls in a fresh interpreter
(so a crash fails this test instead of killing the run) and checks that the count of
``None`` did not fall. When it passes on a newer PySide6, the cap can be lifted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

CALLS = 100_000

PROBE = f"""
import gc, json, sys
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication, QLabel, QPlainTextEdit

app = QApplication([])
obj, label, edit = QObject(), QLabel(), QPlainTextEdit()
calls = (
    lambda: obj.setObjectName("framewire"),
    lambda: label.setText("hello"),
    lambda: edit.setReadOnly(True),
    lambda: label.setWordWrap(False),
)
gc.collect()
before = sys.getrefcount(None)
for i in range({CALLS} // len(calls)):
    for call in calls:
        call()
gc.collect()
after = sys.getrefcount(None)
import PySide6
print(json.dumps({{"before": before, "after": after, "version": PySide6.__version__}}))
"""

#: Unrelated churn (frames, caches) moves None's count by a few dozen; the bug moves it
#: by one per call.
SLACK = 1_000


def test_void_qt_calls_do_not_take_references_from_none():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"the probe crashed:\n{result.stderr[-2000:]}"
    counts = json.loads(result.stdout.splitlines()[-1])
    assert counts["after"] >= counts["before"] - SLACK, counts
