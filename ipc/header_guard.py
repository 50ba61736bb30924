"""The IPC stream's limits, and the guard that checks every MessagePack header against them
as soon as the header arrives (sans-IO: bytes in, a verdict out; no trio, no Qt).

Why a guard of our own. msgpack's ``Unpacker`` checks an array's or a map's count when it
reads the header, but a str's, bin's or ext's length only once the whole payload has
arrived, and it knows nothing of the size of the message around a value. A five-byte
``bin32`` header declaring 4 GiB therefore made the decoder buffer everything that followed
(the controller's next requests) until the buffer limit tripped, tens of seconds later.
``MessageDecoder`` (``ipc.codec``) lets msgpack's C code parse what fits in one piece of
input and hands every message that is still incomplete to a ``HeaderGuard`` before it
feeds the unpacker any more of it: the guard walks the message's headers (nothing else)
and checks, for each one,

- a str, bin or ext length against ``MAX_STR_LEN``, ``MAX_BIN_LEN``, ``MAX_EXT_LEN``;
- an array or map count against ``MAX_ARRAY_LEN``, ``MAX_MAP_LEN``;
- that the message can still fit in ``MAX_MESSAGE_BYTES``: the bytes so far, this value's
  header and declared payload, and at least one byte for every value still declared by
  the containers around it;
- the nesting depth against msgpack's own (``MAX_DEPTH``), and the reserved byte 0xc1;
- that the message itself is an array of at most four values (every MessagePack-RPC
  message is): anything else cannot be a message, and a big container at the top level
  would swallow the messages that follow it.

A header that breaks a rule raises ``ProtocolViolation`` naming the rule and the byte
offset of the header. The stream has no framing to resynchronise on once a length lies,
so the violation is final for the channel (see docs/ipc.md, "Bad input"). The rules are
exactly the ones msgpack applies plus the message-level ones, so a message is accepted or
refused the same way however its bytes were split into reads.
"""

from __future__ import annotations

from typing import Literal

from ipc.errors import ProtocolViolation

__all__ = [
    "MAX_ARRAY_LEN",
    "MAX_BIN_LEN",
    "MAX_DEPTH",
    "MAX_EXT_LEN",
    "MAX_MAP_LEN",
    "MAX_MESSAGE_BYTES",
    "MAX_MESSAGE_VALUES",
    "MAX_STR_LEN",
    "HeaderGuard",
    "ViolationKind",
    "check_message_header",
]

# A session's frames are 8 MiB at most by default (ipc.framing), and a session may raise
# that to just under this message limit (engine.rpc.commands.MAX_IPC_FRAME_LENGTH keeps
# 64 KiB for the rest of the message), so a `send` or a `received` holding one largest
# frame always fits in one message. Neovim's msgpack-rpc sets no limit at all; msgpack's
# own default max_buffer_size is 100 MiB.
#: Largest encoded message either side accepts.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: Largest bin (one frame's payload).
MAX_BIN_LEN = MAX_MESSAGE_BYTES
#: Largest str: hosts, labels, methods and error messages are short; 1 MiB is generous.
MAX_STR_LEN = 1024 * 1024
#: Largest ext. No message of the schema holds one; msgpack's largest fixed-size ext
#: (fixext16) still passes the guard and is refused by the schema like any wrong type.
MAX_EXT_LEN = 16
#: Largest array: the frames of one `send` or `received` (the engine batches at most
#: ``engine.rpc.batching.MAX_FRAMES_PER_NOTIFICATION``) or the session list (10,000 max).
MAX_ARRAY_LEN = 131_072
#: Largest map: every map in the schema has a handful of keys.
MAX_MAP_LEN = 1024
#: Containers open at once, msgpack's own limit (its C unpacker has a fixed stack).
MAX_DEPTH = 1024
#: A message is ``[type, msgid, method, params]`` or ``[type, method, params]``.
MAX_MESSAGE_VALUES = 4

ViolationKind = Literal["too_large", "too_deep", "not_a_message", "malformed"]

# Fixed-size values: first byte -> bytes in all (nil, booleans, numbers, fixext).
_FIXED: dict[int, int] = {
    0xC0: 1, 0xC2: 1, 0xC3: 1,  # nil, false, true
    0xCA: 5, 0xCB: 9,  # float32, float64
    0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9,  # uint8..64
    0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9,  # int8..64
    0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18,  # fixext1..16 (type byte + data)
}  # fmt: skip
# Sized values: first byte -> (name, bytes of the length, type bytes after it, limit, what).
_SIZED: dict[int, tuple[str, int, int, int, str]] = {
    0xC4: ("bin8", 1, 0, MAX_BIN_LEN, "a bin"),
    0xC5: ("bin16", 2, 0, MAX_BIN_LEN, "a bin"),
    0xC6: ("bin32", 4, 0, MAX_BIN_LEN, "a bin"),
    0xC7: ("ext8", 1, 1, MAX_EXT_LEN, "an ext"),
    0xC8: ("ext16", 2, 1, MAX_EXT_LEN, "an ext"),
    0xC9: ("ext32", 4, 1, MAX_EXT_LEN, "an ext"),
    0xD9: ("str8", 1, 0, MAX_STR_LEN, "a str"),
    0xDA: ("str16", 2, 0, MAX_STR_LEN, "a str"),
    0xDB: ("str32", 4, 0, MAX_STR_LEN, "a str"),
}
# Containers with a count field: first byte -> (name, bytes of the count, values per entry).
_CONTAINERS: dict[int, tuple[str, int, int]] = {
    0xDC: ("array16", 2, 1), 0xDD: ("array32", 4, 1),
    0xDE: ("map16", 2, 2), 0xDF: ("map32", 4, 2),
}  # fmt: skip


