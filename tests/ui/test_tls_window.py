"""TLS in the window: the open form's TLS rows, the lock, the log's marks and the TLS
details, against a real engine whose TLS listener uses the trustme certificates of
tests/tls_certs.py (real sockets on 127.0.0.1, real handshakes)."""

from __future__ import annotations

import subprocess

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor

from ipc import schema
from ipc.tls import ClientTls
from tests.tls_certs import Certs
from tools.demo_server import spawn_demo_server
from ui import window_settings
from ui.log_model import COL_SESSION, LogModel
from ui.log_store import Direction
from ui.main_window import MainWindow
from ui.session_model import SessionInfo, SessionModel
from ui.supervisor import EngineSupervisor
from ui.tick_probe import TickProbe
from ui.widgets.session_panel import SessionPanel

from .conftest import ENGINE_START_TIMEOUT_MS, stop_supervisor
from .helpers import payloads, send_text

TIMEOUT_MS = 10_000
RED = QColor("#b71c1c")


def _click_open(qtbot, panel: SessionPanel) -> None:
    """Press the form's button once it is back (it waits for the last request's answer,
    which may come after the events that made its row)."""
    qtbot.waitUntil(panel.open_button.isEnabled, timeout=TIMEOUT_MS)
    panel.open_button.click()


def _listen_tls(qtbot, window: MainWindow, certs: Certs, *, echo: bool = True) -> SessionInfo:
    """Listen over TLS through the form (any free port); the listener's row."""
    panel, model = window.sessions, window.session_model
    known = {i.session_id for i in model.sessions() if i.kind == "listener"}
    panel.mode.setCurrentText("Listen")
    panel.tls.setChecked(True)
    assert panel.server_tls.isVisible() and not panel.client_tls.isVisible()
    panel.server_tls.cert.setText(str(certs.good))
    panel.echo.setChecked(echo)
    panel.port.setValue(0)
    _click_open(qtbot, panel)

    def listener() -> SessionInfo | None:
        new = [i for i in model.sessions() if i.kind == "listener" and i.session_id not in known]
        return new[0] if new else None

    qtbot.waitUntil(lambda: listener() is not None, timeout=TIMEOUT_MS)
    found = listener()
    assert found is not None and found.serves_tls
    return found


def _port(info: SessionInfo) -> int:
    return int(info.peer_text.split(" ")[0].rpartition(":")[2])


def _peer(model: SessionModel, info: SessionInfo, role: Qt.ItemDataRole) -> object:
    row = next(r for r in range(model.rowCount()) if model.session_at(r) is info)
    return model.data(model.index(row, 1), role)


def open_session(qtbot, window: MainWindow, host: str, port: int) -> SessionInfo:
    """Open a client session through the form; wait until it is connected and selected
    (the window's own listeners accept sessions of their own meanwhile)."""
    panel, model = window.sessions, window.session_model
    before = {(s.generation, s.kind, s.session_id) for s in model.sessions()}
    panel.host.setText(host)
    panel.port.setValue(port)
    _click_open(qtbot, panel)

    def opened() -> SessionInfo | None:
        for info in model.sessions():
            if (info.generation, info.kind, info.session_id) in before or info.kind != "session":
                continue
            if not info.listener_id and info.state == "connected":
                return info if panel.selected() is info else None
        return None

    qtbot.waitUntil(lambda: opened() is not None, timeout=TIMEOUT_MS)
    found = opened()
    assert found is not None
    return found


def _connect_tls(panel: SessionPanel, *, cafile: str = "", insecure: bool = False) -> None:
    panel.mode.setCurrentText("Connect")
    panel.tls.setChecked(True)
    assert panel.client_tls.isVisible() and not panel.server_tls.isVisible()
    panel.client_tls.cafile.setText(cafile)
    panel.client_tls.insecure.setChecked(insecure)


