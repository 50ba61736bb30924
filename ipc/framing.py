"""The sans-IO length-prefix codec: bytes in, frames out; frames in, bytes out.

No sockets, no trio, no Qt, no clocks (the h11/wsproto shape): ``FrameDecoder`` turns a
byte stream into complete payloads, ``encode_frame``/``encode_frames`` do the reverse, and
``FramingSpec`` says how a frame is laid out on the wire (docs/design.md, "Wire framing").
It lives in ``ipc`` because the engine decodes with it and the GUI describes, checks and
guesses framings with it (``ipc.diagnosis``).

A frame on the wire, in the terms of Netty's ``LengthFieldBasedFrameDecoder``::

    [ prefix: length_offset bytes ][ length field ][ rest: length + adjustment bytes ]

* the **length field** is an unsigned integer of 1, 2, 3, 4 or 8 bytes in either byte
  order, or an unsigned LEB128 varint (Protobuf's delimited form, MQTT's remaining length);
* the **rest** holds ``value + length_adjust`` bytes, less the header (prefix and field)
  if ``length_includes_header``; an adjusted length below zero is an error, never a hang;
* ``max_frame_length`` bounds the rest, checked (after the adjustment) as soon as the
  header is read, before anything is buffered for it;
* what is **delivered**: with ``strip=None`` (the default) the frame without its length
  field, i.e. prefix + rest (the payload alone when there is no prefix); with ``strip=N``
  the frame less its first N bytes (Netty's ``initialBytesToStrip``: 0 keeps the whole
  frame, length field included).

Encoding is the exact reverse of decoding: ``decode(encode(p)) == [p]``. A payload the
spec cannot express (too long for the field, shorter than its prefix or than a positive
adjustment, or a framing that strips bytes it cannot rebuild) is refused with a
``LocalProtocolError`` saying why; nothing is truncated or made up.

Defaults and other implementations: framewire's default, ``le32``, is a 4-byte unsigned
**little-endian** length counting the payload only (Twisted's ``IntNStringReceiver`` with
``structFormat = "<L"``, the classic sample's format). Beware that the common libraries
default to **big-endian** ("network order"): Netty's ``LengthFieldBasedFrameDecoder``
(``ByteOrder.BIG_ENDIAN``), Twisted's ``Int32StringReceiver`` (``"!I"``) and Tokio's
``LengthDelimitedCodec`` (4-byte big-endian). To talk to those, use the ``be32`` preset.

Theory of operation (``FrameDecoder``): the decoder is in one of three states.

* *between frames*: nothing is pending;
* *in a header*: part of the next header is held;
* *in a body*: the header has been read and checked, ``_body_length`` is known, and the
  body bytes received so far are held as a list of chunk slices (joined once, when the
  frame completes, so a large frame spread over many reads is copied exactly once).

``FrameDecoder(spec)`` builds the fast decoder for the simple layouts (no prefix, a
1/2/4/8-byte field, nothing stripped: ``le32``, ``be32``...), whose inner loop is one
``struct.unpack_from`` and one slice per frame, and an ``_ExtendedDecoder`` for the rest.
Any error moves the decoder to a failed state it never leaves.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, fields
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
    "LENGTH_SIZES",
    "MAX_FRAME_LENGTH_CEILING",
    "MAX_LENGTH_OFFSET",
    "PRESETS",
    "PRESET_NOTES",
    "FrameDecoder",
    "FramingSpec",
    "describe",
    "encode_frame",
    "encode_frames",
    "encode_varint",
    "format_framing",
    "parse_framing",
]

#: Largest frame accepted by default, in bytes. Tokio's ``LengthDelimitedCodec`` uses the
#: same 8 MiB; Twisted's ``IntNStringReceiver.MAX_LENGTH`` is 99,999; Netty makes the
#: caller choose. Big enough for any interactive use, small enough that a bogus length
#: cannot make the engine allocate gigabytes.
DEFAULT_MAX_FRAME_LENGTH = 8 * 1024 * 1024

#: Upper bound on ``max_frame_length`` itself (1 GiB): every buffer has a bound, even one a
#: user configures.
MAX_FRAME_LENGTH_CEILING = 1024 * 1024 * 1024

#: Upper bound on ``length_offset`` and ``strip``: a header is held whole while it
#: arrives, so its size is bounded too. Real protocols put a few bytes before the length.
MAX_LENGTH_OFFSET = 1024

#: Length-field sizes: bytes of a fixed-size unsigned integer, or ``"varint"``.
LENGTH_SIZES: tuple[int | str, ...] = (1, 2, 3, 4, 8, "varint")

#: A LEB128 varint of a 64-bit value takes at most 10 bytes; longer is an error.
_MAX_VARINT_BYTES = 10

#: Tails of a read shorter than this are copied out of the chunk rather than referenced,
#: so a small leftover does not pin a whole (up to 1 MiB) read buffer in memory.
_COPY_TAIL_BELOW_BYTES = 64 * 1024

_STRUCT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}

LengthSize = Literal[1, 2, 3, 4, 8, "varint"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FramingSpec:
    """How a frame is laid out on the wire (see the module docstring for the picture).

    Attributes:
        length_size: the length field: 1, 2, 3, 4 or 8 bytes, or ``"varint"`` (unsigned
            LEB128, 1 to 10 bytes).
        byte_order: ``"little"`` or ``"big"`` (network order); a varint has none, and its
            spec always says ``"little"``.
        length_includes_header: the length counts the header too (the prefix and the
            length field); by default it counts what follows the field.
        max_frame_length: largest number of bytes after the length field (the payload,
            for the simple framings), accepted or sent.
        length_offset: bytes before the length field (a type byte, a preamble).
        length_adjust: added to the length to get the bytes after the field: positive
            when the length leaves out a trailer or a sequence byte, negative when it
            counts itself.
        strip: ``None`` delivers the frame without its length field; N delivers it less
            its first N bytes (0: the whole frame). Only ``None``, 0 and (without a
            prefix) the field's size can be sent: any other value loses bytes the
            encoder cannot rebuild.

    Raises:
        LocalProtocolError: on construction, if a field has an invalid value.
    """

    length_size: LengthSize = 4
    byte_order: Literal["little", "big"] = "little"
    length_includes_header: bool = False
    max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH
    length_offset: int = 0
    length_adjust: int = 0
    strip: int | None = None

    def __post_init__(self) -> None:
        # The annotations are not enforced at run time: values decoded from the pipe reach
        # here unchecked, so each field is looked at as the plain object it may be.
        length_size: object = self.length_size
        byte_order: object = self.byte_order
        includes_header: object = self.length_includes_header
        max_length: object = self.max_frame_length
        offset: object = self.length_offset
        adjust: object = self.length_adjust
        strip: object = self.strip
        if (type(length_size) is not int and length_size != "varint") or (
            length_size not in LENGTH_SIZES
        ):
            raise LocalProtocolError(
                f"length_size must be 1, 2, 3, 4, 8 or 'varint', not {length_size!r}"
            )
        if byte_order not in ("little", "big"):
            raise LocalProtocolError(f"byte_order must be 'little' or 'big', not {byte_order!r}")
        if type(includes_header) is not bool:
            raise LocalProtocolError(
                f"length_includes_header must be a bool, not {includes_header!r}"
            )
        if type(max_length) is not int or not 1 <= max_length <= MAX_FRAME_LENGTH_CEILING:
            # 0 would allow only empty frames: every real frame an error.
            raise LocalProtocolError(
                f"max_frame_length must be an int from 1 to {MAX_FRAME_LENGTH_CEILING}, "
                f"not {max_length!r}"
            )
        if type(offset) is not int or not 0 <= offset <= MAX_LENGTH_OFFSET:
            raise LocalProtocolError(
                f"length_offset must be an int from 0 to {MAX_LENGTH_OFFSET}, not {offset!r}"
            )
        if type(adjust) is not int or abs(adjust) > MAX_FRAME_LENGTH_CEILING:
            raise LocalProtocolError(
                f"length_adjust must be an int from -{MAX_FRAME_LENGTH_CEILING} to "
                f"{MAX_FRAME_LENGTH_CEILING}, not {adjust!r}"
            )
        if strip is not None and (
            type(strip) is not int or not 0 <= strip <= MAX_LENGTH_OFFSET + 8
        ):
            raise LocalProtocolError(
                f"strip must be None or an int from 0 to {MAX_LENGTH_OFFSET + 8}, not {strip!r}"
            )
        if length_size == "varint":
            if includes_header:
                # The varint's own size would depend on the value it encodes.
                raise LocalProtocolError("a varint length cannot count the header")
            if strip not in (None, 0):
                raise LocalProtocolError(
                    "with a varint length, strip must be None (drop the varint) or 0 "
                    "(keep it): the header's size varies"
                )
            object.__setattr__(self, "byte_order", "little")

    # ------------------------------------------------------------------ derived facts

    @property
    def is_simple(self) -> bool:
        """No prefix, a 1/2/4/8-byte field, nothing else stripped: the fast decoder's case."""
        return self.length_offset == 0 and self.length_size in _STRUCT_CODES and self.strip is None

    @property
    def min_header_size(self) -> int:
        """Bytes of the shortest header (prefix and length field)."""
        return self.length_offset + (1 if self.length_size == "varint" else int(self.length_size))

    @property
    def field_max(self) -> int:
        """Largest value the length field can hold."""
        if self.length_size == "varint":
            return (1 << 64) - 1
        return (1 << (8 * int(self.length_size))) - 1

    @property
    def encode_refusal(self) -> str | None:
        """Why no payload can be sent with this spec, or None if payloads can be."""
        strip = self.strip
        if strip is None or strip == 0:
            return None
        if self.length_offset == 0 and strip == self.length_size:
            return None  # drops exactly the length field, which the encoder rebuilds
        return (
            f"this framing strips {strip} bytes on receipt that the length field does not "
            "describe, so frames cannot be sent with it (use strip none or 0 to send)"
        )

    @property
    def payload_limit(self) -> int:
        """The largest payload ``encode_frame`` accepts (0 if the spec cannot encode)."""
        if self.encode_refusal is not None:
            return 0
        # The largest rest the field can describe, then the maximum.
        rest = self.field_max + self.total_adjust(self.min_header_size)
        rest = min(rest, self.max_frame_length)
        if self.length_size == "varint":
            rest = min(rest, MAX_FRAME_LENGTH_CEILING)
        if self.strip == 0:
            return max(rest, 0) + self.min_header_size
        return max(rest, 0) + self.length_offset

    def total_adjust(self, header_size: int) -> int:
        """What to add to the field's value to get the bytes after the field."""
        if self.length_includes_header:
            return self.length_adjust - header_size
        return self.length_adjust

    # ------------------------------------------------------------------ wire forms

    def to_wire(self) -> dict[str, Any]:
        """Return the map form used on the IPC pipe (every field, by name)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

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


_WIRE_KEYS = tuple(f.name for f in fields(FramingSpec))

#: The default framing: 4-byte little-endian length of the payload, 8 MiB maximum.
DEFAULT = FramingSpec()

#: Named framings. ``le32`` is the default; ``be32`` is what Netty, Twisted's
#: ``Int32StringReceiver`` and Tokio's ``LengthDelimitedCodec`` speak by default. The
#: protocol presets' byte tables (from each protocol's public documentation) are in
#: tests/ipc/test_framing_presets.py.
PRESETS: dict[str, FramingSpec] = {
    "le32": DEFAULT,
    "be32": FramingSpec(byte_order="big"),
    "le16": FramingSpec(length_size=2),
    "be16": FramingSpec(length_size=2, byte_order="big"),
    "u8": FramingSpec(length_size=1),
    "le64": FramingSpec(length_size=8),
    "be64": FramingSpec(length_size=8, byte_order="big"),
    "varint": FramingSpec(length_size="varint"),
    "pg": FramingSpec(length_offset=1, byte_order="big", length_adjust=-4),
    "mysql": FramingSpec(length_size=3, length_adjust=1),
    "mqtt": FramingSpec(length_offset=1, length_size="varint"),
    "tpkt": FramingSpec(
        length_offset=2, length_size=2, byte_order="big", length_includes_header=True
    ),
    "modbus": FramingSpec(length_offset=4, length_size=2, byte_order="big"),
    "teltonika": FramingSpec(length_offset=4, byte_order="big", length_adjust=4),
}

#: One line per preset: what speaks it and what a delivered frame holds.
PRESET_NOTES: dict[str, str] = {
    "le32": "4-byte little-endian length (Twisted IntNStringReceiver '<L'; the default)",
    "be32": "4-byte big-endian length (Netty, Tokio LengthDelimitedCodec, Kafka, Twisted "
    "Int32StringReceiver)",
    "le16": "2-byte little-endian length",
    "be16": "2-byte big-endian length (DNS over TCP, Java writeUTF)",
    "u8": "1-byte length",
    "le64": "8-byte little-endian length",
    "be64": "8-byte big-endian length",
    "varint": "unsigned LEB128 varint length (Protobuf writeDelimitedTo, gRPC-less streams)",
    "pg": "PostgreSQL v3 messages after start-up: type byte, big-endian length counting "
    "itself; frames are the type byte + body",
    "mysql": "MySQL client/server packets: 3-byte little-endian length, sequence id; "
    "frames are the sequence id + payload",
    "mqtt": "MQTT control packets: header byte, varint remaining length; frames are the "
    "header byte + the rest",
    "tpkt": "TPKT (RFC 1006; ISO-TSAP, RDP, S7): version, reserved, big-endian length "
    "counting the 4-byte header; frames are version + reserved + the rest",
    "modbus": "Modbus TCP (MBAP): transaction id, protocol id, big-endian length of unit "
    "id + PDU; frames are the 4 id bytes + unit id + PDU",
    "teltonika": "Teltonika AVL data: 4 zero bytes, big-endian data length, data, 4-byte "
    "CRC not counted; frames are preamble + data + CRC",
}


def describe(spec: FramingSpec) -> str:
    """The preset name of ``spec`` (``"be32"``), or its fields in ``parse_framing`` form."""
    for name, preset in PRESETS.items():
        if preset == spec:
            return name
    return format_framing(spec)


def format_framing(spec: FramingSpec) -> str:
    """``spec`` as ``parse_framing`` reads it: only the fields that differ from le32."""
    parts = []
    size = spec.length_size
    if size == "varint":
        parts.append("varint")
    else:
        parts.append(f"{'le' if spec.byte_order == 'little' else 'be'}{int(size) * 8}")
    if spec.length_offset:
        parts.append(f"offset={spec.length_offset}")
    if spec.length_adjust:
        parts.append(f"adjust={spec.length_adjust}")
    if spec.length_includes_header:
        parts.append("includes_header")
    if spec.strip is not None:
        parts.append(f"strip={spec.strip}")
    if spec.max_frame_length != DEFAULT_MAX_FRAME_LENGTH:
        parts.append(f"max={spec.max_frame_length}")
    return ",".join(parts)


_FIELD_WORDS = {
    "offset": "length_offset",
    "size": "length_size",
    "adjust": "length_adjust",
    "order": "byte_order",
    "max": "max_frame_length",
    "strip": "strip",
}


def parse_framing(text: str) -> FramingSpec:
    """Read a framing written as a preset name or comma-separated words.

    ``"be32"``, ``"pg"``, or a base preset followed by changes:
    ``"le24,adjust=1"``, ``"be32,offset=1,adjust=-4"``, ``"varint,offset=1,max=65536"``,
    ``"be16,includes_header,strip=0"``. The first word may also be ``le24``/``be24`` (a
    3-byte field) or ``u8``. Keys: offset, size (1, 2, 3, 4, 8, varint), adjust, order
    (little, big), max, strip (a number or none), includes_header.

    Raises:
        ValueError: with a message naming the bad word.
    """
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not words:
        raise ValueError("empty framing")
    first, rest = words[0], words[1:]
    if first in PRESETS:
        fields_: dict[str, Any] = PRESETS[first].to_wire()
    elif first in ("le24", "be24"):
        fields_ = FramingSpec(length_size=3, byte_order=_order(first)).to_wire()
    elif "=" in first or first == "includes_header":
        fields_, rest = DEFAULT.to_wire(), words
    else:
        known = ", ".join([*PRESETS, "le24", "be24"])
        raise ValueError(f"unknown framing {first!r} (presets: {known}; or key=value words)")
    for word in rest:
        if word == "includes_header":
            fields_["length_includes_header"] = True
            continue
        key, sep, value = word.partition("=")
        if not sep or key not in _FIELD_WORDS:
            raise ValueError(
                f"bad framing word {word!r} (known: {', '.join(_FIELD_WORDS)}=..., includes_header)"
            )
        fields_[_FIELD_WORDS[key]] = _framing_value(key, value)
    try:
        return FramingSpec(**fields_)
    except LocalProtocolError as exc:
        raise ValueError(str(exc)) from None


def _order(word: str) -> Literal["little", "big"]:
    return "little" if word.startswith("le") else "big"


def _framing_value(key: str, value: str) -> Any:
    if key == "order":
        return value
    if key == "size" and value == "varint":
        return value
    if key == "strip" and value == "none":
        return None
    try:
        return int(value, 0)
    except ValueError:
        raise ValueError(f"{key}={value!r}: not a number") from None


# ----------------------------------------------------------------------------- encoding


def _header_struct(spec: FramingSpec) -> struct.Struct:
    order = "<" if spec.byte_order == "little" else ">"
    return struct.Struct(order + _STRUCT_CODES[int(spec.length_size)])


def encode_frame(payload: bytes, spec: FramingSpec = DEFAULT) -> bytes:
    """Return ``payload`` as one frame on the wire, as ``spec`` says.

    Raises:
        LocalProtocolError: the payload cannot be expressed with ``spec`` (see
            ``encode_frames``). Nothing is truncated.
    """
    if spec.is_simple:
        return _header(len(payload), spec, _header_struct(spec)) + payload
    return _encode_extended(payload, spec)


def encode_frames(payloads: Iterable[bytes], spec: FramingSpec = DEFAULT) -> bytes:
    """Return the frames for ``payloads`` joined into one buffer (one write for a batch).

    Raises:
        LocalProtocolError: a payload is over ``spec.max_frame_length``, does not fit the
            length field, is shorter than the prefix or a positive adjustment, or the spec
            strips bytes it cannot rebuild; nothing is returned for the batch then.
    """
    parts: list[bytes] = []
    if spec.is_simple:
        header = _header_struct(spec)
        for payload in payloads:
            parts.append(_header(len(payload), spec, header))
            parts.append(payload)
    else:
        parts.extend(_encode_extended(payload, spec) for payload in payloads)
    return b"".join(parts)


def _header(length: int, spec: FramingSpec, header: struct.Struct) -> bytes:
    return header.pack(_length_value(length, spec, spec.min_header_size))


def _length_value(rest: int, spec: FramingSpec, header_size: int) -> int:
    """The length field's value for ``rest`` bytes after it, or why it cannot be written."""
    if rest > spec.max_frame_length:
        raise LocalProtocolError(
            f"payload of {rest} bytes > max_frame_length {spec.max_frame_length}"
        )
    value = rest - spec.total_adjust(header_size)
    if value < 0:
        raise LocalProtocolError(
            f"a payload needs at least {rest - value} bytes after the length field with this "
            f"framing (length_adjust {spec.length_adjust}), this one has {rest}"
        )
    if value > spec.field_max:
        raise LocalProtocolError(
            f"payload of {rest} bytes does not fit a {spec.length_size}-byte length field"
        )
    return value


