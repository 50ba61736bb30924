"""A window attached to a long-lived engine (a real ``--serve-ipc`` process): it shows the
engine's sessions and their recent traffic, then live traffic; closing it detaches and
the session lives on for the next window; when the engine goes, the window says so, never
restarts it, and offers a local engine instead."""

from __future__ import annotations

import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipc.schema import ChannelClosed, History, HistoryEnd, Received
from ui.event_log import log_entries
from ui.log_model import LogModel
from ui.log_store import Direction
from ui.main_window import MainWindow
from ui.session_model import SessionModel
from ui.supervisor import EngineState, EngineSupervisor
from ui.tick_probe import TickProbe

from .conftest import ENGINE_START_TIMEOUT_MS, stop_supervisor
from .helpers import open_session, payloads, send_text


@pytest.fixture
def long_lived_engine(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    path = tmp_path / "e.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "--serve-ipc", str(path)],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    assert b" serving on " in process.stderr.readline()  # listening from here on
    yield process, path
    process.kill()
    process.wait()
    process.stderr.close()


def _attached_window(qtbot, path: Path) -> MainWindow:
    supervisor = EngineSupervisor()
    win = MainWindow(
        supervisor,
        log_model=LogModel(cap=10_000),
        session_model=SessionModel(),
        probe=TickProbe(0.025),
    )
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(supervisor.attached, timeout=ENGINE_START_TIMEOUT_MS):
        supervisor.attach(str(path))
    return win


def _close(qtbot, win: MainWindow) -> None:
    with qtbot.waitSignal(win.closed, timeout=10_000):
        win.close()


def test_detach_and_reattach_keep_the_session_and_show_its_history(
    qtbot, long_lived_engine, demo_server
):
    process, path = long_lived_engine
    first = _attached_window(qtbot, path)
    assert f"attached to {path}" in first.status_label.text()
    info = open_session(qtbot, first, *demo_server)
    send_text(first, "hello")
    qtbot.waitUntil(lambda: info.frames_in == 1, timeout=10_000)
    _close(qtbot, first)  # detaches: the engine and the session stay
    assert process.poll() is None

    second = _attached_window(qtbot, path)
    (again,) = second.session_model.sessions()
    counts = (again.session_id, again.state, again.frames_in, again.frames_out)
    assert counts == (info.session_id, "connected", 1, 1)
    name = again.name
    qtbot.waitUntil(lambda: payloads(second, name, Direction.IN) != [], timeout=10_000)
    assert payloads(second, name, Direction.OUT) == [b"hello"]  # from before it attached
    reply = b"hello, client! you said: hello"
    assert payloads(second, name, Direction.IN) == [reply]
    second.sessions.select(again)
    send_text(second, "again")  # and live traffic on the same session
    qtbot.waitUntil(lambda: again.frames_in == 2, timeout=10_000)
    assert payloads(second, name, Direction.IN) == [reply, b"hello, client! you said: again"]
    notes = payloads(second, "engine", Direction.INFO)
    assert any(b"live traffic from here" in note for note in notes)

    # The engine goes: the window says so and restarts nothing, then a local engine.
    with qtbot.waitSignal(second.supervisor.engine_lost, timeout=10_000):
        process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    status = second.supervisor.status
    assert status.state is EngineState.GONE and "SIGTERM" in status.detail
    banner = second.banner
    assert banner.isVisible() and banner.start_local_button.isVisible()
    assert banner.reattach_button.isVisible() and not banner.restart_button.isVisible()
    assert again.state == "closed"  # the engine closed it on its way out, and said so
    assert not second.sessions.open_button.isEnabled()
    with qtbot.waitSignal(second.supervisor.engine_started, timeout=ENGINE_START_TIMEOUT_MS):
        banner.start_local_button.click()
    assert second.supervisor.status.attached_to == "" and not banner.isVisible()
    stop_supervisor(qtbot, second.supervisor)


def test_a_window_attaching_later_shows_the_relay_and_its_history_under_the_pair(
    qtbot, long_lived_engine, demo_server
):
    _, path = long_lived_engine
    first = _attached_window(qtbot, path)
    panel = first.sessions
    panel.mode.setCurrentText("Relay")
    panel.upstream_host.setText(demo_server[0])
    panel.upstream_port.setValue(demo_server[1])
    panel.open_button.click()
    generation = first.client.generation
    qtbot.waitUntil(lambda: first.session_model.listener(generation, 1) is not None, timeout=10_000)
    local = first.session_model.listener(generation, 1).peer_text.split(" ")[0]
    host, _, port = local.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(struct.pack("<I", 5) + b"hello")
        reply = b"hello, client! you said: hello"
        received = b""
        while len(received) < 4 + len(reply):
            received += client.recv(4096)
        assert received[4:] == reply
        _close(qtbot, first)  # detaches: the listener and the pair stay

        second = _attached_window(qtbot, path)
        model = second.session_model
        generation = second.client.generation
        listener, pair = model.listener(generation, 1), model.pair(generation, 1)
        assert listener is not None and listener.state == "listening"
        assert listener.peer_text.startswith(local) and listener.clients == 1
        assert pair is not None and pair.state == "open" and pair.name == "⇄1"
        assert (pair.frames_in, pair.frames_out) == (1, 1)  # → 1, ← 1
        # The legs' history is the pair's frames, each the way it went, as live ones are.
        qtbot.waitUntil(lambda: payloads(second, "⇄1", Direction.S2C) == [reply], timeout=10_000)
        assert payloads(second, "⇄1", Direction.C2S) == [b"hello"]
        legs = {f"#{pair.client_session_id}", f"#{pair.upstream_session_id}"}
        store = second.log_model.store
        assert not legs & {row.session for row in store.rows(store.first_seq, store.end_seq)}
        notes = payloads(second, "engine", Direction.INFO)
        said = b"attached: 0 sessions, 1 listener, 1 relay pair; 2 frames of history follow"
        assert said in notes
        assert second.log_model.context("⇄1").peer == pair.peer_text.partition(" ⇄ ")[0]
        _close(qtbot, second)


def test_attaching_where_no_engine_runs_says_so_and_restarts_nothing(qtbot, tmp_path):
    supervisor = EngineSupervisor()
    with qtbot.waitSignal(supervisor.engine_lost, timeout=10_000):
        supervisor.attach(str(tmp_path / "none.sock"))
    status = supervisor.status
    assert status.state is EngineState.GONE and "no engine is serving at" in status.detail
    assert supervisor.pid is None
    stop_supervisor(qtbot, supervisor)


def test_history_and_the_engine_s_last_word_become_log_rows() -> None:
    rows = list(
        log_entries(
            1,
            1000.0,
            [
                History(session_id=2, direction="out", frames=[b"a"], at=1.0),
                History(
                    session_id=2,
                    direction="in",
                    frames=[b"b", b"c"],
                    at=2.0,
                    times=[[2.0, 1], [3.0, 1]],
                ),
                HistoryEnd(frames=3, bytes=3, at=4.0),
                Received(session_id=2, frames=[b"d"], at=5.0),
                ChannelClosed(reason="fell_behind", message="16 MiB unread", at=6.0),
            ],
        )
    )
    assert [(r.direction, r.wall, r.payloads) for r in rows[:3]] == [
        (Direction.OUT, 1001.0, [b"a"]),
        (Direction.IN, 1002.0, [b"b"]),
        (Direction.IN, 1003.0, [b"c"]),
    ]
    assert "3 frames from before this window attached" in rows[3].payloads[0].decode()
    assert rows[4].payloads == [b"d"]
    assert rows[5].direction is Direction.ERROR and b"16 MiB unread" in rows[5].payloads[0]


def test_gui_attach_where_no_engine_runs_exits_2_saying_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ui.app import main

    assert main(["--attach", str(tmp_path / "none.sock")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("framewire-gui: --attach: no engine at") and "--serve-ipc" in err


def test_an_attached_engine_whose_output_breaks_the_stream_is_given_up(qtbot, tmp_path):
    # A stand-in for a long-lived engine: a real hello, then a frame declaring 4 GiB, and
    # the connection left open. The window gives the connection up at the header, says
    # why, and restarts nothing (the engine is not its own).
    import socket
    import threading

    from engine.rpc.handshake import hello
    from ipc.codec import encode_notification

    greeting = encode_notification("hello", hello(clock_offset=0.0).to_params())
    bomb = b"\x93\x02\xa8received\x91\x81\xa6frames\x91\xc6\xff\xff\xff\xff"
    path = tmp_path / "e.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    served = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(greeting + bomb)
            served.wait(10)  # open until the test is done

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    supervisor = EngineSupervisor()
    try:
        with qtbot.waitSignal(supervisor.engine_lost, timeout=10_000):
            supervisor.attach(str(path))
        status = supervisor.status
        assert status.state is EngineState.GONE
        assert status.detail.startswith("its output broke the IPC stream: bin32 declares")
    finally:
        served.set()
        thread.join(5)
        server.close()
    stop_supervisor(qtbot, supervisor)