def test_a_verified_session_has_its_lock_and_details(qtbot, window, tls_certs):
    panel, model = window.sessions, window.session_model
    listener = _listen_tls(qtbot, window, tls_certs)
    _connect_tls(panel, cafile=str(tls_certs.ca))
    assert panel.open_button.styleSheet() == ""  # verified: nothing to warn about
    session = open_session(qtbot, window, "127.0.0.1", _port(listener))
    qtbot.waitUntil(lambda: session.tls is not None, timeout=TIMEOUT_MS)
    assert session.tls.verified and session.tls.side == "client"
    assert session.tls_options == ClientTls(cafile=str(tls_certs.ca)).to_wire()
    assert not session.unverified and session.peer_cell == f"127.0.0.1:{_port(listener)}"
    assert not _peer(model, session, Qt.ItemDataRole.DecorationRole).isNull()  # the lock
    assert _peer(model, session, Qt.ItemDataRole.ForegroundRole) is None

    # The frames go through TLS both ways (the listener echoes).
    send_text(window, "over TLS")
    qtbot.waitUntil(
        lambda: payloads(window, session.name, Direction.IN) == [b"over TLS"], timeout=TIMEOUT_MS
    )
    window.log_model.flush()
    assert any(
        payload.startswith(b"TLS: TLSv1.3") and b"verified" in payload
        for payload in payloads(window, session.name, Direction.INFO)
    )

    # The listener's side of the same connection has its lock too.
    accepted = next(
        i for i in model.sessions() if i.kind == "session" and i.listener_id == listener.session_id
    )
    qtbot.waitUntil(lambda: accepted.tls is not None, timeout=TIMEOUT_MS)
    assert accepted.tls.side == "server" and not accepted.unverified

    # Double-clicking the row shows the details; they follow the selection.
    panel.select(session)
    assert panel.tls_action.isEnabled()
    row = next(r for r in range(model.rowCount()) if model.session_at(r) is session)
    panel.table.doubleClicked.emit(model.index(row, 0))
    dialog = panel._tls_dialog
    assert dialog is not None and dialog.isVisible()
    text = dialog.details.toPlainText()
    for expected in ("TLSv1.3", "✔ verified", "DNS:localhost", "IP:127.0.0.1", "valid until"):
        assert expected in text, text
    assert "framewire tests" in text  # the issuer: the test CA
    panel.select(accepted)
    assert "client was not asked for a certificate" in dialog.details.toPlainText()
    dialog.close()


def test_insecure_warns_before_and_marks_the_session_after(qtbot, window, tls_certs):
    panel, model = window.sessions, window.session_model
    listener = _listen_tls(qtbot, window, tls_certs)
    _connect_tls(panel, insecure=True)
    assert RED.name() in panel.open_button.styleSheet()
    assert "NOT be verified" in panel.open_button.toolTip()
    session = open_session(qtbot, window, "127.0.0.1", _port(listener))
    qtbot.waitUntil(lambda: session.tls is not None, timeout=TIMEOUT_MS)
    assert session.unverified
    assert session.peer_cell.startswith("⚠ unverified TLS · 127.0.0.1:")
    assert _peer(model, session, Qt.ItemDataRole.ForegroundRole) == RED

    # Every row of the session in the log carries the mark, in red.
    log = window.log_model
    log.flush()
    rows = [r for r in range(log.rowCount()) if log.row_at(r).session == session.name]
    assert rows
    for r in rows:
        index = log.index(r, COL_SESSION)
        assert log.data(index, Qt.ItemDataRole.DisplayRole) == f"{session.name} ⚠"
        assert log.data(index, Qt.ItemDataRole.ForegroundRole) == RED
    notes = payloads(window, session.name, Direction.ERROR)
    assert any(p.startswith(b"TLS: ") and b"NOT VERIFIED" in p for p in notes)

    panel.select(session)
    dialog = panel.show_tls_details()
    assert "NOT VERIFIED: the server may be anyone" in dialog.details.toPlainText()
    dialog.close()
    panel.client_tls.insecure.setChecked(False)
    assert panel.open_button.styleSheet() == ""


def test_a_failed_handshake_says_why_and_what_to_change_in_the_form(qtbot, window, tls_certs):
    panel, model = window.sessions, window.session_model
    listener = _listen_tls(qtbot, window, tls_certs)
    _connect_tls(panel)  # the system's CAs do not know the test CA
    panel.host.setText("127.0.0.1")
    panel.port.setValue(_port(listener))
    _click_open(qtbot, panel)
    qtbot.waitUntil(
        lambda: any(i.tls_cause == "unknown_ca" for i in model.sessions()), timeout=TIMEOUT_MS
    )
    failed = next(i for i in model.sessions() if i.tls_cause == "unknown_ca")
    assert failed.state == "failed" and "unknown CA" in failed.tls_error
    panel.select(failed)
    text = panel.show_tls_details().details.toPlainText()
    assert "TLS failed: unknown ca" in text and "choose the server's CA" in text

    # The hint's fix, then Reconnect: it takes the form's TLS row, and is verified.
    before = {(i.generation, i.kind, i.session_id) for i in model.sessions()}
    panel.client_tls.cafile.setText(str(tls_certs.ca))
    panel.reconnect_button.click()

    def reconnected() -> SessionInfo | None:
        for info in model.sessions():
            new = (info.generation, info.kind, info.session_id) not in before
            if new and not info.listener_id and info.tls is not None:
                return info
        return None

    qtbot.waitUntil(lambda: reconnected() is not None, timeout=TIMEOUT_MS)
    assert reconnected().tls.verified


