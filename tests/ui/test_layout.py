"""The window's layout on a small screen (a real engine, killed so the banner shows)."""

from __future__ import annotations

import os
import signal

from ui.supervisor import EngineState

from .conftest import ENGINE_START_TIMEOUT_MS

SMALL_SCREEN = (1024, 640)


def test_fits_a_small_screen_with_the_banner_and_the_log_gets_the_most(qtbot, window):
    supervisor = window.supervisor
    with qtbot.waitSignal(supervisor.engine_crashed, timeout=10_000):
        os.kill(supervisor.pid, signal.SIGKILL)
    qtbot.waitUntil(
        lambda: supervisor.status.state is EngineState.READY, timeout=ENGINE_START_TIMEOUT_MS
    )
    assert window.banner.isVisible()  # the crash report stays until dismissed
    window.resize(*SMALL_SCREEN)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == SMALL_SCREEN, timeout=2000)
    status_bar = window.statusBar()
    qtbot.waitUntil(lambda: window.rect().contains(status_bar.geometry()), timeout=2000)
    assert status_bar.isVisible() and window.status_label.isVisible()
    log_box, session_box, compose_box = (
        window.log_panel.parentWidget(),
        window.sessions.parentWidget(),
        window.compose.parentWidget(),
    )
    assert log_box.height() > max(session_box.height(), compose_box.height())
    rows = window.log_panel.table.verticalHeader().defaultSectionSize()
    assert window.log_panel.table.viewport().height() >= 5 * rows

    # The relay form's second row and a note under it too: the window still fits (it
    # needed 683 px, the status bar below the screen's edge).
    window.sessions.mode.setCurrentText("Relay")
    window.sessions.show_note("listening on 127.0.0.1:41633")
    qtbot.waitUntil(lambda: window.sessions.upstream_host.isVisible(), timeout=10_000)
    assert window.minimumSizeHint().height() <= SMALL_SCREEN[1]
    # (Offscreen fonts are smaller than a desktop's, so also:) the log's minimum is its
    # table's, not that of the fields and the dump beside it
    log = window.log_panel
    table_needs = log.table.minimumSizeHint().height()
    assert log.splitter.minimumSizeHint().height() <= table_needs + 2 * rows
    qtbot.waitUntil(lambda: window.rect().contains(status_bar.geometry()), timeout=10_000)
    assert (window.width(), window.height()) == SMALL_SCREEN
    assert window.log_panel.table.viewport().height() >= 3 * rows


def test_the_log_table_gets_most_of_the_width_and_the_peer_column_the_spare(qtbot, window):
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.width() == 1280, timeout=2000)
    table, detail = window.log_panel.table, window.log_panel.detail
    assert table.width() >= 0.6 * (table.width() + detail.width())
    sessions = window.sessions.table
    widths = [sessions.columnWidth(c) for c in range(sessions.model().columnCount())]
    metrics = sessions.fontMetrics()
    # Peer (host names vary in length) takes the spare width, not the last column.
    assert widths[1] == max(widths) and widths[1] > metrics.horizontalAdvance("127.0.0.1:65535")
    assert widths[-1] < metrics.horizontalAdvance("Frames/s out") + 40
    host = window.sessions.host
    assert host.fontMetrics().horizontalAdvance("127.0.0.1") < host.width() < window.width() / 5