def _violation(kind: ViolationKind, offset: int, message: str) -> ProtocolViolation:
    return ProtocolViolation(kind, f"{message} (at byte {offset:,} of the stream)", offset=offset)


def _too_deep(offset: int) -> ProtocolViolation:
    return _violation("too_deep", offset, f"more than {MAX_DEPTH} nested arrays and maps")


def _too_big(offset: int, what: str) -> ProtocolViolation:
    return _violation(
        "too_large", offset, f"{what}: the message would be larger than {MAX_MESSAGE_BYTES:,} bytes"
    )


class HeaderGuard:
    """Checks the headers of one message, whose first byte is at stream offset ``start``,
    as its bytes arrive (see the module docstring).

    Call ``advance`` with whatever is buffered, as often as more arrives; it resumes where
    it stopped, so each header is looked at once, and payloads are skipped, not read.
    """

    __slots__ = ("_left", "_outer", "_payload", "_stack", "pos", "start")

    def __init__(self, start: int) -> None:
        #: Stream offset of the message's first byte.
        self.start = start
        #: Stream offset up to which every header has been checked: the bytes before it
        #: are safe to hand to msgpack.
        self.pos = start
        self._payload = 0  # bytes of a str/bin/ext payload still to come
        self._left = 1  # values still to come in the innermost open container
        self._stack: list[int] = []  # ``_left`` of each enclosing container
        self._outer = 0  # sum(self._stack): values the enclosing containers still expect

    def advance(self, buf: bytes | bytearray, base: int) -> int | None:
        """Check every header in ``buf`` (whose first byte is at stream offset ``base``)
        from ``pos`` on.

        Returns the stream offset just past the message once it is complete, or ``None``
        when more bytes are needed (``pos`` then says how far the check got).

        Raises:
            ProtocolViolation: a header broke a rule; the stream cannot go on.
        """
        i = self.pos - base
        end = len(buf)
        if self._payload:
            if end - i < self._payload:
                self._payload -= end - i
                self.pos = base + end
                return None
            i += self._payload
            self._payload = 0
        if self.pos == self.start and i < end:
            check_message_header(buf, i, base)
        left = self._left
        stack = self._stack
        outer = self._outer
        # Strategy: a message must fit in MAX_MESSAGE_BYTES with at least one byte for
        # every value its containers still expect. With ``room`` = where it must end at
        # the latest, less those of the enclosing containers, a value that ends at ``i``
        # fits while ``i + left <= room``. A one-byte value leaves ``i + left`` as it was,
        # so fixints need no check; ``room`` changes only when a container opens or closes.
        room = self.start - base + MAX_MESSAGE_BYTES - outer
        while i <= end:
            if not left:
                if not stack:
                    self.pos = base + i
                    self._left = 0
                    return base + i
                left = stack.pop()
                outer -= left
                room += left
                continue
            if i == end:
                break
            at = i
            b = buf[i]
            # The common cases first: fixint, fixstr (map keys), bin8 (small frames).
            if b < 0x80 or b >= 0xE0:
                i += 1
                left -= 1
                continue
            if 0xA0 <= b <= 0xBF:
                i += 1 + (b & 0x1F)
            elif b == 0xC4:
                # A run of bin8 values (the small frames of a flood), in a tight loop; it
                # cannot break the limits on its own, only the room.
                run_start, run_left = i, left
                if i + 1 < end:
                    i, left = _skip_equal_bin8(buf, i, end, left)
                while left and i + 1 < end and buf[i] == 0xC4:
                    i += 2 + buf[i + 1]
                    left -= 1
                if i == run_start:  # its length byte has not arrived
                    break
                if i + left > room:
                    raise _too_big(_first_past_room(buf, run_start, run_left, room, base), "a bin8")
                continue
            elif b <= 0x9F or b in _CONTAINERS:  # fixmap, fixarray, array16/32, map16/32
                if b <= 0x9F:
                    name = "fixmap" if b <= 0x8F else "fixarray"
                    per_entry = 2 if b <= 0x8F else 1
                    entries = b & 0x0F
                    i += 1
                else:
                    name, width, per_entry = _CONTAINERS[b]
                    if i + 1 + width > end:
                        break
                    entries = int.from_bytes(buf[i + 1 : i + 1 + width], "big")
                    limit = MAX_ARRAY_LEN if per_entry == 1 else MAX_MAP_LEN
                    if entries > limit:
                        what = "an array" if per_entry == 1 else "a map"
                        raise _violation(
                            "too_large",
                            base + at,
                            f"{name} declares {entries:,} entries; {what} holds at most {limit:,}",
                        )
                    i += 1 + width
                if len(stack) >= MAX_DEPTH:
                    raise _too_deep(base + at)
                left -= 1
                values = entries * per_entry
                if i + left + values > room:
                    raise _too_big(base + at, f"{name} declares {entries:,} entries")
                if values:
                    stack.append(left)
                    outer += left
                    room -= left
                    left = values
                continue
            elif b in _FIXED:
                i += _FIXED[b]
            elif b in _SIZED:
                name, width, type_bytes, limit, what = _SIZED[b]
                if i + 1 + width > end:
                    break
                n = int.from_bytes(buf[i + 1 : i + 1 + width], "big")
                if n > limit:
                    raise _violation(
                        "too_large",
                        base + at,
                        f"{name} declares {n:,} bytes; {what} holds at most {limit:,}",
                    )
                i += 1 + width + type_bytes + n
                left -= 1
                if i + left > room:
                    raise _too_big(base + at, f"{name} declares {n:,} bytes")
                continue
            else:  # 0xc1, the one byte MessagePack never uses
                raise _violation("malformed", base + at, "0xc1 is not a MessagePack type")
            left -= 1
            if i + left > room:
                raise _too_big(base + at, _describe(b))
        # Out of bytes: a header cut short, or a payload still arriving.
        if i > end:
            self._payload = i - end
            i = end
        self._left, self._outer = left, outer
        self.pos = base + i
        return None