def test_a_tls_relay_shows_both_sides(qtbot, window, tls_certs):
    """A TLS client (the window) ⇄ the window's relay (TLS both sides) ⇄ a TLS echo
    listener: the pair's row says which side is TLS, and its details show both."""
    panel, model = window.sessions, window.session_model
    upstream = _listen_tls(qtbot, window, tls_certs)
    panel.mode.setCurrentText("Relay")
    panel.tls.setChecked(True)
    panel.server_tls.cert.setText(str(tls_certs.good))
    panel.upstream_host.setText("127.0.0.1")
    panel.upstream_port.setValue(_port(upstream))
    panel.upstream_tls_on.setChecked(True)
    assert panel.upstream_tls.isVisible() and panel.server_tls.isVisible()
    panel.upstream_tls.cafile.setText(str(tls_certs.ca))
    command = panel.serve_command()
    assert isinstance(command, schema.Relay)
    assert command.tls == {"cert": str(tls_certs.good)} | command.tls  # the listener's cert
    assert command.upstream_tls == ClientTls(cafile=str(tls_certs.ca)).to_wire()
    known = {i.session_id for i in model.sessions() if i.kind == "listener"}
    panel.port.setValue(0)
    _click_open(qtbot, panel)
    qtbot.waitUntil(
        lambda: any(
            i.kind == "listener" and i.session_id not in known and i.upstream
            for i in model.sessions()
        ),
        timeout=TIMEOUT_MS,
    )
    relay = next(i for i in model.sessions() if i.kind == "listener" and i.upstream)
    assert relay.serves_tls and "TLS to the upstream server" in relay.detail

    _connect_tls(panel, cafile=str(tls_certs.ca))
    open_session(qtbot, window, "127.0.0.1", _port(relay))
    qtbot.waitUntil(
        lambda: any(
            i.kind == "pair" and i.tls is not None and i.upstream_tls is not None
            for i in model.sessions()
        ),
        timeout=TIMEOUT_MS,
    )
    pair = next(i for i in model.sessions() if i.kind == "pair")
    assert pair.tls.side == "server" and pair.upstream_tls.verified
    client, _, server = pair.peer_cell.partition(" ⇄ ")
    assert client.startswith("TLS · 127.0.0.1:") and server.startswith("TLS · 127.0.0.1:")
    panel.select(pair)
    text = panel.show_tls_details().details.toPlainText()
    assert "Client ⇄ framewire" in text and "framewire ⇄ upstream server" in text
    assert text.count("TLSv1.3") == 2


def test_the_form_checks_tls_options_and_keeps_each_modes_tick(qtbot, tls_certs):
    panel = SessionPanel(SessionModel())
    qtbot.addWidget(panel)
    panel.show()
    opened: list[tuple] = []
    panel.open_requested.connect(lambda *args: opened.append(args))
    panel.host.setText("127.0.0.1")
    panel.port.setValue(9)
    panel.tls.setChecked(True)
    panel.client_tls.key.setText(str(tls_certs.client))
    _click_open(qtbot, panel)
    assert not opened and "a key needs its client certificate" in panel.error.text()
    panel.client_tls.cert.setText(str(tls_certs.client))
    panel.client_tls.alpn.setText("h2, mqtt")
    _click_open(qtbot, panel)
    assert (
        opened[-1][3]
        == ClientTls(
            cert=str(tls_certs.client), key=str(tls_certs.client), alpn=("h2", "mqtt")
        ).to_wire()
    )

    panel.mode.setCurrentText("Listen")
    assert not panel.tls.isChecked()  # Listen's own tick
    served: list[object] = []
    panel.serve_requested.connect(served.append)
    panel.tls.setChecked(True)
    _click_open(qtbot, panel)
    assert not served and "needs its certificate" in panel.error.text()
    panel.tls.setChecked(False)
    _click_open(qtbot, panel)
    assert isinstance(served[-1], schema.Listen) and served[-1].tls is None
    panel.mode.setCurrentText("Connect")
    assert panel.tls.isChecked() and panel.client_tls.isVisible()
    panel.tls.setChecked(False)
    _click_open(qtbot, panel)
    assert opened[-1][3] is None  # plaintext


