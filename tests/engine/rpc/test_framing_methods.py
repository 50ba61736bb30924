"""The IPC side of framing: extended framings in ``open``, ``sniff`` for a guess, and
``capture`` on and off, against a real engine process."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from ipc.framing import PRESETS, encode_frame
from ipc.recording import FrameRecord, read_recording
from ipc.rpc import CommandFailed
from ipc.schema import Capture, Open, Received, Send, Sniff
from ipc.trio_channel import open_engine_process
from tests.engine.helpers import echo_with, refused_port, reply_then_close, start_server

DEADLINE_SECONDS = 20


async def test_sniff_returns_the_raw_first_bytes_and_a_failed_connect_is_an_error(
    nursery: trio.Nursery,
) -> None:
    greeting = encode_frame(b"welcome, client!", PRESETS["be32"])
    port = await start_server(nursery, reply_then_close(greeting))
    sock, closed_port = refused_port()
    with sock, trio.fail_after(DEADLINE_SECONDS):
        async with open_engine_process() as engine:
            result = await engine.call(Sniff(host="127.0.0.1", port=port, wait=5.0))
            assert result == {"data": greeting, "closed": True, "peer": f"127.0.0.1:{port}"}
            with pytest.raises(CommandFailed) as failed:
                await engine.call(Sniff(host="127.0.0.1", port=closed_port))
            assert failed.value.type == "ConnectFailed"
            with pytest.raises(CommandFailed, match="max_bytes must be in"):
                await engine.call(Sniff(host="127.0.0.1", port=port, max_bytes=10**9))


async def test_capture_on_and_off_with_a_varint_session(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await start_server(nursery, echo_with(PRESETS["varint"]))
    path = tmp_path / "gui-capture.jsonl"
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine_process() as engine:
            started = await engine.call(Capture(path=str(path)))
            assert started == {"path": str(path), "active": True, "lines": 0}
            framing = {"length_size": "varint", "max_frame_length": 1000}
            opened = await engine.call(Open(host="127.0.0.1", port=port, framing=framing))
            sid = opened["session_id"]
            await engine.call(Send(session_id=sid, frames=[b"x" * 300]))
            async for event in engine.events():
                if isinstance(event, Received):
                    assert event.frames == [b"re:" + b"x" * 300]
                    break
            stopped = await engine.call(Capture())
            assert stopped["active"] is False and stopped["lines"] == 4  # engine, open, out, in
            with pytest.raises(CommandFailed) as failed:
                await engine.call(Capture(path=str(tmp_path / "no-dir" / "c.jsonl")))
            assert failed.value.type == "CaptureFailed"
    frames = [
        r for r in read_recording(path.read_text().splitlines()) if isinstance(r, FrameRecord)
    ]
    assert [(f.dir, len(f.payload), f.framing) for f in frames] == [
        ("out", 300, "varint,max=1000"),
        ("in", 303, "varint,max=1000"),
    ]
