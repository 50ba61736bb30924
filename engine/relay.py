"""A relay pair: a client the relay accepted, and the upstream server it connected to for it.

For each client its listener accepts, ``start_pair`` makes two sessions of the engine: the
*client leg* (the accepted stream, framed with the listener's framing) and the *upstream
leg* (a connection to the upstream server, framed with the upstream framing). They are
sessions like any other (same events, counters, flow control, close and abort); what makes
them a pair is their ``Role``: each leg's ``Forward`` writes what it reads to the other leg
(``engine.forward``), reported once as the reading leg's ``Received`` with the pair and the
direction (``c2s``: read from the client; ``s2c``: from the upstream). Neither leg
forwards before both are up: the client's first frames wait in its reader (one read at
most) until the upstream is connected. A ``send`` to either leg injects frames into it.

``Pair.run`` (a task of the engine's nursery: closing the listener leaves the pair be)
waits for the upstream, says ``PairOpened``, and then, when the first leg ends, ends the
other one as the first ended:

* closed (the peer closed, or it was closed here, or the engine is shutting down): the
  other leg is closed after flushing what was queued for it (within
  ``PAIR_FLUSH_SECONDS``, then reset);
* reset or failed (an error, a protocol error, an abort): the other leg is reset at once;
* an upstream that refuses or does not answer in time closes the client, with the reason
  in its ``Closed.details["reason"]``.

Once both legs are over it says ``PairClosed`` with the frames and bytes relayed each way
and how it ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from engine.errors import ConnectFailed, SessionClosed
from engine.forward import Forward
from engine.limits import Activity, ReadGuard
from engine.role import Role
from engine.streams import Accept, Connect, Transport, host_and_port
from ipc import schema
from ipc.cli_args import format_address
from ipc.framing import FramingSpec
from ipc.schema import ClosedBy

if TYPE_CHECKING:
    from engine.listener import Listener
    from engine.session import Emit, Session

__all__ = ["PAIR_FLUSH_SECONDS", "Pair", "Upstream", "start_pair"]

#: How long the surviving leg of a pair may take to flush what was queued for it once the
#: other leg closed; then it is reset.
PAIR_FLUSH_SECONDS = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Upstream:
    """Where a relay connects for each client, and how."""

    host: str
    port: int
    spec: FramingSpec
    connect_timeout: float = 10.0

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)


class Pair:
    """The two legs of one relayed connection (see the module docstring)."""

    __slots__ = (
        "_emit",
        "_ending",
        "_first",
        "client",
        "id",
        "listener_id",
        "ready",
        "reason",
        "upstream",
    )

    def __init__(self, pair_id: int, listener_id: int, emit: Emit) -> None:
        self.id = pair_id
        self.listener_id = listener_id
        self.client: Session | None = None
        self.upstream: Session | None = None
        #: Set once both legs are up; the legs' forwards wait for it.
        self.ready = trio.Event()
        #: How the pair ended (which leg first, and why); "" while it lives.
        self.reason = ""
        self._emit = emit
        self._ending = trio.Event()
        #: The leg that ended first.
        self._first: Session | None = None

    def leg_ending(self, leg: Session, by: ClosedBy, error: BaseException | None) -> None:
        """A leg started ending (``Session._end``): end the other one as this one ends."""
        if self._first is not None:
            return
        self._first = leg
        other = self.upstream if leg is self.client else self.client
        assert other is not None and leg.role is not None
        name = leg.role.leg
        self.reason = {
            "peer": f"the {name} closed the connection",
            "local": f"the {name} leg was closed",
            "abort": f"the {name} leg was reset",
            "error": f"the {name} leg failed: {error}",
            "shutdown": "the engine shut down",
        }[by]
        if leg.reason_detail:
            self.reason += f" ({leg.reason_detail})"
        if by in ("error", "abort"):
            other.end_now("abort", self.reason)
        elif not other.opened:
            other.end_now("local", self.reason)  # still connecting: give up on it
        self._ending.set()

    async def run(self) -> None:
        """Wait for the upstream, open the pair, end the other leg after the first."""
        client, upstream = self.client, self.upstream
        assert client is not None and upstream is not None
        try:
            await upstream.wait_connected()
        except ConnectFailed as exc:
            self.reason = f"the upstream could not be reached: {exc.message}"
            await _close_within(client, self.reason)
        except SessionClosed:
            pass  # the client left while the upstream was connecting (see leg_ending)
        else:
            await self._emit(
                schema.PairOpened(
                    pair_id=self.id,
                    listener_id=self.listener_id,
                    client_session_id=client.id,
                    upstream_session_id=upstream.id,
                    client=client.peer,
                    upstream=upstream.peer,
                    at=trio.current_time(),
                )
            )
            self.ready.set()
            await self._ending.wait()
            await _close_within(upstream if self._first is client else client, self.reason)
        await client.wait_over()
        await upstream.wait_over()
        await self._emit(
            schema.PairClosed(
                pair_id=self.id,
                listener_id=self.listener_id,
                reason=self.reason,
                frames_c2s=client.counters.frames_in,
                bytes_c2s=client.counters.bytes_in,
                frames_s2c=upstream.counters.frames_in,
                bytes_s2c=upstream.counters.bytes_in,
                at=trio.current_time(),
            )
        )


async def _close_within(leg: Session, reason: str) -> None:
    """Close ``leg`` after flushing, or reset it if that takes too long."""
    with trio.move_on_after(PAIR_FLUSH_SECONDS):
        await leg.close(reason)
    await leg.abort(reason)  # returns at once if the close finished


def start_pair(listener: Listener, transport: Transport, upstream: Upstream) -> Session:
    """Make the two legs for an accepted client and start the pair; return the client leg."""
    engine = listener.engine
    pair = Pair(engine.new_pair_id(), listener.id, engine.emit)
    activity = Activity()  # the pair is idle only when both legs are
    to_upstream = Forward(None, pair_id=pair.id, direction="c2s", ready=pair.ready)
    to_client = Forward(None, pair_id=pair.id, direction="s2c", ready=pair.ready)
    host, port = host_and_port(transport.peer)
    client = engine.start_session(
        Accept(transport, listener.id, pair_id=pair.id),
        host,
        port,
        spec=listener.spec,
        label=listener.label,
        role=Role(
            kind="relay",
            listener_id=listener.id,
            guard=ReadGuard(listener.limits, activity),
            forward=to_upstream,
            pair=pair,
            leg="client",
            on_end=listener.client_ended,
        ),
    )
    leg = engine.start_session(
        Connect(upstream.connect_timeout, pair_id=pair.id),
        upstream.host,
        upstream.port,
        spec=upstream.spec,
        label=listener.label,
        role=Role(
            kind="relay",
            listener_id=listener.id,
            guard=ReadGuard(listener.limits, activity),
            forward=to_client,
            pair=pair,
            leg="upstream",
        ),
    )
    to_upstream.bind(client, leg)
    to_client.bind(leg, client)
    pair.client, pair.upstream = client, leg
    engine.spawn(pair.run)
    return client