def test_tls_rows_are_remembered_but_insecure_never(qtbot, tmp_path, tls_certs):
    path = str(tmp_path / "framewire.conf")

    def idle_window(settings: QSettings) -> MainWindow:
        win = MainWindow(
            EngineSupervisor(), log_model=LogModel(cap=1000), session_model=SessionModel(),
            probe=TickProbe(0.025), settings=settings,
        )  # fmt: skip
        qtbot.addWidget(win)
        return win

    first = idle_window(window_settings.open_settings(path))
    first.sessions.use_client_tls(ClientTls(cafile=str(tls_certs.ca), insecure=True))
    first.sessions.client_tls.server_name.setText("localhost")
    first.sessions.mode.setCurrentText("Relay")
    first.sessions.upstream_tls_on.setChecked(True)
    first.sessions.upstream_tls.insecure.setChecked(True)
    first.sessions.mode.setCurrentText("Connect")
    window_settings.save(first, first.settings)

    second = idle_window(window_settings.open_settings(path))
    window_settings.restore(second, second.settings, server_given=False, framing_given=False)
    panel = second.sessions
    assert panel.tls_ticks() == {"Connect": True, "Listen": False, "Relay": False, "Upstream": True}
    assert panel.connect_tls() == ClientTls(cafile=str(tls_certs.ca), server_name="localhost")
    assert not panel.upstream_tls.insecure.isChecked()


def test_do_it_speaks_tls_as_the_connect_row_says(qtbot, tmp_path):
    """Do it! against a demo server over TLS (``--tls``): refused in plaintext, verified
    with its CA in the Connect row."""
    with spawn_demo_server(
        "--mode", "classic", "--tls", "--tls-dir", str(tmp_path), stderr=subprocess.DEVNULL
    ) as server:
        supervisor = EngineSupervisor()
        window = MainWindow(
            supervisor, log_model=LogModel(cap=1000), session_model=SessionModel(),
            probe=TickProbe(0.025), server=server,
        )  # fmt: skip
        qtbot.addWidget(window)
        window.show()
        with qtbot.waitSignal(supervisor.engine_started, timeout=ENGINE_START_TIMEOUT_MS):
            supervisor.start()
        try:
            assert "over TLS" not in window.do_it_target.text()
            window.do_it_button.click()  # plaintext to a TLS server: it closes, we say why
            qtbot.waitUntil(
                lambda: "Do it! failed" in window.do_it_result.text(), timeout=TIMEOUT_MS
            )
            assert "(if it speaks TLS: tick TLS)" in window.do_it_result.text()
            qtbot.waitUntil(window.do_it_button.isEnabled, timeout=TIMEOUT_MS)

            window.sessions.use_client_tls(ClientTls(cafile=str(tmp_path / "ca.pem")))
            assert "over TLS" in window.do_it_target.text()
            window.do_it_button.click()
            qtbot.waitUntil(lambda: "reply:" in window.do_it_result.text(), timeout=TIMEOUT_MS)
            assert "hello, client! you said: hello" in window.do_it_result.text()
        finally:
            stop_supervisor(qtbot, supervisor)


def test_tls_from_the_command_line_is_for_that_run_only(qtbot, tmp_path, tls_certs):
    """The launcher's ``--tls`` hands the window a temporary CA: a later plain run must not
    speak TLS to its plaintext demo server with a file that is gone."""
    path = str(tmp_path / "framewire.conf")

    def idle_window() -> MainWindow:
        win = MainWindow(
            EngineSupervisor(), log_model=LogModel(cap=1000), session_model=SessionModel(),
            probe=TickProbe(0.025), settings=window_settings.open_settings(path),
        )  # fmt: skip
        qtbot.addWidget(win)
        return win

    first = idle_window()
    first.sessions.client_tls.cafile.setText(str(tls_certs.other_ca))  # chosen in the form
    window_settings.save(first, first.settings)
    second = idle_window()
    window_settings.restore(second, second.settings, server_given=False, framing_given=False)
    second.sessions.use_client_tls(ClientTls(cafile=str(tls_certs.ca)))  # as ui.app does
    second.tls_given = True
    window_settings.save(second, second.settings)

    third = idle_window()
    window_settings.restore(third, third.settings, server_given=False, framing_given=False)
    assert third.sessions.connect_tls() is None  # not ticked: the form never was
    assert third.sessions.client_tls.cafile.text() == str(tls_certs.other_ca)
    # A --server on the command line: Connect speaks TLS only if --tls says so.
    third.sessions.use_client_tls(ClientTls(cafile=str(tls_certs.ca)))
    window_settings.save(third, third.settings)
    fourth = idle_window()
    window_settings.restore(fourth, fourth.settings, server_given=True, framing_given=False)
    assert fourth.sessions.connect_tls() is None
