"""The receive loop (``engine.session.receive_frames``) on memory streams: no sockets."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from engine.session import receive_frames
from ipc.errors import FrameTooLarge, TruncatedFrame
from ipc.framing import FrameDecoder, FramingSpec, encode_frame, encode_frames


async def test_one_delivery_per_read_holding_every_frame_of_that_read(
    autojump_clock: trio.testing.MockClock,
) -> None:
    send, receive = trio.testing.memory_stream_one_way_pair()
    batches: list[list[bytes]] = []

    async def deliver(batch: list[bytes]) -> None:
        batches.append(batch)

    wire = encode_frames([b"a", b"bb", b"ccc"])
    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive_frames, receive, FrameDecoder(), deliver)
        await send.send_all(wire + wire[:3])
        await trio.testing.wait_all_tasks_blocked()
        assert batches == [[b"a", b"bb", b"ccc"]]
        await send.send_all(wire[3:])
        await send.aclose()
    assert batches == [[b"a", b"bb", b"ccc"], [b"a", b"bb", b"ccc"]]


async def test_a_slow_delivery_stops_the_reads(autojump_clock: trio.testing.MockClock) -> None:
    send, receive = trio.testing.lockstep_stream_one_way_pair()
    release = trio.Event()
    got: list[bytes] = []

    async def deliver(batch: list[bytes]) -> None:
        got.extend(batch)
        await release.wait()

    second_sent = trio.Event()

    async def send_second() -> None:
        # lockstep: send_all returns only once the reader took the bytes
        await send.send_all(encode_frame(b"second"))
        second_sent.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive_frames, receive, FrameDecoder(), deliver)
        await send.send_all(encode_frame(b"first"))
        nursery.start_soon(send_second)
        await trio.testing.wait_all_tasks_blocked()
        assert not second_sent.is_set()
        assert got == [b"first"]
        release.set()
        await second_sent.wait()
        await send.aclose()
    assert got == [b"first", b"second"]


async def test_eof_mid_frame_raises_truncated_frame_after_the_good_frames() -> None:
    send, receive = trio.testing.memory_stream_one_way_pair()
    got: list[bytes] = []

    async def deliver(batch: list[bytes]) -> None:
        got.extend(batch)

    await send.send_all(encode_frame(b"ok") + b"\x09\x00\x00\x00abc")
    await send.aclose()
    with pytest.raises(TruncatedFrame, match="3 of 9 payload bytes"):
        await receive_frames(receive, FrameDecoder(), deliver)
    assert got == [b"ok"]


async def test_oversize_header_raises_without_waiting_for_more_data() -> None:
    send, receive = trio.testing.memory_stream_one_way_pair()
    got: list[bytes] = []

    async def deliver(batch: list[bytes]) -> None:
        got.extend(batch)

    # The stream stays open: the error must come from the data already read.
    await send.send_all(encode_frame(b"ok") + b"\x00\x00\x01\x00")
    with trio.fail_after(5), pytest.raises(FrameTooLarge, match="frame length 65536 > max 100"):
        await receive_frames(receive, FrameDecoder(FramingSpec(max_frame_length=100)), deliver)
    assert got == [b"ok"]


async def test_small_reads_still_yield_every_frame() -> None:
    send, receive = trio.testing.memory_stream_one_way_pair()
    payloads = [bytes([n]) * n for n in range(40)]
    got: list[bytes] = []

    async def deliver(batch: list[bytes]) -> None:
        got.extend(batch)

    await send.send_all(encode_frames(payloads))
    await send.aclose()
    await receive_frames(receive, FrameDecoder(), deliver, receive_bytes=7)
    assert got == payloads