#: Equal-sized bin8 values are skipped in one step from this many on.
_EQUAL_RUN = 8


def _skip_equal_bin8(buf: bytes | bytearray, i: int, end: int, left: int) -> tuple[int, int]:
    """Skip the bin8 values at ``buf[i]`` that have the same length as the first one and
    are complete in ``buf``; return the new ``(i, left)``.

    A flood of equal-sized frames is the common case of a long frames array: their headers
    then repeat every ``step`` bytes, so two strided slices (C loops) check them all.
    """
    n = buf[i + 1]
    step = n + 2
    k = min(left, (end - i) // step)
    if k < _EQUAL_RUN or buf[i + step] != 0xC4 or buf[i + step + 1] != n:
        return i, left
    stop = i + k * step
    heads = buf[i:stop:step]
    lengths = buf[i + 1 : stop + 1 : step]
    same = min(k - len(heads.lstrip(b"\xc4")), k - len(lengths.lstrip(bytes((n,)))))
    return i + same * step, left - same


def _first_past_room(buf: bytes | bytearray, i: int, left: int, room: int, base: int) -> int:
    """The stream offset of the first bin8 of the run at ``buf[i]`` that ends past ``room``."""
    while True:
        at = i
        i += 2 + buf[i + 1]
        left -= 1
        if i + left > room:
            return base + at


def check_message_header(buf: bytes | bytearray, i: int, base: int) -> None:
    """Check the message's own header at ``buf[i]``: an array of at most
    ``MAX_MESSAGE_VALUES`` (a header cut short is checked once it is complete)."""
    b = buf[i]
    if 0x90 <= b <= 0x9F:
        count = b & 0x0F
    elif b in (0xDC, 0xDD):
        width = 2 if b == 0xDC else 4
        if i + 1 + width > len(buf):
            return
        count = int.from_bytes(buf[i + 1 : i + 1 + width], "big")
    else:
        raise _violation(
            "not_a_message", base + i, f"a message must be an array, not {_describe(b)}"
        )
    if count > MAX_MESSAGE_VALUES:
        raise _violation(
            "not_a_message",
            base + i,
            f"a message is an array of at most {MAX_MESSAGE_VALUES} values, not {count:,}",
        )


def _describe(b: int) -> str:
    """What a value starting with byte ``b`` is, for an error message."""
    if b < 0x80 or b >= 0xE0 or 0xCC <= b <= 0xD3:
        return "an integer"
    if 0x80 <= b <= 0x8F or b in (0xDE, 0xDF):
        return "a map"
    if 0xA0 <= b <= 0xBF or 0xD9 <= b <= 0xDB:
        return "a str"
    if 0xC4 <= b <= 0xC6:
        return "a bin"
    if b == 0xC1:
        return "0xc1 (not a MessagePack type)"
    names = {0xC0: "nil", 0xC2: "a boolean", 0xC3: "a boolean", 0xCA: "a float", 0xCB: "a float"}
    return names.get(b, "an ext")
