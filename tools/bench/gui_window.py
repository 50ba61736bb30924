"""What the GUI benchmarks share: the real window, offscreen, and waiting on it.

Imported only by a measuring child process (it loads Qt and the whole ui package).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ui.log_model import LogModel
from ui.main_window import MainWindow
from ui.session_model import SessionModel
from ui.supervisor import EngineSupervisor
from ui.tick_probe import TickProbe

__all__ = ["open_window", "poll"]


def open_window(log_cap: int) -> tuple[Any, EngineSupervisor, MainWindow]:
    """The application, an engine supervisor (not started) and the shown main window,
    whose log holds ``log_cap`` rows and whose circle asks for 25 ms ticks."""
    app = QApplication.instance() or QApplication([])
    supervisor = EngineSupervisor()
    window = MainWindow(
        supervisor, log_model=LogModel(cap=log_cap), session_model=SessionModel(),
        probe=TickProbe(0.025),
    )  # fmt: skip
    window.show()
    gc.freeze()  # as ui.app.main does before entering the event loop
    return app, supervisor, window


def poll(
    window: MainWindow,
    cond: Callable[[], object],
    then: Callable[[], None],
    on_timeout: Callable[[], None],
    timeout_s: float,
) -> None:
    """Call ``then`` once ``cond()`` holds (checked every 5 ms from the event loop), or
    ``on_timeout`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    timer = QTimer(window)

    def check() -> None:
        if cond():
            timer.stop()
            then()
        elif time.monotonic() > deadline:
            timer.stop()
            on_timeout()

    timer.timeout.connect(check)
    timer.start(5)
