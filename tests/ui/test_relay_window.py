"""Listen and relay in the window: a real engine relays a real client to the demo server."""

from __future__ import annotations

import socket
import struct

from ui.log_store import Direction, LogFilter
from ui.widgets.compose import LEGS

TIMEOUT_MS = 10_000


def _frame(payload: bytes) -> bytes:
    return struct.pack("<I", len(payload)) + payload


class Client:
    """A client socket read while the window's event loop runs (the window sends what the
    test asks of it only then)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setblocking(False)
        self.buffer = b""

    def send(self, payload: bytes) -> None:
        self.sock.sendall(_frame(payload))

    def _frame_ready(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            chunk = None
        if chunk == b"":
            raise AssertionError(f"closed after {self.buffer!r}")
        self.buffer += chunk or b""
        size = struct.unpack("<I", self.buffer[:4])[0] if len(self.buffer) >= 4 else -1
        return size >= 0 and len(self.buffer) >= 4 + size

    def frame(self, qtbot) -> bytes:
        qtbot.waitUntil(self._frame_ready, timeout=TIMEOUT_MS)
        size = struct.unpack("<I", self.buffer[:4])[0]
        payload, self.buffer = self.buffer[4 : 4 + size], self.buffer[4 + size :]
        return payload


def _start(qtbot, window, mode: str) -> object:
    """Pick ``mode`` in the form, press its button, wait for the listener's row."""
    panel, model = window.sessions, window.session_model
    panel.mode.setCurrentText(mode)
    assert panel.open_button.text() == mode and panel.port.value() == 0  # 0: any free port
    panel.open_button.click()
    generation = window.client.generation
    qtbot.waitUntil(lambda: model.listener(generation, 1) is not None, timeout=TIMEOUT_MS)
    listener = model.listener(generation, 1)
    assert listener.state == "listening" and listener.peer_text.startswith("127.0.0.1:")
    # The answer to the request may come after the event that made the row.
    qtbot.waitUntil(lambda: panel.error.text().startswith("listening on 127.0.0.1:"))
    return listener


def test_a_relay_pair_shows_counts_both_ways_and_injects_into_either_leg(
    qtbot, window, demo_server
):
    panel, model = window.sessions, window.session_model
    panel.mode.setCurrentText("Relay")
    assert (panel.upstream_host.text(), panel.upstream_port.value()) == demo_server
    listener = _start(qtbot, window, "Relay")
    port = int(listener.peer_text.split(" ")[0].rpartition(":")[2])
    generation = window.client.generation

    client = Client(port)
    with client.sock:
        client.send(b"hello")
        assert client.frame(qtbot) == b"hello, client! you said: hello"
        qtbot.waitUntil(lambda: model.pair(generation, 1) is not None, timeout=TIMEOUT_MS)
        pair = model.pair(generation, 1)
        qtbot.waitUntil(
            lambda: pair.state == "open" and pair.frames_in == 1 and pair.frames_out == 1,
            timeout=TIMEOUT_MS,
        )
        assert " ⇄ " in pair.peer_text and pair.peer_text.endswith(f":{demo_server[1]}")
        # The legs are the pair's, not rows of their own: the listener and the pair only.
        assert {info.kind for info in model.sessions()} == {"listener", "pair"}

        panel.select(pair)
        compose = window.compose
        assert compose.leg.isVisible() and compose.target.text() == f"inject into {pair.name}"
        compose.leg.setCurrentText(next(k for k, v in LEGS.items() if v == "upstream"))
        compose.editor.setText("injected")
        compose.send_button.click()
        # The server answers the injected frame, and the relay brings the answer back.
        assert client.frame(qtbot) == b"hello, client! you said: injected"
        compose.leg.setCurrentText(next(k for k, v in LEGS.items() if v == "client"))
        compose.editor.setText("just for you")
        compose.send_button.click()
        assert client.frame(qtbot) == b"just for you"
        qtbot.waitUntil(lambda: (pair.frames_in, pair.frames_out) == (2, 3), timeout=TIMEOUT_MS)

    # The log shows the pair's frames with their direction, and filters by pair and way.
    log = window.log_model
    log.flush()
    window.log_panel.session_filter.setCurrentText(pair.name)
    index = window.log_panel.direction_filter.findData(Direction.S2C)
    window.log_panel.direction_filter.setCurrentIndex(index)
    flt = window.log_panel.current_filter()
    assert flt == LogFilter(
        session=pair.name, direction=Direction.S2C, payload_test=flt.payload_test
    )
    rows = [log.store.row(seq) for seq in log.store.match(flt, 0, log.store.end_seq)]
    assert [r.payload for r in rows] == [
        b"hello, client! you said: hello",
        b"hello, client! you said: injected",
        b"just for you",
    ]
    c2s = log.store.match(
        LogFilter(session=pair.name, direction=Direction.C2S), 0, log.store.end_seq
    )
    assert [log.store.row(seq).payload for seq in c2s] == [b"hello", b"injected"]
    qtbot.waitUntil(lambda: pair.state == "closed", timeout=TIMEOUT_MS)  # the client left


def test_listen_accepts_clients_as_sessions_and_closing_it_keeps_them(qtbot, window):
    panel, model = window.sessions, window.session_model
    panel.mode.setCurrentText("Listen")
    panel.echo.setChecked(True)
    listener = _start(qtbot, window, "Listen")
    port = int(listener.peer_text.rpartition(":")[2])
    generation = window.client.generation
    client = Client(port)
    with client.sock:
        client.send(b"echo me")
        assert client.frame(qtbot) == b"echo me"
        qtbot.waitUntil(lambda: model.session(generation, 1) is not None, timeout=TIMEOUT_MS)
        session = model.session(generation, 1)
        assert session.state == "connected" and session.listener_id == 1

        panel.select(listener)
        panel.close_button.click()  # stop listening
        qtbot.waitUntil(lambda: listener.state == "closed", timeout=TIMEOUT_MS)
        assert session.state == "connected"
        client.send(b"still here")
        assert client.frame(qtbot) == b"still here"

        panel.select(session)
        window.compose.editor.setText("from the server")
        window.compose.send_button.click()
        assert client.frame(qtbot) == b"from the server"


def test_the_listen_form_leaves_the_table_its_height_and_each_new_listener_is_in_view(
    qtbot, window
):
    panel, model, table = window.sessions, window.session_model, window.sessions.table
    height = table.height()
    panel.mode.setCurrentText("Listen")  # a second row: echo and the limits
    qtbot.waitUntil(lambda: panel.max_clients.isVisible() and table.height() == height)
    generation = window.client.generation
    rows = height // table.verticalHeader().defaultSectionSize()
    for number in range(1, rows + 3):  # more listeners than the table shows at once
        qtbot.waitUntil(panel.open_button.isEnabled, timeout=TIMEOUT_MS)
        panel.open_button.click()

        def in_view(number: int = number) -> bool:
            listener = model.listener(generation, number)
            if listener is None:
                return False
            row = model.sessions().index(listener)
            return table.viewport().rect().contains(table.visualRect(model.index(row, 0)))

        qtbot.waitUntil(in_view, timeout=TIMEOUT_MS)
    assert panel.error.isVisible()  # "listening on …": one more line under the form
    assert table.height() == height and table.verticalScrollBar().value() > 0
    panel.mode.setCurrentText("Connect")
    qtbot.waitUntil(lambda: not panel.max_clients.isVisible() and table.height() == height)
