"""The outbox's credit window holds data events back, never responses."""

from __future__ import annotations

import msgpack
import trio

from engine.rpc.batching import MAX_NOTIFICATION_PAYLOAD_BYTES
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
