"""The outbox's credit window holds data events back, never responses."""

from __future__ import annotations

from collections.abc import Iterator

import msgpack
import trio
import trio.testing

from engine.rpc.batching import MAX_NOTIFICATION_PAYLOAD_BYTES
from engine.rpc.outbox import Outbox
from ipc.codec import Notification
from ipc.rpc import frames_credit
from tests.engine.rpc.helpers import open_echo_session
from tests.ipc.helpers import open_raw_engine
from tools.demo_server import serve_demo


def cost(frames: list[bytes]) -> int:
    return frames_credit(sum(map(len, frames)), len(frames))


async def test_credit_window_holds_data_but_not_responses(nursery: trio.Nursery) -> None:
    port = await nursery.start(serve_demo)
    count = 100_000
    with trio.fail_after(30):
        async with open_raw_engine() as engine:
            session_id = await open_echo_session(engine, port)
            window = 64 * 1024
            assert (await engine.call(2, "flow_control", {"window_bytes": window})).error is None
            await engine.call(
                3, "send", {"session_id": session_id, "frames": [b"!stream %d" % count]}
            )
            # Never ack: data stops after about one window (plus at most one notification),
            # and responses still come.
            for token in range(100, 120):
                pong = await engine.call(token, "ping", {"token": token})
                assert pong.result["token"] == token
            held = [n.params["frames"] for n in engine.notifications if n.method == "received"]
            assert 0 < sum(map(cost, held)) <= window + MAX_NOTIFICATION_PAYLOAD_BYTES * 2
            # Acking what was consumed lets the rest through, in order.
            expected = 0
            pending = list(held)
            while expected < count:
                for frames in pending:
                    for frame in frames:
                        assert int.from_bytes(frame[:8], "big") == expected
                        expected += 1
                    await engine.write(msgpack.packb([2, "ack", [{"nbytes": cost(frames)}]]))
                msg = await engine.next_message()
                pending = []
                if isinstance(msg, Notification) and msg.method == "received":
                    pending = [msg.params["frames"]]


async def test_a_prelude_goes_first_under_credit_and_is_encoded_as_it_is_sent() -> None:
    outbox = Outbox()
    outbox.set_window(100)
    pulled: list[int] = []

    def prelude() -> Iterator[tuple[bytes, int]]:
        for n in range(3):
            pulled.append(n)
            yield b"p%d" % n, 60
        pulled.append(-1)
        yield b"end", 0

    outbox.push_event(b"live", 60)
    outbox.set_prelude(prelude())
    outbox.put_control(b"reply")
    send, receive = trio.testing.memory_stream_one_way_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(outbox.serve_writer, send)
        await trio.testing.wait_all_tasks_blocked()
        # Control first; then the prelude until the window is used, the rest not pulled.
        assert await receive.receive_some() == b"replyp0p1"
        assert pulled == [0, 1, 2]
        outbox.ack(60)
        await trio.testing.wait_all_tasks_blocked()
        assert await receive.receive_some() == b"p2end"  # live waits for more credit
        outbox.ack(60)
        await trio.testing.wait_all_tasks_blocked()
        assert await receive.receive_some() == b"live"
        nursery.cancel_scope.cancel()
