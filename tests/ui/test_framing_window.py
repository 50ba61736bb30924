"""Framing in the window, against real engines and servers: a framing mistake is said
(issue 17 item 5: Do it! against a be32 server), Guess… sets the framing, Capture writes
every frame, the custom framing row checks itself, text encodings per session."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest

from ipc.framing import PRESETS, encode_frames
from tools.demo_server import spawn_demo_server
from ui.log_model import COL_DATA, LogModel
from ui.main_window import MainWindow
from ui.session_model import SessionModel
from ui.supervisor import EngineSupervisor
from ui.tick_probe import TickProbe
from ui.widgets.compose import ComposePanel
from ui.widgets.session_panel import CUSTOM_FRAMING, SessionPanel

from .conftest import ENGINE_START_TIMEOUT_MS, add_window
from .helpers import open_session, send_text


@pytest.fixture
def be32_server() -> Iterator[tuple[str, int]]:
    with spawn_demo_server(
        "--mode", "classic", "--framing", "be32", stderr=subprocess.DEVNULL
    ) as address:
        yield address


@pytest.fixture
def capture_window(qtbot, tmp_path, be32_server) -> MainWindow:
    """A window with Capture on from the start, whose Do it! talks to a be32 server."""
    supervisor = EngineSupervisor()
    win = MainWindow(
        supervisor, log_model=LogModel(), session_model=SessionModel(), probe=TickProbe(0.025),
        server=be32_server, capture=str(tmp_path / "capture.jsonl"),
    )  # fmt: skip
    add_window(qtbot, win)
    win.show()
    with qtbot.waitSignal(supervisor.engine_started, timeout=ENGINE_START_TIMEOUT_MS):
        supervisor.start()
    return win


def greeting_server(data: bytes) -> int:
    """Accept one connection on 127.0.0.1, send ``data``, close; return the port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener, listener.accept()[0] as conn:
            conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    port: int = listener.getsockname()[1]
    return port


def test_framing_mistakes_are_said_guess_fixes_them_and_capture_keeps_every_frame(
    qtbot, tmp_path, be32_server, capture_window
):
    win = capture_window
    assert win.capture_toggle.isChecked()
    # Do it! speaks le32 to a be32 server, which closes as one closing on purpose would:
    # no framing is named (the bytes sent read best as le32), the choice is pointed at.
    with qtbot.waitSignal(win.do_it.failed, timeout=10_000) as failed:
        win.do_it_button.click()
    assert failed.args[0] == (
        "the server closed the connection (peer) before replying (if it speaks another "
        "framing: choose it, or guess…) (if it speaks TLS: tick TLS)"
    )
    # Guess… reads what a server sends first and picks the framing that parses it.
    port = greeting_server(encode_frames([b"welcome", b"client"], PRESETS["be32"]))
    win.sessions.port.setValue(port)
    win.sessions.framing.setCurrentText("guess…")
    win.sessions.framing.activated.emit(win.sessions.framing.currentIndex())
    assert win.sessions.framing.currentText() == "le32"  # until the guess comes
    qtbot.waitUntil(lambda: win.sessions.framing.currentText() == "be32", timeout=10_000)
    assert "as be32, these 21 bytes are 2 whole frames" in win.sessions.error.text()
    # A session in cp037 composes and shows its text in EBCDIC.
    win.sessions.encoding.setCurrentIndex(win.sessions.encoding.findData("cp037"))
    info = open_session(qtbot, win, *be32_server)
    qtbot.waitUntil(lambda: win.compose.editor.placeholderText().endswith("(cp037))"))
    send_text(win, "HI")
    qtbot.waitUntil(lambda: info.frames_in == 1, timeout=5000)
    win.log_model.flush()
    out_rows = [
        r for r in range(win.log_model.rowCount())
        if win.log_model.row_at(r).session == info.name
        and win.log_model.row_at(r).direction.value == "out"
    ]  # fmt: skip
    (row,) = out_rows
    assert win.log_model.row_at(row).payload == "HI".encode("cp037")
    assert win.log_model.data(win.log_model.index(row, COL_DATA)) == "HI"
    # Capture off: the engine writes what it queued and says how much it wrote.
    win.capture_toggle.setChecked(False)
    qtbot.waitUntil(lambda: _last_note(win).startswith("capture stopped ("), timeout=5000)
    lines = [json.loads(line) for line in (tmp_path / "capture.jsonl").read_text().splitlines()]
    frames = [(r["session"], r["dir"], bytes.fromhex(r["hex"])) for r in lines if "dir" in r]
    assert (1, "out", b"hello") in frames
    assert (2, "out", "HI".encode("cp037")) in frames
    assert {r.get("framing") for r in lines if r.get("session") == 2} == {"be32"}


def _last_note(win: MainWindow) -> str:
    store = win.log_model.store
    notes = [r for r in store.rows(store.first_seq, store.end_seq) if r.direction.value == "info"]
    return notes[-1].payload.decode() if notes else ""


def test_the_custom_framing_row_reads_and_checks_every_field(qtbot):
    panel = SessionPanel(SessionModel())
    qtbot.addWidget(panel)
    panel.set_framing(PRESETS["mysql"])
    assert panel.framing.currentText() == "mysql"
    panel.set_framing(PRESETS["pg"])
    assert panel.framing.currentText() == "pg"
    panel.framing.setCurrentText(CUSTOM_FRAMING)
    panel.length_offset.setValue(2)
    panel.length_size.setCurrentText("3")
    panel.byte_order.setCurrentText("big")
    panel.length_adjust.setValue(-3)
    panel.strip.setValue(0)
    assert panel.framing_value() == {
        "length_offset": 2, "length_size": 3, "byte_order": "big", "length_adjust": -3,
        "length_includes_header": False, "strip": 0, "max_frame_length": 8 * 1024 * 1024,
    }  # fmt: skip
    assert panel.custom_summary.text() == "= be24,offset=2,adjust=-3,strip=0"
    panel.length_size.setCurrentText("varint")
    panel.includes_header.setChecked(True)
    assert panel.custom_summary.text() == "a varint length cannot count the header"
    with qtbot.assertNotEmitted(panel.open_requested):
        panel.open_button.click()
    assert "custom framing: a varint length cannot count the header" in panel.error.text()


def test_compose_refuses_text_its_session_encoding_cannot_write(qtbot):
    compose = ComposePanel()
    qtbot.addWidget(compose)
    compose.set_target("#1", "latin-1")
    compose.editor.setText("price: 5 €")
    assert not compose.send_button.isEnabled()
    assert "'€' (U+20AC) at column 10 cannot be written in Latin-1" in compose.error.text()
    compose.editor.setText("café")
    assert compose.send_button.isEnabled()
    assert compose.payload() == b"caf\xe9"
