"""Sans-IO MessagePack-RPC: bytes <-> Request / Response / Notification (no I/O, no clocks).

Wire shapes (docs/design.md, "IPC"): a request is ``[0, msgid, method, params]``, a response
``[1, msgid, error, result]`` with ``error`` nil or ``[type, message]`` (optionally a third
element, a map of details), a notification ``[2, method, params]``. ``params`` is an
array whose first element is the map of named fields (``ipc.schema``).

Theory of operation of ``MessageDecoder``: ``receive_data`` only appends to a buffer;
``next_message`` (or iterating the decoder) feeds msgpack's C ``Unpacker`` in bounded
pieces and returns one message at a time, ``None`` when it needs more bytes.

Strategy for sizes. msgpack checks a str's, bin's or ext's length only once its payload
has arrived, so a lying five-byte header used to make the decoder buffer whatever
followed. Now a message that the unpacker could not finish within the piece it was fed
is handed to ``ipc.header_guard.HeaderGuard``, which checks each of its headers against
the limits (and against the room left in the message) before the unpacker gets more of
it. Messages that fit in one piece -- nearly all of them -- are never walked in Python.
A reader that knows more bytes are already waiting (``receive_data(more_pending=True)``:
the clients, during a flood) lets the check wait for them, up to
``DEFERRED_CHECK_BYTES`` of a message; the engine never does, so a lying header from a
controller is refused as soon as it is read.

Strategy for bad input. MessagePack has no framing to resynchronise on, so there are
two kinds of bad input:

- a message whose *structure* is sound (the guard walked it to its end) but whose
  content is not: a value msgpack cannot decode (invalid UTF-8, a non-string map key),
  a wrong shape (``[0, 1]``), a wrong type. It raises ``BadMessage`` (carrying the
  ``msgid`` when the prefix ``[0, msgid`` could be read, so the server can answer it)
  and the decoder carries on after it: it costs that message only.
- bytes that break the stream: a size or count over its limit, a value that cannot
  start a message (anything but an array of at most four values), nesting deeper than
  msgpack allows, the reserved byte 0xc1. Nothing after such bytes can be trusted (a
  lying length would swallow the messages that follow), so ``ProtocolViolation`` is
  raised, with the byte offset, and the decoder is *broken*: it drops everything it is
  given and raises again on every call. Its owner closes the channel.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import msgpack

from ipc.errors import LocalProtocolError, ProtocolViolation, SchemaError
from ipc.header_guard import (
    MAX_ARRAY_LEN,
    MAX_BIN_LEN,
    MAX_DEPTH,
    MAX_EXT_LEN,
    MAX_MAP_LEN,
    MAX_MESSAGE_BYTES,
    MAX_MESSAGE_VALUES,
    MAX_STR_LEN,
    HeaderGuard,
    check_message_header,
)
from ipc.schema import COMMANDS, EVENTS, Command, Event

__all__ = [
    "DEFERRED_CHECK_BYTES",
    "MAX_ARRAY_LEN",
    "MAX_BIN_LEN",
    "MAX_DEPTH",
    "MAX_EXT_LEN",
    "MAX_MAP_LEN",
    "MAX_MESSAGE_BYTES",
    "MAX_MSGID",
    "MAX_STR_LEN",
    "BadMessage",
    "ErrorInfo",
    "Message",
    "MessageDecoder",
    "MessageType",
    "Notification",
    "ProtocolViolation",
    "Request",
    "Response",
    "UnknownMethod",
    "decode_command",
    "decode_event",
    "encode",
    "encode_notification",
    "encode_request",
    "encode_response",
    "from_wire",
    "to_wire",
]

# The limits live with the guard that enforces them (ipc.header_guard); they are
# re-exported here, where they have always been imported from.
#: Msgids are MessagePack-RPC's uint32.
MAX_MSGID = 2**32 - 1
#: The unpacker is fed at most this much at a time: a message that does not fit is
#: checked by the header guard before the unpacker gets more of it.
FEED_CHUNK_BYTES = 1024 * 1024
#: How much of an incomplete message may wait unchecked while the caller says more bytes
#: are pending (``receive_data``): more than an event batch (about 1 MiB), so a flood's
#: notifications split across reads are never walked in Python.
DEFERRED_CHECK_BYTES = 2 * 1024 * 1024
#: The unpacker's first buffer: requests and most events are small.
UNPACKER_START_BYTES = 16 * 1024


class MessageType(IntEnum):
    """The first element of every MessagePack-RPC message."""

    REQUEST = 0  #: ``[0, msgid, method, params]``
    RESPONSE = 1  #: ``[1, msgid, error, result]``
    NOTIFICATION = 2  #: ``[2, method, params]``


class BadMessage(SchemaError):
    """A message from the pipe could not be decoded or has the wrong shape.

    ``msgid`` is the request's id when it could be read (answer it with an error
    response), else ``None`` (log a line). The decoder has already moved past the
    message: keep reading.
    """

    def __init__(self, message: str, *, msgid: int | None = None) -> None:
        super().__init__(message)
        self.msgid = msgid


class UnknownMethod(SchemaError):
    """A request or notification names a method this side does not implement."""


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """The ``error`` of a failed response: ``[type, message]`` plus optional details."""

    type: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> list[Any]:
        return [self.type, self.message, self.data] if self.data else [self.type, self.message]


@dataclass(frozen=True, slots=True)
class Request:
    """``[0, msgid, method, [params]]``: a call that expects exactly one response."""

    msgid: int
    method: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Response:
    """``[1, msgid, error, result]``: exactly one of ``error`` / ``result`` is meaningful."""

    msgid: int
    error: ErrorInfo | None
    result: Any


@dataclass(frozen=True, slots=True)
class Notification:
    """``[2, method, [params]]``: no reply."""

    method: str
    params: dict[str, Any]


Message = Request | Response | Notification


# ------------------------------------------------------------------------------ encoding


def _pack(obj: object) -> bytes:
    try:
        data: bytes = msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise LocalProtocolError(f"cannot encode message: {exc}") from exc
    if len(data) > MAX_MESSAGE_BYTES:
        raise LocalProtocolError(f"message of {len(data)} bytes > max {MAX_MESSAGE_BYTES}")
    return data


def _check_msgid(msgid: int) -> None:
    if not 0 <= msgid <= MAX_MSGID:
        raise LocalProtocolError(f"msgid {msgid} out of range 0..{MAX_MSGID}")


def encode_request(msgid: int, method: str, params: dict[str, Any]) -> bytes:
    """Encode ``[0, msgid, method, [params]]``.

    Raises:
        LocalProtocolError: msgid out of range, an unencodable value, or too large.
    """
    _check_msgid(msgid)
    return _pack([MessageType.REQUEST, msgid, method, [params]])


def encode_response(msgid: int, error: ErrorInfo | None, result: Any = None) -> bytes:
    """Encode ``[1, msgid, error, result]`` (``result`` is sent as nil on error).

    Raises:
        LocalProtocolError: msgid out of range, an unencodable value, or too large.
    """
    _check_msgid(msgid)
    if error is not None:
        return _pack([MessageType.RESPONSE, msgid, error.to_wire(), None])
    return _pack([MessageType.RESPONSE, msgid, None, result])


def encode_notification(method: str, params: dict[str, Any]) -> bytes:
    """Encode ``[2, method, [params]]``.

    Raises:
        LocalProtocolError: an unencodable value, or too large.
    """
    return _pack([MessageType.NOTIFICATION, method, [params]])


def to_wire(msg: Message) -> list[Any]:
    """Return the plain list that msgpack encodes for ``msg``."""
    if isinstance(msg, Request):
        return [MessageType.REQUEST, msg.msgid, msg.method, [msg.params]]
    if isinstance(msg, Response):
        error = None if msg.error is None else msg.error.to_wire()
        return [MessageType.RESPONSE, msg.msgid, error, None if error else msg.result]
    return [MessageType.NOTIFICATION, msg.method, [msg.params]]


def encode(msg: Message) -> bytes:
    """Encode a typed message.

    Raises:
        LocalProtocolError: msgid out of range, an unencodable value, or too large.
    """
    if isinstance(msg, Request | Response):
        _check_msgid(msg.msgid)
    return _pack(to_wire(msg))


# ------------------------------------------------------------------------------ decoding


def _params_map(method: str, params: object, msgid: int | None) -> dict[str, Any]:
    if not isinstance(params, list):
        raise BadMessage(f"{method}: params must be an array", msgid=msgid)
    if not params:
        return {}
    first = params[0]
    if not isinstance(first, dict):
        raise BadMessage(f"{method}: params[0] must be a map", msgid=msgid)
    return first


def _error_info(error: object, msgid: int) -> ErrorInfo | None:
    if error is None:
        return None
    if (
        isinstance(error, list)
        and len(error) >= 2
        and isinstance(error[0], str)
        and isinstance(error[1], str)
    ):
        data = error[2] if len(error) > 2 and isinstance(error[2], dict) else {}
        return ErrorInfo(error[0], error[1], data)
    raise BadMessage(f"response {msgid}: error must be nil or [type, message]", msgid=msgid)


def _is_msgid(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_MSGID


def from_wire(obj: object) -> Message:
    """Check the shape and types of a decoded msgpack value and type it.

    Raises:
        BadMessage: not a MessagePack-RPC message (``msgid`` set when it is readable).
    """
    if not isinstance(obj, list) or not obj:
        raise BadMessage(f"a message must be a non-empty array, got {type(obj).__name__}")
    kind = obj[0]
    if isinstance(kind, bool) or not isinstance(kind, int):
        raise BadMessage(f"unknown message type {kind!r}")
    if kind == MessageType.REQUEST:
        msgid = obj[1] if len(obj) > 1 and _is_msgid(obj[1]) else None
        if len(obj) != 4 or msgid is None:
            raise BadMessage("a request must be [0, msgid, method, params]", msgid=msgid)
        method = obj[2]
        if not isinstance(method, str):
            raise BadMessage("request method must be a string", msgid=msgid)
        return Request(msgid, method, _params_map(method, obj[3], msgid))
    if kind == MessageType.RESPONSE:
        if len(obj) != 4 or not _is_msgid(obj[1]):
            raise BadMessage("a response must be [1, msgid, error, result]")
        return Response(obj[1], _error_info(obj[2], obj[1]), obj[3])
    if kind == MessageType.NOTIFICATION:
        if len(obj) != 3 or not isinstance(obj[1], str):
            raise BadMessage("a notification must be [2, method, params]")
        return Notification(obj[1], _params_map(obj[1], obj[2], None))
    raise BadMessage(f"unknown message type {kind!r}")


def decode_command(msg: Request | Notification) -> Command:
    """Turn a request (or the ``ack`` notification) into its ``ipc.schema`` command.

    Raises:
        UnknownMethod: no such command.
        SchemaError: params of the wrong shape.
    """
    cls = COMMANDS.get(msg.method)
    if cls is None:
        raise UnknownMethod(f"unknown method {msg.method!r}")
    return cls.from_params(msg.params)


def decode_event(msg: Notification) -> Event | None:
    """Turn a notification into its ``ipc.schema`` event; ``None`` for an unknown event
    (add-only evolution: a newer engine may send events this client does not know).

    Raises:
        SchemaError: a known event with params of the wrong shape.
    """
    cls = EVENTS.get(msg.method)
    return None if cls is None else cls.from_params(msg.params)


def _peek_msgid(buf: bytearray, i: int) -> int | None:
    """Read ``msgid`` from a request prefix ``[0, msgid, ...`` at ``buf[i]``, if present."""
    prefix = bytes(buf[i : i + 13])
    if prefix[:1] == b"\x94":
        j = 1
    elif prefix[:3] == b"\xdc\x00\x04":
        j = 3
    else:
        return None
    if prefix[j : j + 1] != b"\x00":
        return None
    j += 1
    if j >= len(prefix):
        return None
    b = prefix[j]
    if b <= 0x7F:
        return b
    width = {0xCC: 1, 0xCD: 2, 0xCE: 4}.get(b)
    if width is None or j + 1 + width > len(prefix):
        return None
    return int.from_bytes(prefix[j + 1 : j + 1 + width], "big")


def _new_unpacker() -> msgpack.Unpacker:
    # The same limits as the guard's, so that msgpack refuses nothing the guard accepts
    # for a reason the guard would call a violation. The buffer never holds more than one
    # checked message and one unchecked piece; it starts small (read_size) and grows as
    # it is fed, instead of msgpack's default 1 MiB per unpacker.
    return msgpack.Unpacker(
        raw=False,
        use_list=True,
        strict_map_key=True,
        read_size=UNPACKER_START_BYTES,
        max_buffer_size=MAX_MESSAGE_BYTES + FEED_CHUNK_BYTES,
        max_str_len=MAX_STR_LEN,
        max_bin_len=MAX_BIN_LEN,
        max_array_len=MAX_ARRAY_LEN,
        max_map_len=MAX_MAP_LEN,
        max_ext_len=MAX_EXT_LEN,
    )


#: What msgpack's C unpacker raises on bad input (FormatError, StackError, the limit
#: errors and UnicodeDecodeError are ValueErrors; TypeError/OverflowError cover odd keys
#: and ext values).
_UNPACK_ERRORS = (msgpack.UnpackException, ValueError, TypeError, OverflowError)


class MessageDecoder:
    """Incremental MessagePack-RPC decoder for one direction of the pipe.

    Feed bytes with ``receive_data``; take messages with ``next_message()`` or by
    iterating (``for msg in decoder``, which stops when more bytes are needed). After a
    ``BadMessage`` the decoder has moved past the bad message: keep calling. After a
    ``ProtocolViolation`` it is ``broken``: close the channel.
    """

    def __init__(self) -> None:
        # _buf holds the bytes from the start of the message in progress (stream offset
        # _buf_offset) to the last byte received; the unpacker has been fed up to _fed_to.
        self._buf = bytearray()
        self._buf_offset = 0
        self._fed_to = 0
        self._msg_start = 0
        self._origin = 0  # stream offset of the current unpacker's first byte
        self._unpacker = _new_unpacker()
        # Checks the message in progress once the unpacker could not finish it in one
        # piece, or walks to the end of a message msgpack refused (_refusal: reported
        # once the message is behind us, unless the guard finds a violation in it).
        self._guard: HeaderGuard | None = None
        self._refusal: BadMessage | None = None
        self._broken: ProtocolViolation | None = None
        self._more_pending = False  # see receive_data

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned as messages."""
        return len(self._buf)

    @property
    def broken(self) -> ProtocolViolation | None:
        """Why the stream cannot go on (``next_message`` raised it), or None."""
        return self._broken

    def receive_data(self, data: bytes | bytearray, *, more_pending: bool = False) -> None:
        """Append bytes from the pipe (dropped once ``broken``). Never raises; call
        ``next_message`` until ``None``.

        ``more_pending``: the caller already holds more bytes it will pass next (its read
        filled the buffer it offered; its device has more). The check of an incomplete
        message may then wait for them -- up to ``DEFERRED_CHECK_BYTES`` of the message
        -- instead of walking a message the next bytes complete anyway. A reader that is
        about to wait for input passes False (the default), and every incomplete
        message is then checked up to the last byte received.
        """
        if self._broken is None:
            self._buf += data
            self._more_pending = more_pending

    def __iter__(self) -> Iterator[Message]:
        return self

    def __next__(self) -> Message:
        msg = self.next_message()
        if msg is None:
            raise StopIteration
        return msg

    def next_message(self) -> Message | None:
        """Return the next complete message, or ``None`` when more bytes are needed.

        Raises:
            BadMessage: the next message was undecodable or of the wrong shape; it has
                been skipped (the stream is still in step).
            ProtocolViolation: the bytes broke the stream (see the module docstring);
                raised again by every later call.
        """
        if self._broken is not None:
            broken = self._broken
            raise ProtocolViolation(
                broken.kind, str(broken), offset=broken.offset, msgid=broken.msgid
            )
        while True:
            if self._refusal is not None:
                self._skip_refused()  # raises once the refused message is behind us
                return None
            try:
                obj = self._unpacker.unpack()
            except msgpack.OutOfData:
                if self._feed_more():
                    continue
                self._trim(self._msg_start)
                return None
            except _UNPACK_ERRORS as exc:
                # Judged once the whole message is in: a violation anywhere in it wins.
                self._refusal = BadMessage(
                    f"undecodable message: {str(exc) or type(exc).__name__}",
                    msgid=_peek_msgid(self._buf, self._msg_start - self._buf_offset),
                )
                self._guard_message()
                continue
            end: int = self._origin + self._unpacker.tell()
            try:
                msg = from_wire(obj)
            except BadMessage:
                if type(obj) is not list or len(obj) > MAX_MESSAGE_VALUES:
                    # Only in a message that fit in one piece (the guard checks the
                    # others): the exact words the guard would have said.
                    start = self._msg_start - self._buf_offset
                    try:
                        check_message_header(self._buf, start, self._buf_offset)
                    except ProtocolViolation as violation:
                        raise self._break(violation, None) from None
                self._msg_start = end
                raise
            self._msg_start = end
            return msg

    # -- internals

    def _guard_message(self) -> HeaderGuard:
        """The guard of the message in progress (a new one for a new message)."""
        guard = self._guard
        if guard is None or guard.start != self._msg_start:
            guard = self._guard = HeaderGuard(self._msg_start)
        return guard

    def _feed_more(self) -> bool:
        """Feed the next piece of the buffer; False when there is nothing (checked) left.

        A message goes in unchecked while there is more of it to try (buffered, or
        pending: ``receive_data``), up to ``DEFERRED_CHECK_BYTES``. If the unpacker still
        cannot finish it, the guard checks its headers in everything buffered, and from
        then on the unpacker gets only what the guard has checked.
        """
        available = self._buf_offset + len(self._buf)
        limit = available
        if self._fed_to > self._msg_start:
            deferred = self._msg_start + DEFERRED_CHECK_BYTES
            # Unchecked while there is more of the message to try (here, or pending), up
            # to a bound; checked once the reader is about to wait with it incomplete.
            if (
                (self._guard is None or self._guard.start != self._msg_start)
                and self._fed_to < deferred
                and (self._fed_to < available or self._more_pending)
            ):
                limit = min(available, deferred)
            else:
                guard = self._guard_message()
                self._advance_guard()
                limit = guard.pos
        size = min(limit - self._fed_to, FEED_CHUNK_BYTES)
        if size <= 0:
            return False
        start = self._fed_to - self._buf_offset
        # A view, not a slice: the unpacker copies it into its own buffer anyway. The
        # view is released before the bytearray is resized again.
        with memoryview(self._buf) as view, view[start : start + size] as piece:
            self._unpacker.feed(piece)
        self._fed_to += size
        return True

    def _advance_guard(self) -> int | None:
        """Check the buffered headers of the message in progress; its end, once known.

        Raises:
            ProtocolViolation: a header broke a rule (the decoder is now broken).
        """
        assert self._guard is not None
        try:
            return self._guard.advance(self._buf, self._buf_offset)
        except ProtocolViolation as violation:
            msgid = _peek_msgid(self._buf, self._msg_start - self._buf_offset)
            raise self._break(violation, msgid) from None

    def _skip_refused(self) -> None:
        """Walk the rest of a message msgpack refused, then raise its ``BadMessage`` and
        start afresh after it; returns while its bytes are still arriving (they are
        dropped as they come).

        Raises:
            BadMessage: the refused message is behind us.
            ProtocolViolation: a header in it broke a rule.
        """
        assert self._guard is not None and self._refusal is not None
        end = self._advance_guard()
        if end is None:
            # The msgid was read already; only the guard's position matters now.
            self._trim(self._guard.pos)
            return
        refusal, self._refusal, self._guard = self._refusal, None, None
        self._restart_at(end)
        raise refusal

    def _break(self, violation: ProtocolViolation, msgid: int | None) -> ProtocolViolation:
        """The stream cannot go on: remember why, and drop everything."""
        if self._refusal is not None:
            msgid = self._refusal.msgid
        violation.msgid = msgid
        self._broken = violation
        self._buf = bytearray()
        self._guard = None
        self._refusal = None
        return violation

    def _restart_at(self, offset: int) -> None:
        self._unpacker = _new_unpacker()
        self._origin = offset
        self._fed_to = offset
        self._msg_start = offset
        self._trim(offset)

    def _trim(self, offset: int) -> None:
        drop = offset - self._buf_offset
        if drop > 0:
            del self._buf[:drop]
            self._buf_offset = offset
