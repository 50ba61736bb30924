"""Idle sessions dozing in the engine's readiness watcher, with no task (engine/readiness.py),
over real sockets on 127.0.0.1."""

from __future__ import annotations

import select
import socket

import pytest
import trio
import trio.testing

from engine import Engine, open_engine
from engine.readiness import ReadinessWatcher, open_watcher
from ipc import schema
from tests.engine.helpers import (
    echo,
    next_event,
    reply_then_close,
    session_tasks,
    sleep_forever,
    start_server,
)

DEADLINE_SECONDS = 10


def watcher_of(engine: Engine) -> ReadinessWatcher:
    assert engine._watcher is not None
    return engine._watcher


async def test_idle_sessions_wait_in_the_watcher_and_leave_it_when_spoken_to(
    nursery: trio.Nursery,
) -> None:
    port = await start_server(nursery, echo)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            ids = [await engine.connect("127.0.0.1", port) for _ in range(3)]
            watcher = watcher_of(engine)
            await trio.testing.wait_all_tasks_blocked()
            assert len(watcher) == 3
            assert session_tasks(engine) == []  # dozing: no task at all
            await engine.send(ids[1], [b"wake"])
            received = await next_event(engine, schema.Received)
            assert (received.session_id, received.frames) == (ids[1], [b"re:wake"])
            assert len(watcher) == 2
            assert len(session_tasks(engine)) == 1


async def test_closing_a_dozing_session_takes_it_out_and_spares_the_others(
    nursery: trio.Nursery,
) -> None:
    port = await start_server(nursery, echo)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            first = await engine.connect("127.0.0.1", port)
            second = await engine.connect("127.0.0.1", port)
            third = await engine.connect("127.0.0.1", port)
            watcher = watcher_of(engine)
            await trio.testing.wait_all_tasks_blocked()
            await engine.abort(first)
            await engine.close(second)
            assert len(watcher) == 1
            # The socket numbers are reused by new sessions: no stale registration.
            fourth = await engine.connect("127.0.0.1", port)
            for session_id in (third, fourth):
                await engine.send(session_id, [b"still here"])
                received = await next_event(engine, schema.Received)
                assert (received.session_id, received.frames) == (session_id, [b"re:still here"])


async def test_a_peer_closing_a_dozing_session_wakes_it_as_closed_by_peer(
    nursery: trio.Nursery,
) -> None:
    port = await start_server(nursery, reply_then_close(b""))
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            session_id = await engine.connect("127.0.0.1", port)
            closed = await next_event(engine, schema.Closed)
            assert (closed.session_id, closed.by) == (session_id, "peer")
            assert len(watcher_of(engine)) == 0


async def test_shutdown_wakes_dozing_sessions_to_close_within_the_deadline(
    nursery: trio.Nursery,
) -> None:
    port = await start_server(nursery, sleep_forever)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            ids = {await engine.connect("127.0.0.1", port) for _ in range(5)}
            watcher = watcher_of(engine)
        closed = {
            event.session_id async for event in engine.events if isinstance(event, schema.Closed)
        }
        assert closed == ids
        assert len(watcher) == 0


async def test_a_descriptor_epoll_refuses_is_an_os_error_and_not_kept() -> None:
    # Raised to the session, which ends with SessionError (the engine carries on).
    closed = socket.socket()
    fd = closed.fileno()
    closed.close()
    with open_watcher() as watcher:
        assert watcher is not None
        with pytest.raises(OSError):
            watcher.doze(fd, Sleeper())
        assert len(watcher) == 0


class Sleeper:
    """A stand-in sleeper that records how it was started again."""

    def __init__(self) -> None:
        self.resumed: list[bool] = []

    async def resume(self, readable: bool) -> None:
        self.resumed.append(readable)


async def test_a_sleeper_starts_again_when_readable_or_woken_and_only_once(
    nursery: trio.Nursery,
) -> None:
    readable, woken = Sleeper(), Sleeper()
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with a, b, c, d, open_watcher() as watcher:
        assert watcher is not None
        watcher.start(nursery)
        watcher.doze(a.fileno(), readable)
        watcher.doze(c.fileno(), woken)
        b.send(b"x")
        watcher.wake(c.fileno())
        with trio.fail_after(DEADLINE_SECONDS):
            while not (readable.resumed and woken.resumed):
                await trio.testing.wait_all_tasks_blocked()
        watcher.wake(a.fileno())  # started already: a wake changes nothing
        d.send(b"x")  # nor bytes after the wake: the socket left the set
        await trio.testing.wait_all_tasks_blocked()
        assert (readable.resumed, woken.resumed) == ([True], [False])
        assert len(watcher) == 0


async def test_without_epoll_sessions_wait_with_trio(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Other systems (no epoll) fall back to trio.lowlevel.wait_readable.
    monkeypatch.delattr(select, "epoll")
    port = await start_server(nursery, echo)
    with trio.fail_after(DEADLINE_SECONDS):
        async with open_engine() as engine:
            assert engine._watcher is None
            session_id = await engine.connect("127.0.0.1", port)
            await engine.send(session_id, [b"hi"])
            received = await next_event(engine, schema.Received)
            assert received.frames == [b"re:hi"]
