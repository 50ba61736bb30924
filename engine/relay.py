"""A relay pair: a client the relay accepted, and the upstream server it connected to for it.

For each client its listener accepts, a pair makes two sessions of the engine: the
*client leg* (the accepted stream, framed with the listener's framing; ``start_pair``
makes it) and, once that one is up, the *upstream leg* (a connection to the upstream
server, framed with the upstream framing), so ``Accepted`` always comes before the
upstream's ``Connecting``. They are
sessions like any other (same events, counters, flow control, close and abort); what makes
them a pair is their ``Role``: each leg's ``Forward`` writes what it reads to the other leg
(``engine.forward``), reported once as the reading leg's ``Received`` with the pair and the
direction (``c2s``: read from the client; ``s2c``: from the upstream). Neither leg
forwards before both are up: the client's first frames wait in its reader (one read at
most) until the upstream is connected. A ``send`` to either leg injects frames into it.

``Pair.run`` (a task of the engine's nursery: closing the listener leaves the pair be)
connects the upstream leg, says ``PairOpened``, and then, when the first leg ends, ends the
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

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from engine.errors import ConnectFailed, EngineError, SessionClosed
from engine.forward import Forward
from engine.limits import Activity, ReadGuard
from engine.role import Role
from engine.session import Session, error_kind
from engine.streams import Accept, Connect, Opening, Transport, host_and_port
from engine.tls import SecureConnect
from ipc import schema
from ipc.cli_args import format_address
from ipc.framing import FramingSpec
from ipc.schema import ClosedBy
from ipc.tls import ClientTls

if TYPE_CHECKING:
    from engine.listener import Listener

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
    #: TLS to the upstream (None: plaintext), and its context (``engine.tls``).
    tls: ClientTls | None = None
    context: ssl.SSLContext | None = None

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)


class Pair:
    """The two legs of one relayed connection (see the module docstring)."""

    __slots__ = (
        "_ending",
        "_first",
        "_listener",
        "_target",
        "activity",
        "client",
        "id",
        "listener_id",
        "ready",
        "reason",
        "to_client",
        "to_upstream",
        "upstream",
    )

    def __init__(self, pair_id: int, listener: Listener, target: Upstream) -> None:
        self.id = pair_id
        self.listener_id = listener.id
        self._listener = listener
        self._target = target
        self.client: Session | None = None
        self.upstream: Session | None = None
        #: Each leg's forward to the other.
        self.to_upstream: Forward | None = None
        self.to_client: Forward | None = None
        #: When bytes last moved on either leg: the pair is idle only when both are.
        self.activity = Activity()
        #: Set once both legs are up; the legs' forwards wait for it.
        self.ready = trio.Event()
        #: How the pair ended (which leg first, and why); "" while it lives.
        self.reason = ""
        self._ending = trio.Event()
        #: The leg that ended first.
        self._first: Session | None = None

    def leg_ending(self, leg: Session, by: ClosedBy, error: BaseException | None) -> None:
        """A leg started ending (``Session._end``): end the other one as this one ends."""
        if self._first is not None:
            return
        self._first = leg
        other = self.upstream if leg is self.client else self.client
        assert leg.role is not None
        name = leg.role.leg
        self.reason = {
            "peer": f"the {name} closed the connection",
            "local": f"the {name} leg was closed",
            "abort": f"the {name} leg was reset",
            "error": f"the {name} leg failed: {error_kind(error)[1] if error else 'error'}",
            "shutdown": "the engine shut down",
        }[by]
        if leg.reason_detail:
            self.reason += f" ({leg.reason_detail})"
        if other is None:
            pass  # the client left before the upstream leg was made: it will not be
        elif by in ("error", "abort"):
            other.end_now("abort", self.reason)
        elif not other.opened:
            other.end_now("local", self.reason)  # still connecting: give up on it
        self._ending.set()

    async def run(self) -> None:
        """Connect the upstream leg once the client leg is up, open the pair, end the
        other leg after the first, report the end."""
        client = self.client
        assert client is not None
        upstream = None
        try:
            await client.wait_connected()
            upstream = self._start_upstream()
            await upstream.wait_connected()
        except SessionClosed:
            pass  # the client left first (see leg_ending), or the engine is shutting down
        except ConnectFailed as exc:
            await self._give_up(f"the upstream could not be reached: {exc.message}")
        except EngineError as exc:  # no room for the upstream leg
            await self._give_up(f"no upstream leg: {exc}")
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
        if upstream is not None:
            await upstream.wait_over()
        await self._emit(
            schema.PairClosed(
                pair_id=self.id,
                listener_id=self.listener_id,
                reason=self.reason,
                frames_c2s=client.counters.frames_in,
                bytes_c2s=client.counters.bytes_in,
                frames_s2c=0 if upstream is None else upstream.counters.frames_in,
                bytes_s2c=0 if upstream is None else upstream.counters.bytes_in,
                at=trio.current_time(),
            )
        )

    async def _give_up(self, reason: str) -> None:
        """No upstream: close the client, saying why."""
        assert self.client is not None
        self._first, self.reason = self.client, reason  # the client's end says no more
        await _close_within(self.client, reason)

    def _start_upstream(self) -> Session:
        """Make the upstream leg and bind the two forwards to their targets.

        Raises:
            EngineError: the engine has no room for it, or is shutting down.
        """
        client, target, listener = self.client, self._target, self._listener
        assert client is not None and self.to_client is not None and self.to_upstream is not None
        connect = Connect(target.connect_timeout, pair_id=self.id)
        opening: Opening = connect
        if target.tls is not None and target.context is not None:
            opening = SecureConnect(connect, target.context, target.tls)
        upstream = listener.engine.start_session(
            opening,
            target.host,
            target.port,
            spec=target.spec,
            label=listener.label,
            role=Role(
                kind="relay",
                listener_id=self.listener_id,
                guard=ReadGuard(listener.limits, self.activity),
                forward=self.to_client,
                pair=self,
                leg="upstream",
            ),
        )
        self.upstream = upstream
        self.to_upstream.bind(upstream)
        self.to_client.bind(client)
        return upstream

    async def _emit(self, event: schema.Event) -> None:
        await self._listener.engine.emit(event)


async def _close_within(leg: Session, reason: str) -> None:
    """Close ``leg`` after flushing, or reset it if that takes too long."""
    with trio.move_on_after(PAIR_FLUSH_SECONDS):
        await leg.close(reason)
    await leg.abort(reason)  # returns at once if the close finished


def start_pair(listener: Listener, transport: Transport, upstream: Upstream) -> Session:
    """Make the client leg for an accepted client and start its pair (which connects the
    upstream leg once the client leg is up); return the client leg."""
    engine = listener.engine
    pair = Pair(engine.new_pair_id(), listener, upstream)
    passthrough = listener.spec == upstream.spec
    to_upstream = Forward(
        None, pair_id=pair.id, direction="c2s", ready=pair.ready, passthrough=passthrough
    )
    pair.to_client = Forward(
        None, pair_id=pair.id, direction="s2c", ready=pair.ready, passthrough=passthrough
    )
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
            guard=ReadGuard(listener.limits, pair.activity),
            forward=to_upstream,
            pair=pair,
            leg="client",
            on_end=listener.client_ended,
        ),
    )
    pair.client = client
    pair.to_upstream = to_upstream
    engine.spawn(pair.run)
    return client
