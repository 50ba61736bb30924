"""The socket transport with real sockets and an in-process engine: attach, detach and
re-attach while frames flow; several controllers, one of which stops reading; who may
connect; what ``shutdown`` from one of several controllers does."""

from __future__ import annotations

import functools
import logging
import os
import socket
import tempfile
from pathlib import Path

import pytest
import trio
import trio.testing

from engine.rpc.broadcast import MAX_BACKLOG_BYTES
from engine.rpc.outbox import MAX_QUEUED_EVENT_BYTES
from engine.rpc.unix import MAX_CONTROLLERS
from ipc.codec import MessageDecoder, Notification
from ipc.rpc import CommandFailed
from ipc.schema import (
    Attach,
    ChannelClosed,
    Closed,
    History,
    HistoryEnd,
    ListSessions,
    Open,
    Ping,
    Received,
    Send,
    Shutdown,
)
from ipc.trio_channel import ChannelRefused, EngineClient, connect_socket
from tests.engine.rpc.socket_helpers import sequence_numbers, serving
from tools.demo_server import serve_demo

#: Another user for the permission tests (``nobody`` on Debian-like systems).
OTHER_UID = 65534


async def _open(client: EngineClient, port: int) -> int:
    return int((await client.call(Open(host="127.0.0.1", port=port)))["session_id"])


