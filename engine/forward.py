"""Frames read on one session, reported, then written to another: relay legs and echo.

A ``Forward`` replaces a session's plain delivery (report the batch as ``Received``).
For each batch its reader decoded it reports the batch (with the pair and direction of a
relay leg) and then writes it to the *target* session, through the target's own writer,
so frames injected into the target by a ``send`` interleave with forwarded ones at batch
boundaries and the target's counters count both. The reader waits until the write is
done before it reads again: a target that stops reading stops this session's reads (the
back-pressure of a relay, end to end), and at most one batch per direction is in flight.

Forwarded frames are written with the target's framing. When both framings are the same
the bytes go out exactly as they came in (``passthrough``: a copy of the wire bytes of
the whole frames of each read, no re-encoding, and a frame the codec reads in a
non-canonical way stays as the peer wrote it); otherwise they are re-encoded
(translation, e.g. le32 on one leg and be32 on the other).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import trio

from engine.errors import SessionBroken, SessionClosed
from ipc.errors import LocalProtocolError, RemoteProtocolError
from ipc.framing import FrameDecoder, encode_frames

if TYPE_CHECKING:
    from engine.session import Session

__all__ = ["Direction", "Forward"]

#: client -> server, server -> client.
Direction = Literal["c2s", "s2c"]


class Forward:
    """Writes what ``source`` reads to ``target`` (see the module docstring).

    Args:
        report: whether the target reports the forwarded frames as ``Sent`` (an echo
            does; a relay does not: its ``Received`` with a direction says it all).
        ready: set when the target may be written to; the first batch waits for it (a
            relay's client leg, until the upstream is connected).
    """

    __slots__ = ("_carry", "direction", "pair_id", "passthrough", "ready", "report", "target")

    def __init__(
        self,
        target: Session | None,
        *,
        pair_id: int | None = None,
        direction: Direction | None = None,
        report: bool = False,
        ready: trio.Event | None = None,
        passthrough: bool = False,
    ) -> None:
        #: None until known (a relay's upstream leg is made after its client leg).
        self.target = target
        self.pair_id = pair_id
        self.direction = direction
        self.report = report
        self.ready = ready
        #: Whether frames are written as the very bytes read: true when the source's and
        #: the target's framings are the same (the caller knows both from the start).
        self.passthrough = passthrough
        #: The bytes read since the last whole frame (with ``passthrough``).
        self._carry: list[bytes | bytearray | memoryview] = []

    def bind(self, target: Session) -> None:
        """Set the target (before ``ready`` is set)."""
        self.target = target

    def tap(self, data: bytes | bytearray) -> None:
        """Keep a read's bytes (called with each read, before it is decoded)."""
        if data:
            self._carry.append(data)

    async def deliver(self, source: Session, decoder: FrameDecoder, batch: list[bytes]) -> None:
        """Report ``batch``, then write it to the target and wait until it is written.

        Raises:
            RemoteProtocolError: a frame cannot be written in the target's framing (too
                long for it, say); it ends the source session as a protocol error.
        """
        if self.ready is not None and not self.ready.is_set():
            await self.ready.wait()
        target = self.target
        assert target is not None  # bound before ready is set
        if self.passthrough and not decoder.failed:
            wire = self._take_wire(decoder)
            spec = source.spec
            # The payload bytes without a pass over the frames, when every header is alike.
            nbytes = (
                len(wire) - len(batch) * spec.min_header_size
                if spec.is_simple
                else sum(map(len, batch))
            )
            await source.report_received(batch, self.pair_id, self.direction, nbytes)
        else:
            nbytes = sum(map(len, batch))
            await source.report_received(batch, self.pair_id, self.direction, nbytes)
            try:
                wire = encode_frames(batch, target.spec)
            except LocalProtocolError as exc:
                message = f"cannot forward in the other side's framing: {exc}"
                raise RemoteProtocolError(message) from None
        try:
            await target.send(batch, wire, report=self.report, nbytes=nbytes)
        except (SessionClosed, SessionBroken):
            # The target is ending: the pair ends this session next (for an echo, this is
            # the session that is ending). Reading on would only drop frames.
            await trio.sleep_forever()

    def _take_wire(self, decoder: FrameDecoder) -> bytes | memoryview:
        """The bytes of the whole frames read so far; what follows them stays carried."""
        carry = self._carry
        data = carry[0] if len(carry) == 1 else b"".join(carry)
        cut = len(data) - decoder.unfinished_bytes
        view = memoryview(data)
        self._carry = [view[cut:]] if cut < len(data) else []
        return view[:cut]
