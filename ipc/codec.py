"""Sans-IO MessagePack-RPC: bytes <-> Request / Response / Notification (no I/O, no clocks).

Wire shapes (docs/design.md, "IPC"): a request is ``[0, msgid, method, params]``, a response
``[1, msgid, error, result]`` with ``error`` nil or ``[type, message]`` (optionally a third
element, a map of details), a notification ``[2, method, params]``. ``params`` is an
array whose first element is the map of named fields (``ipc.schema``).

Theory of operation of ``MessageDecoder``: ``receive_data`` only appends to a buffer;
``next_message`` (or iterating the decoder) feeds the msgpack ``Unpacker`` in bounded
pieces and returns one message at a time, ``None`` when it needs more bytes. Every limit
below is set on the unpacker, so no length field on the pipe can make us allocate more.

Strategy for bad input. MessagePack has no framing, so after a bad message there is no
marker to resynchronise on. The decoder keeps the bytes of the message in progress and,
when the unpacker rejects it (too large, too deep, a reserved byte, an impossible
length), walks the *structure* of that one object with a tiny header scanner that
allocates nothing, skips exactly its bytes, and starts a fresh unpacker after it. Thus an
oversize or too-deep but well-formed message costs one ``BadMessage`` (carrying its
``msgid`` when the prefix ``[0, msgid`` could be read, so the server can answer it) and the
stream stays in sync. True garbage is read as whatever msgpack values its bytes spell:
each yields ``BadMessage`` and the decoder moves on, so the stream resyncs once the
garbage is consumed -- but garbage that happens to spell a container header may swallow
the messages that follow it (their callers see a timeout). A skip is capped at
``MAX_SKIP_BYTES``; past that the decoder resumes parsing where it stands.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import msgpack

from ipc.errors import LocalProtocolError, SchemaError
from ipc.schema import COMMANDS, EVENTS, Command, Event

__all__ = [
    "MAX_ARRAY_LEN",
    "MAX_BIN_LEN",
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

# Limits. A session's frames are 8 MiB at most by default (ipc.framing), and a session
# may raise that to just under this message limit (engine.rpc.commands.MAX_IPC_FRAME_LENGTH
# keeps 64 KiB for the rest of the message), so a `send` or a `received` holding one
# largest frame always fits in one message. Neovim's msgpack-rpc sets no limit at all;
# msgpack's own default max_buffer_size is 100 MiB.
#: Largest encoded message either side accepts (unpacker ``max_buffer_size``).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: Largest bin (one frame's payload).
MAX_BIN_LEN = MAX_MESSAGE_BYTES
#: Largest str: hosts, labels, methods and error messages are short; 1 MiB is generous.
MAX_STR_LEN = 1024 * 1024
#: Largest array: the frames of one `send` or `received` (the engine batches at most
#: ``engine.rpc.batching.MAX_FRAMES_PER_NOTIFICATION``) or the session list (10,000 max).
MAX_ARRAY_LEN = 131_072
#: Largest map: every map in the schema has a handful of keys.
MAX_MAP_LEN = 1024
#: Msgids are MessagePack-RPC's uint32.
MAX_MSGID = 2**32 - 1
#: The unpacker is fed at most this much at a time, so a too-large message is detected
#: when its prefix passes the buffer limit rather than after buffering the whole of it.
FEED_CHUNK_BYTES = 1024 * 1024
#: A bad message's bytes are skipped structurally up to this many bytes; a header that
#: claims more is treated as garbage (a legitimate peer never sends 16x the limit).
MAX_SKIP_BYTES = 16 * MAX_MESSAGE_BYTES
#: Likewise for a container header's element count.
MAX_SKIP_OBJECTS = 16 * MAX_ARRAY_LEN


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


class _Skipper:
    """Walks msgpack headers to find where one (possibly huge or deep) object ends.

    Counts objects still to skip and payload bytes still to skip; allocates nothing.
    """

    __slots__ = ("budget", "objects", "payload")

    def __init__(self) -> None:
        self.objects = 1
        self.payload = 0
        self.budget = MAX_SKIP_BYTES

    @property
    def done(self) -> bool:
        return self.objects == 0 and self.payload == 0

    def consume(self, buf: bytearray, i: int) -> int:
        """Skip from ``buf[i]``; return the index where skipping stopped."""
        end = len(buf)
        while self.objects or self.payload:
            if self.budget <= 0:
                self.objects = self.payload = 0  # give up: resume parsing from here
                break
            if self.payload:
                n = min(self.payload, end - i)
                i += n
                self.payload -= n
                self.budget -= n
                if self.payload:
                    break
                continue
            header = _header(buf, i)
            if header is None:
                break
            size, payload, children = header
            if payload > MAX_SKIP_BYTES or children > MAX_SKIP_OBJECTS:
                # Implausible even for an oversize message: garbage. Drop one byte and
                # resume parsing right after it rather than swallow the stream.
                self.objects = self.payload = 0
                i += 1
                break
            i += size
            self.budget -= size + payload
            self.objects += children - 1
            self.payload = payload
        return i


# Fixed-size msgpack headers: first byte -> (header size, payload size).
_FIXED: dict[int, tuple[int, int]] = {
    0xC0: (1, 0), 0xC1: (1, 0), 0xC2: (1, 0), 0xC3: (1, 0),  # nil, (reserved), false, true
    0xCA: (5, 0), 0xCB: (9, 0),  # float32, float64
    0xCC: (2, 0), 0xCD: (3, 0), 0xCE: (5, 0), 0xCF: (9, 0),  # uint8..64
    0xD0: (2, 0), 0xD1: (3, 0), 0xD2: (5, 0), 0xD3: (9, 0),  # int8..64
    0xD4: (2, 1), 0xD5: (2, 2), 0xD6: (2, 4), 0xD7: (2, 8), 0xD8: (2, 16),  # fixext
}  # fmt: skip
# Length-prefixed: first byte -> (bytes of length, extra header bytes, kind).
_SIZED: dict[int, tuple[int, int, str]] = {
    0xC4: (1, 0, "bytes"), 0xC5: (2, 0, "bytes"), 0xC6: (4, 0, "bytes"),  # bin
    0xC7: (1, 1, "bytes"), 0xC8: (2, 1, "bytes"), 0xC9: (4, 1, "bytes"),  # ext (+type)
    0xD9: (1, 0, "bytes"), 0xDA: (2, 0, "bytes"), 0xDB: (4, 0, "bytes"),  # str
    0xDC: (2, 0, "array"), 0xDD: (4, 0, "array"),
    0xDE: (2, 0, "map"), 0xDF: (4, 0, "map"),
}  # fmt: skip


def _header(buf: bytearray, i: int) -> tuple[int, int, int] | None:
    """Return (header size, payload bytes, child objects) of the object at ``buf[i]``,
    or ``None`` when the header is not complete yet."""
    if i >= len(buf):
        return None
    b = buf[i]
    if b <= 0x7F or b >= 0xE0:
        return 1, 0, 0
    if b <= 0x8F:
        return 1, 0, 2 * (b & 0x0F)
    if b <= 0x9F:
        return 1, 0, b & 0x0F
    if b <= 0xBF:
        return 1, b & 0x1F, 0
    fixed = _FIXED.get(b)
    if fixed is not None:
        return fixed[0], fixed[1], 0
    width, extra, kind = _SIZED[b]
    size = 1 + width + extra
    if i + 1 + width > len(buf):
        return None
    n = int.from_bytes(buf[i + 1 : i + 1 + width], "big")
    if kind == "bytes":
        return size, n, 0
    return size, 0, n if kind == "array" else 2 * n


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
    return msgpack.Unpacker(
        raw=False,
        use_list=True,
        strict_map_key=True,
        max_buffer_size=MAX_MESSAGE_BYTES + FEED_CHUNK_BYTES,
        max_str_len=MAX_STR_LEN,
        max_bin_len=MAX_BIN_LEN,
        max_array_len=MAX_ARRAY_LEN,
        max_map_len=MAX_MAP_LEN,
        max_ext_len=MAX_STR_LEN,
    )


#: What msgpack's C unpacker raises on bad input (FormatError, StackError and the limit
#: errors are ValueErrors; TypeError/OverflowError cover odd keys and ext values).
_UNPACK_ERRORS = (msgpack.UnpackException, ValueError, TypeError, OverflowError)


class MessageDecoder:
    """Incremental MessagePack-RPC decoder for one direction of the pipe.

    Feed bytes with ``receive_data``; take messages with ``next_message()`` or by
    iterating (``for msg in decoder``, which stops when more bytes are needed). After a
    ``BadMessage`` the decoder has moved past the bad input: keep calling.
    """

    def __init__(self) -> None:
        # _buf holds the bytes from the start of the message in progress (absolute offset
        # _buf_offset) to the last byte received; the unpacker has been fed up to _fed_to.
        self._buf = bytearray()
        self._buf_offset = 0
        self._fed_to = 0
        self._msg_start = 0
        self._origin = 0  # absolute offset of the current unpacker's first byte
        self._unpacker = _new_unpacker()
        self._skipper: _Skipper | None = None
        self._skip_at = 0

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned as messages."""
        return len(self._buf)

    def receive_data(self, data: bytes | bytearray) -> None:
        """Append bytes from the pipe. Never raises; call ``next_message`` until ``None``."""
        self._buf += data

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
            BadMessage: the next message was malformed, too large, too deep or of the
                wrong shape; it has been skipped.
        """
        while True:
            if self._skipper is not None and not self._continue_skip():
                return None
            try:
                obj = self._unpacker.unpack()
            except msgpack.OutOfData:
                if self._feed_more():
                    continue
                self._trim(self._msg_start)
                return None
            except _UNPACK_ERRORS as exc:
                raise self._start_skip(f"undecodable message: {exc or type(exc).__name__}") from exc
            self._msg_start = self._unpacked_to()
            return from_wire(obj)

    # -- internals

    def _unpacked_to(self) -> int:
        unpacked: int = self._unpacker.tell()
        return self._origin + unpacked

    def _feed_more(self) -> bool:
        """Feed the next piece of the buffer; False when everything was fed already."""
        start = self._fed_to - self._buf_offset
        if start >= len(self._buf):
            return False
        if self._fed_to - self._msg_start > MAX_MESSAGE_BYTES:
            # The unpacker's buffer only holds bytes it has not parsed yet, so its
            # max_buffer_size alone does not bound a message made of many big parts.
            raise self._start_skip(f"message larger than {MAX_MESSAGE_BYTES} bytes")
        # A view, not a slice: the unpacker copies it into its own buffer anyway. The
        # view is released before the bytearray is resized again.
        with memoryview(self._buf) as view, view[start : start + FEED_CHUNK_BYTES] as piece:
            size = len(piece)
            try:
                self._unpacker.feed(piece)
            except msgpack.BufferFull:
                full = True
            else:
                full = False
        if full:
            raise self._start_skip(f"message larger than {MAX_MESSAGE_BYTES} bytes")
        self._fed_to += size
        return True

    def _start_skip(self, reason: str) -> BadMessage:
        start = self._msg_start - self._buf_offset
        msgid = _peek_msgid(self._buf, start)
        self._skipper = _Skipper()
        self._skip_at = self._msg_start
        return BadMessage(reason, msgid=msgid)

    def _continue_skip(self) -> bool:
        """Skip more of a bad object; True once it is behind us (a fresh unpacker starts)."""
        assert self._skipper is not None
        stop = self._skipper.consume(self._buf, self._skip_at - self._buf_offset)
        self._skip_at = self._buf_offset + stop
        self._trim(self._skip_at)
        if not self._skipper.done:
            return False
        self._skipper = None
        self._restart_at(self._skip_at)
        return True

    def _restart_at(self, offset: int) -> None:
        self._unpacker = _new_unpacker()
        self._origin = offset
        self._fed_to = offset
        self._msg_start = offset

    def _trim(self, offset: int) -> None:
        drop = offset - self._buf_offset
        if drop > 0:
            del self._buf[:drop]
            self._buf_offset = offset