async def test_attach_detach_and_reattach_while_frames_flow(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    # A script keeps sending numbered frames into an echo session the whole time. A
    # first GUI attaches and detaches mid-flow; a second attaches later, mid-flow too.
    # The session lives on throughout, and what the second sees of it (its history,
    # then live frames) runs on without a gap or a repeat to the last frame.
    port = await nursery.start(functools.partial(serve_demo, mode="echo"))
    second_attached = trio.Event()
    total = 0

    async def feed(client: EngineClient, sid: int, task_status: trio.TaskStatus[None]) -> None:
        nonlocal total
        batches_after = 20
        task_status.started()
        while batches_after:
            frames = [n.to_bytes(8, "big") for n in range(total, total + 100)]
            await client.call(Send(session_id=sid, frames=frames))
            total += len(frames)
            batches_after -= second_attached.is_set()

    with trio.fail_after(30):
        async with serving(tmp_path) as path, connect_socket(path) as script:
            sid = await _open(script, port)
            async with trio.open_nursery() as feeding:
                await feeding.start(feed, script, sid)
                async with connect_socket(path) as first:
                    snapshot = await first.call(Attach())
                    assert [s["session_id"] for s in snapshot["sessions"]] == [sid]
                    async for event in first.events():
                        if isinstance(event, Received):
                            break
                async with connect_socket(path) as second:
                    snapshot = await second.call(Attach())
                    second_attached.set()
                    (session,) = snapshot["sessions"]
                    assert session["state"] == "connected"
                    seen: list[int] = []
                    history_frames = 0
                    async for event in second.events():
                        if isinstance(event, History) and event.direction == "in":
                            seen += sequence_numbers(event.frames)
                            history_frames += len(event.frames)
                        elif isinstance(event, HistoryEnd):
                            assert event.frames == snapshot["history"]["frames"]
                        elif isinstance(event, Received):
                            seen += sequence_numbers(event.frames)
                            if not feeding.child_tasks and seen[-1] == total - 1:
                                break
            assert 0 < history_frames < len(seen)  # some history, then live frames
            assert seen == list(range(seen[0], total))
            # The snapshot's counters cover exactly the frames before the live ones.
            assert session["frames_in"] == total - (len(seen) - history_frames)


async def test_one_controller_not_reading_never_stalls_another(
    nursery: trio.Nursery, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # `stalled` attaches with a small credit window and never reads: its backlog passes
    # the bound and it is disconnected with a reason. `reader` gets every frame.
    size = 16 * 1024
    count = (MAX_BACKLOG_BYTES + MAX_QUEUED_EVENT_BYTES) * 2 // size
    port = await nursery.start(functools.partial(serve_demo, mode="echo"))
    caplog.set_level(logging.INFO, logger="framewire.rpc")
    with trio.fail_after(30):
        async with serving(tmp_path) as path, connect_socket(path) as reader:
            stalled = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            await stalled.connect(os.fspath(path))
            await stalled.send(_request(1, "flow_control", {"window_bytes": 65536}))
            await stalled.send(_request(2, "attach", {"history": False}))
            await reader.call(Attach(history=False))
            sid = await _open(reader, port)
            await reader.call(Send(session_id=sid, frames=[f"!stream {count} {size}".encode()]))
            seen: list[int] = []
            async for event in reader.events():
                if isinstance(event, Received):
                    seen += sequence_numbers(event.frames)
                    if seen[-1] == count - 1:
                        break
            assert seen == list(range(count))
            # The stalled controller's last message says why it was disconnected.
            notifications = [
                m for m in await _read_until_eof(stalled) if isinstance(m, Notification)
            ]
            assert notifications[0].method == "hello"
            assert notifications[-1].method == "channel_closed"
            assert notifications[-1].params["reason"] == "fell_behind"
            stalled.close()
            assert "controller 2 disconnected" in caplog.text  # `reader` is controller 1
            assert (await reader.call(Ping(token=7)))["token"] == 7


def _request(msgid: int, method: str, params: dict[str, object]) -> bytes:
    from ipc.codec import encode_request

    return encode_request(msgid, method, params)


async def _read_until_eof(sock: trio.socket.SocketType) -> list[object]:
    decoder = MessageDecoder()
    while data := await sock.recv(1 << 20):
        decoder.receive_data(data)
    return list(decoder)


async def test_detaching_never_stops_the_engine_and_shutdown_from_one_stops_it_for_all(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await nursery.start(serve_demo)
    with trio.fail_after(20):
        async with serving(tmp_path) as path:
            async with connect_socket(path) as leaving:
                await leaving.call(Attach())
                sid = await _open(leaving, port)
            async with connect_socket(path) as watcher, connect_socket(path) as stopper:
                await watcher.call(Attach())
                (session,) = (await stopper.call(ListSessions()))["sessions"]
                assert session["session_id"] == sid  # the session outlived its opener
                assert await stopper.call(Shutdown()) == {}
                events = [event async for event in watcher.events()]
                closed = [e for e in events if isinstance(e, Closed)]
                assert [(e.session_id, e.by) for e in closed] == [(sid, "local")]
                last = events[-1]
                assert isinstance(last, ChannelClosed) and last.reason == "shutdown"
                assert "controller 3" in last.message and "asked" in last.message
                with pytest.raises(CommandFailed) as failed:
                    await watcher.call(Ping(token=0))
                assert failed.value.type == "EngineGone"
            assert not path.exists()  # the engine is gone, and so is its socket


async def test_another_user_is_refused_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    # The folder and the socket keep others out (below); here they are opened on purpose
    # (pytest's tmp_path is not reachable by others), so the peer check behind them is
    # what a stranger meets.
    caplog.set_level(logging.INFO, logger="framewire.rpc")
    with tempfile.TemporaryDirectory() as name, trio.fail_after(20):
        folder = Path(name)
        async with serving(folder) as path:
            os.chmod(folder, 0o777)
            os.chmod(path, 0o666)
            status, output = await trio.to_thread.run_sync(_connect_as, OTHER_UID, path)
            assert status == 0, output
            decoder = MessageDecoder()
            decoder.receive_data(output)
            (message,) = list(decoder)
            assert isinstance(message, Notification) and message.method == "channel_closed"
            assert message.params["reason"] == "refused"
            assert f"uid {os.getuid()}" in message.params["message"]
            assert f"uid {OTHER_UID}" in caplog.text and "refused" in caplog.text
            async with connect_socket(path) as client:  # the engine's own user still gets in
                assert (await client.call(Ping(token=3)))["token"] == 3


def _connect_as(uid: int, path: Path) -> tuple[int, bytes]:
    """Fork a child that drops to ``uid``, connects to ``path`` and reads until EOF;
    return its exit status and what it read (or the error it met)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10)
                sock.connect(os.fspath(path))
                while data := sock.recv(65536):
                    os.write(write_end, data)
        except OSError as exc:
            os.write(write_end, f"{type(exc).__name__}: {exc}".encode())
            status = 1
        os._exit(status)
    os.close(write_end)
    chunks = []
    while data := os.read(read_end, 65536):
        chunks.append(data)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks)


async def test_another_user_cannot_reach_the_socket(tmp_path: Path) -> None:
    # Its folder is 0700 and the socket 0600; the folder is in a reachable place here.
    with tempfile.TemporaryDirectory() as name, trio.fail_after(20):
        os.chmod(name, 0o755)
        async with serving(Path(name) / "private") as path:
            status, output = await trio.to_thread.run_sync(_connect_as, OTHER_UID, path)
            assert status == 1 and output.startswith(b"PermissionError"), output


async def test_controllers_past_the_limit_are_refused(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with serving(tmp_path) as path:
            socks = []
            for _ in range(MAX_CONTROLLERS):
                sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                await sock.connect(os.fspath(path))
                assert await sock.recv(1 << 16)  # its hello: the engine counts it now
                socks.append(sock)
            refusal = await _refusal(path)
            assert refusal is not None and "too many controllers" in refusal
            socks.pop().close()
            await trio.testing.wait_all_tasks_blocked()  # the engine saw it go
            assert await _refusal(path) is None
            for sock in socks:
                sock.close()


async def _refusal(path: Path) -> str | None:
    """Why the engine refused a controller, or None if it answered a ping."""
    refusal = None
    try:
        async with connect_socket(path) as client:
            await client.call(Ping(token=0))
    except* ChannelRefused as group:
        refusal = str(group.exceptions[0])
    return refusal


async def test_a_bug_met_serving_one_controller_costs_only_its_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: object, *, history: bool) -> None:
        raise RuntimeError("a bug in the snapshot")

    monkeypatch.setattr("engine.rpc.snapshot.Journal.take", broken)
    with trio.fail_after(20):
        async with serving(tmp_path) as path, connect_socket(path) as bystander:
            async with connect_socket(path) as victim:
                with pytest.raises(CommandFailed) as failed:
                    await victim.call(Attach())
                assert failed.value.type == "EngineGone"
            assert (await bystander.call(Ping(token=4)))["token"] == 4
    assert "internal error" in caplog.text and "a bug in the snapshot" in caplog.text


async def test_a_controller_whose_bytes_break_the_stream_is_the_only_one_disconnected(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    # The attached GUI keeps its session and its events; the offender (a raw socket)
    # gets channel_closed naming the violation and its offset, then EOF.
    port = await nursery.start(functools.partial(serve_demo, mode="echo"))
    bomb = b"\x94\x00\x05\xa4ping\x91\x81\xa5token\xc6\xff\xff\xff\xff"  # a 4 GiB token
    with trio.fail_after(20):
        async with serving(tmp_path) as path, connect_socket(path) as gui:
            await gui.call(Attach(history=False))
            sid = await _open(gui, port)
            offender = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            await offender.connect(os.fspath(path))
            ping = _request(1, "ping", {"token": 1})
            await offender.send(ping + bomb + ping * 100)
            messages = await _read_until_eof(offender)
            offender.close()
            last = messages[-1]
            assert isinstance(last, Notification) and last.method == "channel_closed"
            assert last.params["reason"] == "protocol_violation"
            assert last.params["details"] == {"kind": "too_large", "offset": len(ping) + 16}
            await gui.call(Send(session_id=sid, frames=[b"still here"]))
            async for event in gui.events():
                if isinstance(event, Received) and event.frames == [b"still here"]:
                    break
            assert (await gui.call(Ping(token=7)))["token"] == 7
