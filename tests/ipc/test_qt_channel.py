"""The Qt controller client over a real ``python -m engine --stdio`` QProcess."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import QBuffer, QIODevice, QProcess, QTimer
from pytestqt.qtbot import QtBot

from ipc.codec import encode_notification
from ipc.qt_channel import EngineChannel
from ipc.rpc import ENGINE_ARGS, CommandFailed
from ipc.schema import (
    ChannelClosed,
    Close,
    Closed,
    Command,
    Hello,
    Open,
    Ping,
    Received,
    Send,
)
from tools.demo_server import spawn_demo_server

TIMEOUT_MS = 20_000

#: What the ``engine`` fixture yields.
Engine = tuple[QProcess, EngineChannel]


@pytest.fixture(scope="module")
def demo_port() -> Iterator[int]:
    """``python -m tools.demo_server`` (echo) on 127.0.0.1, port 0."""
    with spawn_demo_server(stderr=subprocess.DEVNULL) as (_, port):
        yield port


@contextlib.contextmanager
def engine_process(qtbot: QtBot, **channel_kwargs: Any) -> Iterator[Engine]:
    """An engine QProcess with its channel, hello received; on exit its stdin is closed
    and it must exit cleanly."""
    process = QProcess()
    process.setProgram(sys.executable)
    process.setArguments(list(ENGINE_ARGS))
    process.setProcessChannelMode(QProcess.ProcessChannelMode.ForwardedErrorChannel)
    channel = EngineChannel(process, **channel_kwargs)
    with qtbot.waitSignal(channel.hello_received, timeout=TIMEOUT_MS) as hello:
        process.start()
    assert isinstance(hello.args[0], Hello)
    assert channel.hello is hello.args[0]
    try:
        yield process, channel
    finally:
        channel.close()
        process.closeWriteChannel()  # EOF: the engine closes its sessions and exits
        assert process.waitForFinished(10_000)
    assert process.exitCode() == 0


@pytest.fixture
def engine(qtbot: QtBot) -> Iterator[Engine]:
    with engine_process(qtbot) as (process, channel):
        yield process, channel


def call(qtbot: QtBot, channel: EngineChannel, command: Command) -> Any:
    """Request and wait for the callback; return the result (fail on error)."""
    box: list[tuple[Any, CommandFailed | None]] = []
    channel.request(command, lambda result, error: box.append((result, error)))
    qtbot.waitUntil(lambda: bool(box), timeout=TIMEOUT_MS)
    result, error = box[0]
    assert error is None, error
    return result


def test_classic_exchange_over_qprocess(qtbot: QtBot, engine: Engine, demo_port: int) -> None:
    _, channel = engine
    events: list[object] = []
    channel.events_received.connect(events.extend)
    opened = call(qtbot, channel, Open(host="127.0.0.1", port=demo_port))
    sid = opened["session_id"]
    assert call(qtbot, channel, Send(session_id=sid, frames=[b"hello"])) == {
        "frames": 1,
        "bytes": 5,
    }
    qtbot.waitUntil(
        lambda: any(isinstance(e, Received) and e.frames == [b"hello"] for e in events),
        timeout=TIMEOUT_MS,
    )
    call(qtbot, channel, Close(session_id=sid))
    qtbot.waitUntil(lambda: any(isinstance(e, Closed) for e in events), timeout=TIMEOUT_MS)
    kinds = [type(e).__name__ for e in events if getattr(e, "session_id", None) == sid]
    assert kinds[:2] == ["Connecting", "Connected"] and kinds[-1] == "Closed"
    assert call(qtbot, channel, Ping(token=9))["token"] == 9


def test_error_response_reaches_the_callback(qtbot: QtBot, engine: Engine) -> None:
    _, channel = engine
    box: list[tuple[object, CommandFailed | None]] = []
    channel.request(Send(session_id=777, frames=[b"x"]), lambda r, e: box.append((r, e)))
    qtbot.waitUntil(lambda: bool(box), timeout=TIMEOUT_MS)
    result, error = box[0]
    assert result is None and error is not None and error.type == "UnknownSession"


def test_flood_arrives_in_order_without_starving_the_event_loop(
    qtbot: QtBot, engine: Engine, demo_port: int
) -> None:
    _, channel = engine
    count = 300_000
    expected = [0]
    turns_with_events = [0]
    ticks = [0]
    ticks_during_flood: list[int] = []

    def on_events(events: list[object]) -> None:
        turns_with_events[0] += 1
        ticks_during_flood.append(ticks[0])
        for event in events:
            if isinstance(event, Received):
                for frame in event.frames:
                    assert int.from_bytes(frame[:8], "big") == expected[0]
                    expected[0] += 1

    channel.events_received.connect(on_events)
    # A zero-interval timer runs once per event-loop turn: it counts the turns the loop
    # got while the flood was being decoded.
    ticker = QTimer()
    ticker.setInterval(0)
    ticker.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    ticker.start()
    sid = call(qtbot, channel, Open(host="127.0.0.1", port=demo_port))["session_id"]
    channel.request(Send(session_id=sid, frames=[b"!stream %d" % count]))
    qtbot.waitUntil(lambda: expected[0] >= count, timeout=60_000)
    ticker.stop()
    assert expected[0] == count
    assert turns_with_events[0] > 10  # delivered in many turns, not one long one
    assert ticks_during_flood[-1] - ticks_during_flood[0] > 10  # the loop kept turning


def test_close_fails_pending_requests_with_engine_gone(
    qtbot: QtBot, engine: Engine, demo_port: int
) -> None:
    _, channel = engine
    sid = call(qtbot, channel, Open(host="127.0.0.1", port=demo_port))["session_id"]
    call(qtbot, channel, Send(session_id=sid, frames=[b"!stall"]))
    box: list[tuple[object, CommandFailed | None]] = []
    # The peer never reads: this send stays pending until close().
    channel.request(
        Send(session_id=sid, frames=[b"y" * 4_000_000] * 4), lambda r, e: box.append((r, e))
    )
    assert channel.pending == 1
    channel.close()
    assert box and box[0][1] is not None and box[0][1].type == "EngineGone"
    assert channel.pending == 0


def test_requests_fail_with_engine_busy_while_a_stopped_engine_leaves_the_limit_unread(
    qtbot: QtBot,
) -> None:
    with engine_process(qtbot, max_unwritten_bytes=1_000_000) as (process, channel):
        pid = process.processId()
        results: list[tuple[int, CommandFailed | None]] = []

        def record(i: int) -> Callable[[object, CommandFailed | None], None]:
            return lambda result, error: results.append((i, error))

        os.kill(pid, signal.SIGSTOP)
        try:
            # The pipe takes ~64 KiB; the rest waits in QProcess's buffer, up to the limit.
            for i in range(5):
                channel.request(Send(session_id=999, frames=[b"z" * 300_000]), record(i))
            qtbot.waitUntil(lambda: len(results) >= 2, timeout=TIMEOUT_MS)
            busy = [i for i, e in results if e is not None and e.type == "EngineBusy"]
            assert busy and min(busy) >= 3, results  # three fit under 1 MB, later ones do not
            assert process.bytesToWrite() <= 1_000_000
            # Small requests (a ping, an abort) still go: they are answered once it resumes.
            pong: list[Any] = []
            channel.request(Ping(token=5), lambda result, error: pong.append(result or error))
        finally:
            os.kill(pid, signal.SIGCONT)
        # Once it reads again, the requests that were sent get their (error) answers.
        qtbot.waitUntil(lambda: len(results) == 5, timeout=TIMEOUT_MS)
        answered = sorted(i for i, e in results if e is not None and e.type == "UnknownSession")
        assert answered == sorted(set(range(5)) - set(busy))
        qtbot.waitUntil(lambda: bool(pong), timeout=TIMEOUT_MS)
        assert pong[0]["token"] == 5, pong
        assert call(qtbot, channel, Ping(token=7))["token"] == 7


def test_read_remaining_delivers_what_a_deferred_turn_would_have(qtbot: QtBot) -> None:
    """An engine that ends while the channel's turns are deferred (its budget spent)
    still has its last words read, in order: the owner calls ``read_remaining``."""
    last_words = [
        Closed(session_id=1, by="shutdown", frames_in=3, at=1.0),
        ChannelClosed(reason="shutdown", message="the engine got SIGTERM", at=2.0),
    ]
    hello = Hello(
        protocol_version=1, engine_version="test", pid=1, methods=[], events=[],
        framing_presets={}, clock_offset=0.0,
    )  # fmt: skip
    device = QBuffer()
    device.setData(
        b"".join(encode_notification(e.METHOD, e.to_params()) for e in [hello, *last_words])
    )
    device.open(QIODevice.OpenModeFlag.ReadOnly)
    # A zero budget: a turn would decode nothing (and defer the rest for an hour).
    channel = EngineChannel(device, turn_budget_seconds=0.0, yield_ms=3_600_000)
    hellos: list[Hello] = []
    delivered: list[object] = []
    channel.hello_received.connect(hellos.append)
    channel.events_received.connect(delivered.extend)
    channel.read_remaining()
    assert hellos == [hello]
    assert delivered == last_words
