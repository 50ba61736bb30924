"""The IPC decoder as it was before the header guard (frozen, for ``tools.bench.intake``).

It set its limits on msgpack's ``Unpacker``, which checks a str's, bin's or ext's length
only once the payload has arrived, and skipped a message it refused by walking its
structure; garbage was read as whatever values its bytes spelled, one error each. The
benchmark runs it side by side with ``ipc.codec.MessageDecoder`` on the same bytes.
Its decoding half, kept as it was (the message shapes are still checked by
``ipc.codec.from_wire``).
"""

from __future__ import annotations

from collections.abc import Iterator

import msgpack

from ipc.codec import BadMessage, Message, from_wire

__all__ = ["MessageDecoder"]

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_BIN_LEN = MAX_MESSAGE_BYTES
MAX_STR_LEN = 1024 * 1024
MAX_ARRAY_LEN = 131_072
MAX_MAP_LEN = 1024
FEED_CHUNK_BYTES = 1024 * 1024
MAX_SKIP_BYTES = 16 * MAX_MESSAGE_BYTES
MAX_SKIP_OBJECTS = 16 * MAX_ARRAY_LEN


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
