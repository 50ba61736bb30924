"""The registry of decoders by name, ``auto``, and ``decode()``: the one entry point.

``decode(payload, decoder)`` never raises: a payload that does not decode is an ``ERROR``
tree, and should a decoder have a bug, its exception becomes an ``ERROR`` tree too
(``internal error in the X decoder``), so one bad frame cannot take down a log view or a
CLI run. Only setting a decoder up raises (``DecoderConfigError``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cbor2
import msgpack

from decoders.cbor_tree import decode_cbor
from decoders.errors import DecoderConfigError
from decoders.json_tree import decode_json
from decoders.layout_tree import load_layout
from decoders.msgpack_tree import decode_msgpack
from decoders.protobuf_schema import ProtobufSchemaDecoder
from decoders.protobuf_wire import decode_protobuf_raw, looks_like_protobuf
from decoders.text_tree import decode_hex, decode_text, is_plausible_text
from decoders.tree import DEFAULT_LIMITS, Kind, Limits, Node, error_tree
from ipc.payload_text import looks_like_text

__all__ = [
    "DECODER_NAMES",
    "AutoDecoder",
    "Decoded",
    "Decoder",
    "decode",
    "decoder_for",
    "is_internal_error",
]

#: The names ``--decode`` and the GUI offer (``layout`` needs a layout file besides).
DECODER_NAMES = ("auto", "json", "msgpack", "cbor", "protobuf", "text", "hex")
_INTERNAL_ERROR = "internal error in the"


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded payload: the tree, and the decoder that made it (for auto, the one chosen)."""

    decoder: str
    root: Node

    @property
    def ok(self) -> bool:
        return self.root.kind is not Kind.ERROR


class Decoder(Protocol):
    """Anything that turns a payload into a ``Decoded``; ``name`` is what users choose."""

    name: str

    def decode(self, payload: bytes, limits: Limits) -> Decoded: ...


class _Simple:
    def __init__(self, name: str, function: Callable[[bytes, Limits], Node]) -> None:
        self.name = name
        self._function = function

    def decode(self, payload: bytes, limits: Limits) -> Decoded:
        return Decoded(self.name, self._function(payload, limits))


class _Configured:
    """A decoder set up from files (a protobuf schema, a layout) under its plain name."""

    def __init__(self, name: str, decoder: ProtobufSchemaDecoder | _LayoutLike) -> None:
        self.name = name
        self._decoder = decoder

    def decode(self, payload: bytes, limits: Limits) -> Decoded:
        return Decoded(self.name, self._decoder.decode(payload, limits))


class _LayoutLike(Protocol):
    def decode(self, payload: bytes, limits: Limits) -> Node: ...


_JSON_STARTS = frozenset(b'{["-0123456789tfnNI')
_JSON_SPACE = b" \t\r\n"
_MSGPACK_CONTAINERS = frozenset([*range(0x80, 0xA0), 0xDC, 0xDD, 0xDE, 0xDF])


class AutoDecoder:
    """JSON → MessagePack → CBOR → Protobuf → text → hex: the first that takes the payload.

    MessagePack and CBOR must consume the whole payload; protobuf must parse (with the
    library) and consume it. A payload that reads as printable UTF-8 text is taken for
    MessagePack or CBOR only if it is a map or an array there, and never for protobuf: a
    short word like ``ab`` is valid CBOR (the string "b") and ``hi`` is a valid protobuf
    message (field 13 = 105), but neither is what its sender meant.
    """

    name = "auto"

    def __init__(self, protobuf: ProtobufSchemaDecoder | None = None) -> None:
        self._protobuf = protobuf

    def decode(self, payload: bytes, limits: Limits) -> Decoded:
        text = is_plausible_text(payload)
        first = payload.lstrip(_JSON_SPACE)[:1]
        if first and first[0] in _JSON_STARTS:
            root = decode_json(payload, limits)
            if root.kind is not Kind.ERROR:
                return Decoded("json", root)
        if payload and (not text or payload[0] in _MSGPACK_CONTAINERS) and _whole_msgpack(payload):
            return Decoded("msgpack", decode_msgpack(payload, limits))
        if payload and (not text or payload[0] >> 5 in (4, 5)) and _whole_cbor(payload):
            return Decoded("cbor", decode_cbor(payload, limits))
        if payload and not text and looks_like_protobuf(payload):
            root = (
                self._protobuf.decode(payload, limits)
                if self._protobuf
                else decode_protobuf_raw(payload, limits)
            )
            if root.kind is not Kind.ERROR:
                return Decoded("protobuf", root)
        if text or looks_like_text(payload):
            # Mostly text with a few other bytes (a reply ending in a NUL, a status line
            # with a binary code) reads as text, those bytes escaped (issue 17).
            return Decoded("text", decode_text(payload, limits))
        return Decoded("hex", decode_hex(payload, limits))


