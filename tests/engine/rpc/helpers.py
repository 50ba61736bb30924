"""What the RPC tests share: an echo session on a raw engine, and a check that the engine
still serves it."""

from __future__ import annotations

from pathlib import Path

from ipc.codec import Notification
from tests.ipc.helpers import RawEngine

#: What ``setup`` yields: the engine, its echo session, its stderr file.
Setup = tuple[RawEngine, int, Path]


async def open_echo_session(engine: RawEngine, port: int) -> int:
    response = await engine.call(1000, "open", {"host": "127.0.0.1", "port": port})
    assert response.error is None
    session_id: int = response.result["session_id"]
    return session_id


async def assert_still_serving(engine: RawEngine, session_id: int, msgid: int) -> None:
    """The engine answers a ping and the earlier session still echoes."""
    pong = await engine.call(msgid, "ping", {"token": msgid})
    assert pong.error is None and pong.result["token"] == msgid
    sent = await engine.call(msgid + 1, "send", {"session_id": session_id, "frames": [b"still"]})
    assert sent.error is None
    while True:
        # The echo may have come before the send's response (kept in notifications).
        for n in engine.notifications:
            if n.method == "received" and n.params["frames"] == [b"still"]:
                return
        msg = await engine.next_message()
        assert msg is not None
        if isinstance(msg, Notification):
            engine.notifications.append(msg)
