"""Continuous capture: every frame and session event, in the recording format, rotated by
size, written off the event path (engine.capture)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from engine import Engine, open_engine
from engine.capture import rotated_name
from ipc import schema
from ipc.recording import EventRecord, FrameRecord, read_recording
from tests.engine.helpers import echo, events_until_closed, start_server

DEADLINE_SECONDS = 10


async def drain(engine: Engine) -> None:
    async for _ in engine.events:
        pass


def records(path: Path) -> list[FrameRecord | EventRecord]:
    return list(read_recording(path.read_text(encoding="utf-8").splitlines()))


async def test_a_capture_holds_every_frame_both_ways_and_the_session_events(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await start_server(nursery, echo)
    path = tmp_path / "capture.jsonl"
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            engine.start_capture(str(path))
            sid = await engine.connect("127.0.0.1", port)
            await engine.send(sid, [b"hello", b"\xff\x00binary"])
            got = 0
            async for event in engine.events:
                if isinstance(event, schema.Received):
                    got += len(event.frames)
                    if got == 2:
                        break
            await engine.close(sid)
            await events_until_closed(engine, sid)
    lines = records(path)
    kinds = [r.event if isinstance(r, EventRecord) else r.dir for r in lines]
    assert kinds == ["engine", "open", "out", "out", "in", "in", "close"]
    frames = [r for r in lines if isinstance(r, FrameRecord)]
    assert [f.payload for f in frames] == [
        b"hello",
        b"\xff\x00binary",
        b"re:hello",
        b"re:\xff\x00binary",
    ]
    assert all(
        f.session == sid and f.peer == f"127.0.0.1:{port}" and f.framing == "le32" for f in frames
    )
    assert lines[-1].detail == "local"  # type: ignore[union-attr]
    assert frames[0].t <= frames[-1].t


async def test_a_capture_rotates_by_size_and_keeps_so_many_files(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await start_server(nursery, echo)
    path = tmp_path / "cap.jsonl"
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine, trio.open_nursery() as inner:
            engine.start_capture(str(path), max_bytes=2048, keep=2)
            inner.start_soon(drain, engine)
            sid = await engine.connect("127.0.0.1", port)
            for number in range(60):
                await engine.send(sid, [b"frame %03d " % number + b"x" * 40])
            await engine.close(sid)
            inner.cancel_scope.cancel()
    files = [path, rotated_name(path, 1), rotated_name(path, 2)]
    assert [p.name for p in files] == ["cap.jsonl", "cap.1.jsonl", "cap.2.jsonl"]
    assert all(p.exists() for p in files)
    assert not rotated_name(path, 3).exists()
    assert all(p.stat().st_size <= 2048 for p in files)
    # Oldest first, the kept files are one unbroken run of the session's lines.
    kept = [r for p in reversed(files) for r in records(p)]
    sent = [r.payload for r in kept if isinstance(r, FrameRecord) and r.dir == "out"]
    assert sent == [b"frame %03d " % n + b"x" * 40 for n in range(60 - len(sent), 60)]
    assert isinstance(kept[-1], EventRecord) and kept[-1].event == "close"


async def test_a_capture_path_that_cannot_be_written_is_refused_at_once(tmp_path: Path) -> None:
    async with open_engine() as engine:
        with pytest.raises(OSError):
            engine.start_capture(str(tmp_path / "no-such-dir" / "c.jsonl"))
        assert engine.capture is None
