"""framewire's payload decoders: bytes in, a tree of fields with byte spans out (sans-IO).

General layout:

- ``registry.py``: ``decode(payload, decoder)``, the entry point, which never raises for
  any payload; ``decoder_for(name, ...)`` (``auto json msgpack cbor protobuf text hex``,
  a protobuf schema, a construct layout); ``Decoded``.
- ``tree.py``: ``Node`` (name, type, value, ``Span``, children), ``Kind``, ``Limits``
  (depth, children shown, time per payload).
- ``render.py``: ``summary`` (one line), ``to_plain`` (a JSON value), ``node_at`` (the
  field at a byte offset).
- one module per format: ``json_tree``, ``msgpack_tree``, ``cbor_tree``,
  ``protobuf_wire`` (no schema), ``protobuf_schema`` (a FileDescriptorSet),
  ``layout_tree`` (``FILE.py:NAME`` with construct), ``text_tree`` (text, hex).
- ``expression.py``: field expressions (``seq > 100``) over the plain value.
- ``encode.py``: JSON text → JSON, MessagePack or CBOR bytes.

It imports neither trio nor Qt: the engine's CLI, the GUI and the tools all use it.
"""

from decoders.encode import ENCODINGS, EncodeError, encode_json_text, encode_value
from decoders.errors import DecoderConfigError, ExpressionError
from decoders.expression import Expression, compile_expression, parse_path
from decoders.registry import (
    DECODER_NAMES,
    Decoded,
    Decoder,
    decode,
    decoder_for,
    is_internal_error,
)
from decoders.render import SUMMARY_WIDTH, format_value, node_at, summary, to_plain
from decoders.tree import DEFAULT_LIMITS, SUMMARY_LIMITS, Kind, Limits, Node, Span

__all__ = [
    "DECODER_NAMES",
    "DEFAULT_LIMITS",
    "ENCODINGS",
    "SUMMARY_LIMITS",
    "SUMMARY_WIDTH",
    "Decoded",
    "Decoder",
    "DecoderConfigError",
    "EncodeError",
    "Expression",
    "ExpressionError",
    "Kind",
    "Limits",
    "Node",
    "Span",
    "compile_expression",
    "decode",
    "decoder_for",
    "encode_json_text",
    "encode_value",
    "format_value",
    "is_internal_error",
    "node_at",
    "parse_path",
    "summary",
    "to_plain",
]