def _encode_extended(payload: bytes, spec: FramingSpec) -> bytes:
    refusal = spec.encode_refusal
    if refusal is not None:
        raise LocalProtocolError(refusal)
    offset = spec.length_offset
    if spec.strip == 0:
        # The payload is the whole frame, length field included: send it as it is, if it
        # is exactly one frame.
        decoder = FrameDecoder(spec)
        try:
            frames = decoder.feed(payload)
        except RemoteProtocolError as exc:
            raise LocalProtocolError(f"with strip 0 the payload is a whole frame: {exc}") from None
        if frames != [payload] or decoder.buffered_bytes:
            raise LocalProtocolError(
                f"with strip 0 the payload is a whole frame, but these {len(payload)} bytes "
                "are not exactly one frame (check the length field)"
            )
        return payload
    if len(payload) < offset:
        raise LocalProtocolError(
            f"payload of {len(payload)} bytes is shorter than the {offset} bytes before the "
            "length field (they are part of the payload)"
        )
    rest = len(payload) - offset
    if spec.length_size == "varint":
        field = encode_varint(_length_value(rest, spec, offset + 1))  # never counts the header
    else:
        size = int(spec.length_size)
        field = _length_value(rest, spec, offset + size).to_bytes(size, spec.byte_order)
    if not offset:
        return field + payload
    return payload[:offset] + field + payload[offset:]


