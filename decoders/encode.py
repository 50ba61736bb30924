"""JSON text → payload bytes as JSON, MessagePack or CBOR (Compose, and scripts' saved messages).

JSON has no byte strings, so an object that is exactly ``{"$hex": "0a0b"}`` stands for
the bytes ``0a 0b``: MessagePack ``bin``, a CBOR byte string. (Decoded trees show bytes as
hex strings, so a value copied from the field tree can be wrapped this way to send it
back as bytes.) In JSON encoding the text is sent as written, once it parses.
"""

from __future__ import annotations

import json
from typing import Any

import cbor2
import msgpack

from decoders.errors import DecoderConfigError

__all__ = ["ENCODINGS", "EncodeError", "encode_json_text", "encode_value"]

#: The encodings Compose offers for JSON it sends.
ENCODINGS = ("json", "msgpack", "cbor")
_HEX_KEY = "$hex"


class EncodeError(DecoderConfigError):
    """The JSON text does not parse, or holds what the encoding cannot carry; says where."""


def encode_json_text(text: str, encoding: str) -> bytes:
    """``text`` (JSON) as the bytes of ``encoding`` (one of ``ENCODINGS``).

    Raises:
        EncodeError: not JSON (with line and column), a bad ``$hex``, or an unknown encoding.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EncodeError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if encoding == "json":
        return text.strip().encode("utf-8")
    return encode_value(value, encoding)


def encode_value(value: Any, encoding: str) -> bytes:
    """A JSON-like value (``{"$hex": ...}`` for bytes) as the bytes of ``encoding``.

    Raises:
        EncodeError: a bad ``$hex``, a value the encoding cannot carry, an unknown encoding.
    """
    value = _with_bytes(value)
    try:
        if encoding == "json":
            return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if encoding == "msgpack":
            return bytes(msgpack.packb(value, use_bin_type=True))
        if encoding == "cbor":
            return cbor2.dumps(value)
    except (TypeError, ValueError, OverflowError, cbor2.CBORError) as exc:
        raise EncodeError(f"cannot encode as {encoding}: {exc}") from exc
    raise EncodeError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")


def _with_bytes(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and _HEX_KEY in value:
            hex_text = value[_HEX_KEY]
            try:
                return bytes.fromhex(hex_text)
            except (TypeError, ValueError) as exc:
                raise EncodeError(f'{{"$hex": {json.dumps(hex_text)}}} is not hex') from exc
        return {k: _with_bytes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_bytes(v) for v in value]
    return value
