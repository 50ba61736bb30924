"""Sans-IO controller-side RPC state: msgids, pending requests, flow-control credit.

Both controller clients (``ipc.trio_channel`` and ``ipc.qt_channel``) are thin shells over
``ClientConnection``: it turns commands into bytes and incoming bytes into outcomes
(``Completed``, ``Failed``, ``EventReceived``, ``Unmatched``, ``Malformed``, and at most
once ``Broken``: the engine's bytes broke the stream, so nothing more can be read). It also holds
each pending request's *waiter* (whatever the shell wakes with the outcome: a trio event,
a Qt callback), so the shells keep no msgid table of their own. Waiting and timeouts
belong to the caller (a trio cancel scope, a ``QTimer``); a caller that gives up on a
request calls ``forget(msgid)`` so the late response is reported as ``Unmatched``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ipc.codec import (
    MAX_MSGID,
    BadMessage,
    ErrorInfo,
    MessageDecoder,
    Notification,
    Request,
    Response,
    decode_event,
    encode_notification,
    encode_request,
)
from ipc.errors import FramewireError, ProtocolViolation, SchemaError
from ipc.schema import Ack, Command, Event, FlowControl, History, Received, Sent

#: What a shell wakes when a request's response arrives (see ``ClientConnection``).
W = TypeVar("W")

__all__ = [
    "DEFAULT_WINDOW_BYTES",
    "ENGINE_ARGS",
    "FRAME_CREDIT_OVERHEAD",
    "MAX_WINDOW_BYTES",
    "Broken",
    "ClientConnection",
    "CommandFailed",
    "Completed",
    "EventReceived",
    "Failed",
    "Malformed",
    "Outcome",
    "Unmatched",
    "credit_cost",
    "frames_credit",
]

#: What follows the Python interpreter on the command line that runs an engine for a
#: controller (MessagePack-RPC on its stdin/stdout).
ENGINE_ARGS = ("-m", "engine", "--stdio")
#: Credit window a controller asks for (``flow_control``). Large enough that a fast
#: reader never waits on acks (about 40,000 100-byte frames in flight), small enough that
#: a stalled GUI holds at most this much decoded data.
DEFAULT_WINDOW_BYTES = 4 * 1024 * 1024
#: Largest window the engine accepts: a controller that wants no credit at all leaves
#: ``flow_control`` off (pipe back-pressure) rather than asking for an endless window.
MAX_WINDOW_BYTES = 1024 * 1024 * 1024
#: Each frame costs its payload plus this, so a flood of empty frames still uses credit.
FRAME_CREDIT_OVERHEAD = 16


def frames_credit(payload_bytes: int, frame_count: int) -> int:
    """Credit of ``frame_count`` frames carrying ``payload_bytes`` in all: the one formula
    the engine (which keeps running totals) and the clients (which see events) share."""
    return payload_bytes + FRAME_CREDIT_OVERHEAD * frame_count


def credit_cost(event: Event) -> int:
    """Credit a data event uses under ``flow_control``: ``frames_credit`` of its frames
    for ``received``/``sent``/``history``; 0 for every other event (control and state
    events are never held back by the window)."""
    if isinstance(event, Received | Sent | History):
        frames = event.frames
        return frames_credit(sum(map(len, frames)), len(frames))
    return 0


class CommandFailed(FramewireError):
    """The engine answered a command with an error; ``type`` names it (``UnknownSession``,
    ``ConnectFailed``, ``SchemaError``...), ``data`` holds details such as ``reason``."""

    def __init__(self, error: ErrorInfo) -> None:
        super().__init__(f"{error.type}: {error.message}")
        self.type = error.type
        self.message = error.message
        self.data = error.data


@dataclass(frozen=True, slots=True)
class Completed(Generic[W]):
    """A pending request succeeded; ``waiter`` is what ``start_request`` was given."""

    msgid: int
    waiter: W
    result: Any


@dataclass(frozen=True, slots=True)
class Failed(Generic[W]):
    """A pending request got an error response; ``waiter`` as for ``Completed``."""

    msgid: int
    waiter: W
    error: CommandFailed


@dataclass(frozen=True, slots=True)
class EventReceived:
    """The engine sent an event; ``cost`` is its flow-control credit (ack it once used)."""

    event: Event
    cost: int


@dataclass(frozen=True, slots=True)
class Unmatched:
    """A response for no pending request (forgotten after a timeout), or a request from
    the engine (which never sends any): log it and move on."""

    message: Response | Request


@dataclass(frozen=True, slots=True)
class Malformed:
    """A message from the engine was wrong (undecodable, of the wrong shape or types);
    the decoder has moved past it."""

    error: SchemaError


@dataclass(frozen=True, slots=True)
class Broken:
    """The engine's bytes broke the stream (a size over its limit, a value that cannot
    start a message): nothing after them can be read. Close the channel and treat the
    engine as failed; ``next_outcome`` returns only ``None`` from now on."""

    error: ProtocolViolation


Outcome = Completed[W] | Failed[W] | EventReceived | Unmatched | Malformed | Broken


class ClientConnection(Generic[W]):
    """The controller's half of the pipe, without I/O.

    ``start_request(command, waiter)`` returns bytes to write; ``receive_data`` +
    ``outcomes()`` turns bytes read into outcomes, in order (a response's outcome carries
    its request's waiter). ``consumed(cost)`` records that data events were used
    and returns the ``ack`` bytes to write when enough credit has piled up (a quarter of
    the window, so acks cost little and the engine never stalls on them).
    """

    def __init__(self) -> None:
        self._decoder = MessageDecoder()
        self._next_msgid = 0
        self._pending: dict[int, W] = {}
        self._window = 0
        self._unacked = 0

    @property
    def pending(self) -> int:
        """Number of requests waiting for a response."""
        return len(self._pending)

    def start_request(self, command: Command, waiter: W) -> tuple[int, bytes]:
        """Allocate a msgid for ``command``, pending with ``waiter``; return it and the
        bytes to write.

        Raises:
            LocalProtocolError: the command cannot be encoded (too large, bad value).
        """
        msgid = self._next_msgid
        data = encode_request(msgid, command.METHOD, command.to_params())
        self._next_msgid = (msgid + 1) % (MAX_MSGID + 1)
        self._pending[msgid] = waiter
        if isinstance(command, FlowControl):
            self._window = command.window_bytes
        return msgid, data

    def notification(self, command: Command) -> bytes:
        """Bytes of a controller notification (``ack``)."""
        return encode_notification(command.METHOD, command.to_params())

    def forget(self, msgid: int) -> None:
        """Stop waiting for ``msgid`` (the caller timed out or was cancelled)."""
        self._pending.pop(msgid, None)

    def forget_all(self) -> list[W]:
        """Stop waiting for every request (the engine is gone); return their waiters."""
        waiters = list(self._pending.values())
        self._pending.clear()
        return waiters

    def consumed(self, cost: int) -> bytes | None:
        """Record ``cost`` credit as used; return ``ack`` bytes to write, or ``None``."""
        if not self._window or cost <= 0:
            return None
        self._unacked += cost
        if self._unacked < self._window // 4:
            return None
        nbytes, self._unacked = self._unacked, 0
        return self.notification(Ack(nbytes=nbytes))

    def receive_data(self, data: bytes | bytearray, *, more_pending: bool = False) -> None:
        """Append bytes read from the engine; then drain ``outcomes()``. ``more_pending``:
        more bytes are already waiting to be passed (``MessageDecoder.receive_data``)."""
        self._decoder.receive_data(data, more_pending=more_pending)

    def outcomes(self) -> Iterator[Outcome[W]]:
        """Yield what the buffered bytes mean, in order; stops when more bytes are needed."""
        while (outcome := self.next_outcome()) is not None:
            yield outcome

    def next_outcome(self) -> Outcome[W] | None:
        """The next outcome, or ``None`` when more bytes are needed (never raises)."""
        if self._decoder.broken is not None:
            return None  # reported once, as Broken
        while True:
            try:
                msg = self._decoder.next_message()
            except BadMessage as exc:
                return Malformed(exc)
            except ProtocolViolation as exc:
                return Broken(exc)
            if msg is None:
                return None
            if isinstance(msg, Notification):
                try:
                    event = decode_event(msg)
                except SchemaError as exc:
                    return Malformed(exc)
                if event is None:  # an event from a newer engine: skip (add-only evolution)
                    continue
                return EventReceived(event, credit_cost(event))
            if isinstance(msg, Request):
                return Unmatched(msg)
            if msg.msgid not in self._pending:
                return Unmatched(msg)
            waiter = self._pending.pop(msg.msgid)
            if msg.error is not None:
                return Failed(msg.msgid, waiter, CommandFailed(msg.error))
            return Completed(msg.msgid, waiter, msg.result)