def encode_varint(value: int) -> bytes:
    """``value`` as an unsigned LEB128 varint (7 bits a byte, low bits first)."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# ----------------------------------------------------------------------------- decoding


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

    ``head`` keeps the first ``HEAD_BYTES`` bytes of the stream: what ``ipc.diagnosis``
    looks at when the framing turns out to be wrong.
    """

    #: Bytes of the stream's start kept in ``head``.
    HEAD_BYTES = 256

    __slots__ = (
        "_adjust",
        "_body_length",
        "_eof",
        "_error",
        "_head",
        "_header",
        "_header_size",
        "_limit",
        "_pending",
        "_pending_size",
        "_ready",
        "spec",
    )

    def __new__(cls, spec: FramingSpec = DEFAULT) -> FrameDecoder:
        # The simple layouts get this class's fast loop; the others the general one.
        if cls is FrameDecoder and not spec.is_simple:
            cls = _ExtendedDecoder
        return object.__new__(cls)

    def __init__(self, spec: FramingSpec = DEFAULT) -> None:
        self.spec = spec
        self._header_size = spec.min_header_size
        self._header = _header_struct(spec) if spec.is_simple else None
        self._adjust = spec.total_adjust(self._header_size)
        self._limit = spec.max_frame_length
        #: Body length of the frame being received; -1 between frames or inside a header.
        self._body_length = -1
        #: Held bytes: a partial header (when _body_length == -1) or a partial body.
        self._pending: list[bytes | memoryview] = []
        self._pending_size = 0
        #: Frames decoded by receive_data and not yet collected by frames().
        self._ready: list[bytes] = []
        self._error: RemoteProtocolError | None = None
        self._eof = False
        self._head = b""

    @property
    def head(self) -> bytes:
        """The first bytes of the stream (up to ``HEAD_BYTES``), whatever became of them."""
        return self._head

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for an incomplete frame (header or body), not counting ready frames."""
        return self._pending_size

    @property
    def unfinished_bytes(self) -> int:
        """Bytes of the stream since the last whole frame, its header included."""
        return self._pending_size + (self._header_size if self._body_length >= 0 else 0)

    @property
    def frame_bytes_missing(self) -> int:
        """Bytes that would complete the current header or body; 0 between frames.

        A reader may ask for exactly this many bytes: a large body that arrives in one
        read is then returned as that read's own ``bytes`` object, without a copy.
        """
        if self._body_length >= 0:
            return self._body_length - self._pending_size
        if self._pending_size:
            return max(self._header_size - self._pending_size, 1)
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
            FrameTooLarge: a length exceeded ``spec.max_frame_length`` (checked as soon as
                the header was read; nothing was buffered for that frame).
            TruncatedFrame: the peer closed the stream in the middle of a frame.
            RemoteProtocolError: an adjusted length was below zero (shorter than the header
                it counts), or a frame was shorter than the bytes to strip.
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

    def _keep_head(self, data: bytes) -> None:
        self._head += data[: self.HEAD_BYTES - len(self._head)]

    def _start_read(self, data: bytes | bytearray | memoryview) -> bytes | None:
        """What every ``_decode`` does first: None when there is nothing to decode (after
        an error, or at EOF, which it records); else the read as bytes, its start kept."""
        if self._error is not None:
            return None
        if not data:
            self._eof = True
            if self._pending_size or self._body_length >= 0:
                self._fail(TruncatedFrame(self._truncation_message()))
            return None
        if not isinstance(data, bytes):
            data = bytes(data)
        if len(self._head) < self.HEAD_BYTES:
            self._keep_head(data)
        return data

    # Strategy: the common case is a large read holding many whole frames. We walk it with
    # struct.unpack_from and slice each payload out of the chunk once (one copy per frame,
    # no per-byte Python work, no buffer rewriting). Only the leftover of a read is held,
    # as slices in a list, and it is joined with the next read's prefix only when the
    # frame it belongs to is complete.
    def _decode(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        out: list[bytes] = []
        read = self._start_read(data)
        if read is None:
            return out
        data = read
        assert self._header is not None
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
        if not self._adjust:
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

    def _start_body(self, value: int) -> bool:
        """Check a header's length and enter the body state; False (and failed) if bad."""
        length = value + self._adjust
        if length < 0:
            self._fail(self._short_length_error(value))
            return False
        if length > self._limit:
            self._fail(self._too_large_error(value, length))
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

    def _too_large_error(self, value: int, length: int) -> FrameTooLarge:
        if length == value:
            return FrameTooLarge(f"frame length {length} > max {self._limit}")
        return FrameTooLarge(
            f"frame length {length} (length field {value}, adjusted) > max {self._limit}"
        )

    def _short_length_error(self, value: int) -> RemoteProtocolError:
        spec = self.spec
        if spec.length_includes_header and not spec.length_adjust:
            return RemoteProtocolError(
                f"length field {value} is smaller than the {self._header_size}-byte header "
                "it should include"
            )
        return RemoteProtocolError(
            f"length field {value} with length_adjust {spec.length_adjust} gives a frame "
            "shorter than its header"
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


class _ExtendedDecoder(FrameDecoder):
    """The decoder for every other layout: a prefix, a 3-byte or varint field, a strip.

    The same states as ``FrameDecoder``; the header is parsed by ``_parse_header``
    (variable size for a varint) and held whole, since the delivered frame may keep part
    of it (the prefix, or what ``strip`` leaves).
    """

    __slots__ = ("_frame_header",)

    def __init__(self, spec: FramingSpec = DEFAULT) -> None:
        super().__init__(spec)
        #: The header of the frame whose body is being received.
        self._frame_header = b""

    @property
    def unfinished_bytes(self) -> int:
        if self._body_length >= 0:
            return self._pending_size + len(self._frame_header)
        return self._pending_size

    def _decode(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        out: list[bytes] = []
        read = self._start_read(data)
        if read is None:
            return out
        data = read
        end = len(data)
        pos = 0
        if self._pending_size or self._body_length >= 0:
            if self._body_length < 0:
                held = self._pending_size
                header = b"".join(self._pending) + data[: self._header_size + _MAX_VARINT_BYTES]
                size = self._parse_header(header, 0, len(header))
                if size < 0:
                    if size == -1:  # still incomplete (a header is bounded: see the spec)
                        self._hold(data)
                    return out
                self._pending.clear()
                self._pending_size = 0
                self._frame_header = header[:size]
                pos = size - held
            missing = self._body_length - self._pending_size
            if end - pos < missing:
                self._hold(data if pos == 0 else memoryview(data)[pos:])
                return out
            self._pending.append(memoryview(data)[pos : pos + missing])
            body = b"".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
            self._body_length = -1
            out.append(self._payload(self._frame_header, body))
            pos += missing
        while pos < end:
            size = self._parse_header(data, pos, end)
            if size < 0:
                if size == -1:
                    self._hold(data[pos:])
                return out
            start = pos + size
            stop = start + self._body_length
            if stop > end:
                self._frame_header = data[pos:start]
                if start < end:
                    self._hold(
                        data[start:]
                        if end - start < _COPY_TAIL_BELOW_BYTES
                        else memoryview(data)[start:]
                    )
                return out
            strip = self.spec.strip
            if strip is not None:
                append_from = pos + strip
                out.append(data[append_from:stop])
            elif self.spec.length_offset:
                out.append(data[pos : pos + self.spec.length_offset] + data[start:stop])
            else:
                out.append(data[start:stop])
            self._body_length = -1
            pos = stop
        return out

    def _payload(self, header: bytes, body: bytes) -> bytes:
        strip = self.spec.strip
        if strip is None:
            offset = self.spec.length_offset
            return header[:offset] + body if offset else body
        if strip <= len(header):
            return header[strip:] + body if strip < len(header) else body
        return body[strip - len(header) :]

    def _parse_header(self, buf: bytes, pos: int, end: int) -> int:
        """The size of the header at ``buf[pos:]``, with the body state entered.

        Returns -1 if the header is incomplete, -2 if it is bad (the decoder failed).
        """
        spec = self.spec
        at = pos + spec.length_offset
        if spec.length_size == "varint":
            value = shift = 0
            i = at
            while True:
                if i >= end:
                    return -1
                byte = buf[i]
                value |= (byte & 0x7F) << shift
                i += 1
                if not byte & 0x80:
                    break
                shift += 7
                if i - at >= _MAX_VARINT_BYTES or value + self._adjust > self._limit:
                    # Too long a varint, or already over the maximum (more bytes only add
                    # higher bits): fail now rather than wait for the rest of it.
                    self._fail(
                        FrameTooLarge(
                            f"varint length of {i - at}+ bytes, at least {value} > max "
                            f"{self._limit}"
                        )
                    )
                    return -2
            size = i - pos
        else:
            size = self._header_size
            if end - pos < size:
                return -1
            value = int.from_bytes(buf[at : pos + size], spec.byte_order)
        if not self._start_body(value):
            return -2
        strip = spec.strip
        if strip is not None and strip > size + self._body_length:
            self._fail(
                RemoteProtocolError(
                    f"a frame of {size + self._body_length} bytes is shorter than the "
                    f"{strip} bytes to strip"
                )
            )
            return -2
        return size