def _whole_msgpack(payload: bytes) -> bool:
    try:
        msgpack.unpackb(payload, strict_map_key=False)
    except (msgpack.UnpackException, ValueError, TypeError):
        return False
    return True


def _whole_cbor(payload: bytes) -> bool:
    stream = io.BytesIO(payload)
    try:
        cbor2.CBORDecoder(stream, read_size=1).decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError):
        return False
    return stream.tell() == len(payload)


_REGISTRY: dict[str, Decoder] = {
    "auto": AutoDecoder(),
    "json": _Simple("json", decode_json),
    "msgpack": _Simple("msgpack", decode_msgpack),
    "cbor": _Simple("cbor", decode_cbor),
    "protobuf": _Simple("protobuf", decode_protobuf_raw),
    "text": _Simple("text", decode_text),
    "hex": _Simple("hex", decode_hex),
}


def decoder_for(
    name: str = "auto",
    *,
    proto_descriptor: str | Path | None = None,
    proto_message: str | None = None,
    layout: str | None = None,
) -> Decoder:
    """The decoder called ``name``, set up with a protobuf schema or a layout if given.

    ``layout`` (``FILE.py:NAME``) makes a layout decoder (``name`` must be ``auto`` or
    ``layout``); ``proto_descriptor`` with ``proto_message`` makes ``protobuf`` (and the
    protobuf step of ``auto``) use that message type.

    Raises:
        DecoderConfigError: unknown name, options that do not go together, unreadable or
            wrong schema or layout files. The message says what to fix.
    """
    if layout is not None:
        if name not in ("auto", "layout") or proto_descriptor or proto_message:
            raise DecoderConfigError(
                "a layout is a decoder of its own: use it without --decode NAME or --proto-*"
            )
        return _Configured("layout", load_layout(layout))
    if name == "layout":
        raise DecoderConfigError("the layout decoder needs a layout: --layout FILE.py:NAME")
    if (proto_descriptor is None) != (proto_message is None):
        raise DecoderConfigError(
            "a protobuf schema needs both the descriptor file and the message name"
        )
    if proto_descriptor is not None and proto_message is not None:
        schema = ProtobufSchemaDecoder.from_file(proto_descriptor, proto_message)
        if name == "auto":
            return AutoDecoder(protobuf=schema)
        if name == "protobuf":
            return _Configured("protobuf", schema)
        raise DecoderConfigError(
            f"a protobuf schema goes with the protobuf or auto decoder, not {name}"
        )
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DecoderConfigError(
            f"unknown decoder {name!r}; choose one of {', '.join(DECODER_NAMES)} (or a --layout)"
        ) from None


def decode(
    payload: bytes, decoder: Decoder | str = "auto", limits: Limits = DEFAULT_LIMITS
) -> Decoded:
    """Decode ``payload``; never raises for any payload (see the module docstring).

    Raises:
        DecoderConfigError: ``decoder`` is a name that is not registered.
    """
    chosen = decoder_for(decoder) if isinstance(decoder, str) else decoder
    try:
        return chosen.decode(payload, limits)
    except Exception as exc:  # a bug in a decoder: show it on this payload, carry on
        message = f"{_INTERNAL_ERROR} {chosen.name} decoder: {type(exc).__name__}: {exc}"
        return Decoded(chosen.name, error_tree(message, payload, 0))


def is_internal_error(decoded: Decoded) -> bool:
    """Whether the tree reports a decoder bug rather than a bad payload (tests use this)."""
    return not decoded.ok and str(decoded.root.value).startswith(_INTERNAL_ERROR)
