"""The sans-IO length-prefix codec: bytes in, frames out; frames in, bytes out.

No sockets, no trio, no clocks (the h11/wsproto shape): ``FrameDecoder`` turns a byte
stream into complete payloads, ``encode_frame``/``encode_frames`` do the reverse, and
``FramingSpec`` says how the length is written on the wire (docs/design.md, "Wire framing").

Defaults and other implementations: framewire's default, ``le32``, is a 4-byte unsigned
**little-endian** length counting the payload only (Twisted's ``IntNStringReceiver`` with
``structFormat = "<L"``, the classic sample's format). Beware that the common libraries
default to **big-endian** ("network order"): Netty's ``LengthFieldBasedFrameDecoder``
(``ByteOrder.BIG_ENDIAN``), Twisted's ``Int32StringReceiver`` (``"!I"``) and Tokio's
``LengthDelimitedCodec`` (4-byte big-endian). To talk to those, use the ``be32`` preset.

Theory of operation (``FrameDecoder``): the decoder is in one of three states.

* *between frames*: nothing is pending;
* *in a header*: fewer than ``length_size`` bytes of the next header are held;
* *in a body*: the header has been read and checked, ``_body_length`` is known, and the
  body bytes received so far are held as a list of chunk slices (joined once, when the
  frame completes, so a large frame spread over many reads is copied exactly once).

A header whose length exceeds ``max_frame_length`` is an error the moment the header is
read: nothing is buffered for its body. Any error moves the decoder to a failed state it
never leaves.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ipc.errors import (
    FrameTooLarge,
    LocalProtocolError,
    RemoteProtocolError,
    SchemaError,
    TruncatedFrame,
)

__all__ = [
    "DEFAULT",
    "DEFAULT_MAX_FRAME_LENGTH",
    "MAX_FRAME_LENGTH_CEILING",
    "PRESETS",
    "FrameDecoder",
    "FramingSpec",
    "encode_frame",
    "encode_frames",
]

#: Largest payload accepted by default, in bytes. Tokio's ``LengthDelimitedCodec`` uses the
#: same 8 MiB; Twisted's ``IntNStringReceiver.MAX_LENGTH`` is 99,999; Netty makes the
#: caller choose. Big enough for any interactive use, small enough that a bogus length
#: cannot make the engine allocate gigabytes.
DEFAULT_MAX_FRAME_LENGTH = 8 * 1024 * 1024

#: Upper bound on ``max_frame_length`` itself (1 GiB): every buffer has a bound, even one a
#: user configures.
MAX_FRAME_LENGTH_CEILING = 1024 * 1024 * 1024

#: Tails of a read shorter than this are copied out of the chunk rather than referenced,
#: so a small leftover does not pin a whole (up to 1 MiB) read buffer in memory.
_COPY_TAIL_BELOW_BYTES = 64 * 1024

_STRUCT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}
_WIRE_KEYS = ("length_size", "byte_order", "length_includes_header", "max_frame_length")


@dataclass(frozen=True, slots=True, kw_only=True)
class FramingSpec:
    """How a frame's length is written on the wire.

    Attributes:
        length_size: bytes in the unsigned length field: 1, 2, 4 or 8.
        byte_order: ``"little"`` or ``"big"`` (network order).
        length_includes_header: the length counts the header too (Netty's
            ``lengthAdjustment = -lengthFieldLength``); by default it counts the payload only.
        max_frame_length: largest payload accepted or sent, in bytes. The length field may
            lower the effective limit further (255 for a 1-byte field).

    Raises:
        LocalProtocolError: on construction, if a field has an invalid value.
    """

    length_size: Literal[1, 2, 4, 8] = 4
    byte_order: Literal["little", "big"] = "little"
    length_includes_header: bool = False
    max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH

    def __post_init__(self) -> None:
        # The annotations are not enforced at run time: values decoded from the pipe reach
        # here unchecked, so each field is looked at as the plain object it may be.
        length_size: object = self.length_size
        byte_order: object = self.byte_order
        includes_header: object = self.length_includes_header
        max_length: object = self.max_frame_length
        if type(length_size) is not int or length_size not in _STRUCT_CODES:
            raise LocalProtocolError(f"length_size must be 1, 2, 4 or 8, not {length_size!r}")
        if byte_order not in ("little", "big"):
            raise LocalProtocolError(f"byte_order must be 'little' or 'big', not {byte_order!r}")
        if type(includes_header) is not bool:
            raise LocalProtocolError(
                f"length_includes_header must be a bool, not {includes_header!r}"
            )
        if type(max_length) is not int or not 0 <= max_length <= MAX_FRAME_LENGTH_CEILING:
            raise LocalProtocolError(
                f"max_frame_length must be an int from 0 to {MAX_FRAME_LENGTH_CEILING}, "
                f"not {max_length!r}"
            )

    @property
    def payload_limit(self) -> int:
        """The largest payload this spec can carry: ``max_frame_length`` or what fits the field."""
        field_max = (1 << (8 * self.length_size)) - 1
        if self.length_includes_header:
            field_max -= self.length_size
        return min(self.max_frame_length, field_max)

    def to_wire(self) -> dict[str, Any]:
        """Return the map form used on the IPC pipe (the four fields, by name)."""
        return {key: getattr(self, key) for key in _WIRE_KEYS}

    @classmethod
    def from_wire(cls, value: object) -> FramingSpec:
        """Build a spec from a preset name (``"le32"``) or a map of fields.

        Missing keys take their defaults; unknown keys are refused, so a misspelt field is
        not silently ignored.

        Raises:
            SchemaError: unknown preset, unknown key, or an invalid value.
        """
        if isinstance(value, str):
            try:
                return PRESETS[value]
            except KeyError:
                known = ", ".join(PRESETS)
                raise SchemaError(f"unknown framing preset {value!r} (known: {known})") from None
        if not isinstance(value, dict):
            raise SchemaError(f"framing must be a preset name or a map, not {type(value).__name__}")
        unknown = sorted(str(key) for key in value if key not in _WIRE_KEYS)
        if unknown:
            raise SchemaError(
                f"unknown framing key(s) {', '.join(unknown)} (known: {', '.join(_WIRE_KEYS)})"
            )
        try:
            return cls(**value)
        except LocalProtocolError as exc:
            raise SchemaError(f"invalid framing: {exc}") from exc


#: The default framing: 4-byte little-endian length of the payload, 8 MiB maximum.
DEFAULT = FramingSpec()

#: Named framings. ``le32`` is the default; ``be32`` is what Netty, Twisted's
#: ``Int32StringReceiver`` and Tokio's ``LengthDelimitedCodec`` speak by default.
PRESETS: dict[str, FramingSpec] = {
    "le32": DEFAULT,
    "be32": FramingSpec(byte_order="big"),
    "le16": FramingSpec(length_size=2),
    "be16": FramingSpec(length_size=2, byte_order="big"),
    "u8": FramingSpec(length_size=1),
    "le64": FramingSpec(length_size=8),
    "be64": FramingSpec(length_size=8, byte_order="big"),
}


def _header_struct(spec: FramingSpec) -> struct.Struct:
    order = "<" if spec.byte_order == "little" else ">"
    return struct.Struct(order + _STRUCT_CODES[spec.length_size])


def encode_frame(payload: bytes, spec: FramingSpec = DEFAULT) -> bytes:
    """Return ``payload`` with its length header, as ``spec`` says.

    Raises:
        LocalProtocolError: the payload is over ``spec.max_frame_length`` or its length does
            not fit the length field. Nothing is truncated.
    """
    return _header(len(payload), spec, _header_struct(spec)) + payload


def encode_frames(payloads: Iterable[bytes], spec: FramingSpec = DEFAULT) -> bytes:
    """Return the frames for ``payloads`` joined into one buffer (one write for a batch).

    Raises:
        LocalProtocolError: any payload is too large (see ``encode_frame``); nothing is
            returned for the batch in that case.
    """
    header = _header_struct(spec)
    parts: list[bytes] = []
    for payload in payloads:
        parts.append(_header(len(payload), spec, header))
        parts.append(payload)
    return b"".join(parts)


def _header(length: int, spec: FramingSpec, header: struct.Struct) -> bytes:
    if length > spec.payload_limit:
        if length > spec.max_frame_length:
            raise LocalProtocolError(
                f"payload of {length} bytes > max_frame_length {spec.max_frame_length}"
            )
        raise LocalProtocolError(
            f"payload of {length} bytes does not fit a {spec.length_size}-byte length field"
        )
    if spec.length_includes_header:
        length += spec.length_size
    return header.pack(length)


class FrameDecoder:
    """Turns a byte stream into complete frame payloads, in order.

    Feed bytes with ``receive_data`` and collect frames with ``frames``, or do both at once
    with ``feed`` (the fast path a reader task uses). Any split of the same stream into
    chunks yields the same frames.

    Errors are reported in order: if one call's data holds complete frames followed by a
    protocol error, those frames are returned first and the error is raised by the next
    call (as wsproto's ``events()`` yields what came before a ``ParseFailed``); ``failed``
    tells a reader to make that call now rather than wait for more data. Once failed, the
    decoder stays failed and every call raises again.
    """

    __slots__ = (
        "_body_length",
        "_eof",
        "_error",
        "_header",
        "_header_size",
        "_includes_header",
        "_limit",
        "_pending",
        "_pending_size",
        "_ready",
        "spec",
    )

    def __init__(self, spec: FramingSpec = DEFAULT) -> None:
        self.spec = spec
        self._header = _header_struct(spec)
        self._header_size = spec.length_size
        self._includes_header = spec.length_includes_header
        self._limit = spec.payload_limit
        #: Body length of the frame being received; -1 between frames or inside a header.
        self._body_length = -1
        #: Held bytes: a partial header (when _body_length == -1) or a partial body.
        self._pending: list[bytes | memoryview] = []
        self._pending_size = 0
        #: Frames decoded by receive_data and not yet collected by frames().
        self._ready: list[bytes] = []
        self._error: RemoteProtocolError | None = None
        self._eof = False

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for an incomplete frame (header or body), not counting ready frames."""
        return self._pending_size

    @property
    def frame_bytes_missing(self) -> int:
        """Bytes that would complete the current header or body; 0 between frames.

        A reader may ask for exactly this many bytes: a large body that arrives in one
        read is then returned as that read's own ``bytes`` object, without a copy.
        """
        if self._body_length >= 0:
            return self._body_length - self._pending_size
        if self._pending_size:
            return self._header_size - self._pending_size
        return 0

    @property
    def failed(self) -> bool:
        """True once the decoder has found a protocol error (raised now or on the next call)."""
        return self._error is not None

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes from the peer; ``b""`` means the peer closed its side (EOF).

        Protocol errors found in ``data`` are raised by the next ``frames()`` call, after the
        frames that precede them.

        Raises:
            RemoteProtocolError: (or its subclasses) the decoder had already failed.
            LocalProtocolError: data was given after EOF.
        """
        self._check_usable()
        self._ready.extend(self._decode(data))

    def frames(self) -> list[bytes]:
        """Return every complete frame available now, in order (an empty list if none).

        Raises:
            FrameTooLarge: a length field exceeded ``spec.max_frame_length`` (checked as soon
                as the header was read; nothing was buffered for that frame).
            TruncatedFrame: the peer closed the stream in the middle of a frame.
            RemoteProtocolError: a length field that counts the header was smaller than
                the header.
        """
        if self._ready:
            ready, self._ready = self._ready, []
            return ready
        if self._error is not None:
            raise type(self._error)(str(self._error))
        return []

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """``receive_data(data)`` then ``frames()``, without the intermediate list.

        Raises:
            The union of what ``receive_data`` and ``frames`` raise.
        """
        self._check_usable()
        if self._ready:
            self._ready.extend(self._decode(data))
            return self.frames()
        ready = self._decode(data)
        if ready:
            return ready
        return self.frames()

    def _check_usable(self) -> None:
        if self._error is not None and not self._ready:
            raise type(self._error)(str(self._error))
        if self._eof:
            raise LocalProtocolError("FrameDecoder received data after EOF")

    # Strategy: the common case is a large read holding many whole frames. We walk it with
    # struct.unpack_from and slice each payload out of the chunk once (one copy per frame,
    # no per-byte Python work, no buffer rewriting). Only the leftover of a read is held,
    # as slices in a list, and it is joined with the next read's prefix only when the
    # frame it belongs to is complete.
    def _decode(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        out: list[bytes] = []
        if self._error is not None:
            return out
        if not data:
            self._eof = True
            if self._pending_size or self._body_length >= 0:
                self._fail(TruncatedFrame(self._truncation_message()))
            return out
        if not isinstance(data, bytes):
            data = bytes(data)
        end = len(data)
        pos = 0
        hsize = self._header_size
        if self._pending_size or self._body_length >= 0:
            if self._body_length < 0:
                missing = hsize - self._pending_size
                if end < missing:
                    self._hold(data)
                    return out
                header = b"".join(self._pending) + data[:missing]
                self._pending.clear()
                self._pending_size = 0
                pos = missing
                if not self._start_body(self._header.unpack(header)[0]):
                    return out
            missing = self._body_length - self._pending_size
            if end - pos < missing:
                self._hold(data if pos == 0 else memoryview(data)[pos:])
                return out
            if not self._pending and pos == 0 and missing == end:
                out.append(data)  # the read is exactly the body: hand it over, no copy
            else:
                self._pending.append(memoryview(data)[pos : pos + missing])
                out.append(b"".join(self._pending))
            self._pending.clear()
            self._pending_size = 0
            self._body_length = -1
            pos += missing

        unpack_from = self._header.unpack_from
        append = out.append
        last = end - hsize  # a header starting after this is incomplete
        if not self._includes_header:
            # Fast path: whole frames whose length counts the payload only. It stops at the
            # first frame that is incomplete or too large; the careful loop takes it from there.
            limit = self._limit
            while pos <= last:
                length = unpack_from(data, pos)[0]
                start = pos + hsize
                stop = start + length
                if stop > end or length > limit:
                    break
                append(data[start:stop])
                pos = stop
        # Careful path: one checked header at a time.
        while pos <= last:
            if not self._start_body(unpack_from(data, pos)[0]):
                return out
            start = pos + hsize
            stop = start + self._body_length
            if stop > end:
                pos = start
                break
            append(data[start:stop])
            self._body_length = -1
            pos = stop
        if pos < end:
            self._hold(data[pos:] if end - pos < _COPY_TAIL_BELOW_BYTES else memoryview(data)[pos:])
        return out

    def _start_body(self, length: int) -> bool:
        """Check a header's length and enter the body state; False (and failed) if bad."""
        if self._includes_header:
            length -= self._header_size
            if length < 0:
                self._fail(self._short_length_error(length + self._header_size))
                return False
        if length > self._limit:
            self._fail(self._too_large_error(length))
            return False
        self._body_length = length
        return True

    def _hold(self, chunk: bytes | memoryview) -> None:
        self._pending.append(chunk)
        self._pending_size += len(chunk)

    def _fail(self, error: RemoteProtocolError) -> None:
        self._error = error
        self._pending.clear()
        self._pending_size = 0
        self._body_length = -1

    def _too_large_error(self, length: int) -> FrameTooLarge:
        return FrameTooLarge(f"frame length {length} > max {self._limit}")

    def _short_length_error(self, length: int) -> RemoteProtocolError:
        return RemoteProtocolError(
            f"length field {length} is smaller than the {self._header_size}-byte header "
            "it should include"
        )

    def _truncation_message(self) -> str:
        if self._body_length < 0:
            return (
                f"peer closed mid-frame: {self._pending_size} of {self._header_size} "
                "header bytes received"
            )
        return (
            f"peer closed mid-frame: {self._pending_size} of {self._body_length} "
            "payload bytes received"
        )
