"""Protobuf wire format: the walk that finds every field's bytes, and the schema-less tree.

Strategy: the ``protobuf`` library parses and validates messages (see
``protobuf_schema.py``, and ``looks_like_protobuf``), but it keeps no offsets: its
``UnknownFieldSet`` gives numbers, wire types and values, not where they were. The
walk below is the small part of the wire format needed for spans (a tag varint, then a
varint, 8 bytes, a length and that many bytes, or 4 bytes; groups nest), as ``protoc
--decode_raw`` reads it. Without a schema a length-delimited field is shown as a string
if it is printable UTF-8, else as a nested message if it parses as one, else as bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import empty_pb2, message

from decoders.text_tree import is_plausible_text
from decoders.tree import (
    Budget,
    Enough,
    Kind,
    Limits,
    Node,
    OutOfTime,
    Span,
    error_tree,
    left_out,
    more_node,
    stop_here,
    stopped_node,
)

__all__ = [
    "WireError",
    "WireField",
    "decode_protobuf_raw",
    "decoded_up_to",
    "looks_like_protobuf",
    "raw_field_node",
    "walk",
]

VARINT, I64, LEN, SGROUP, EGROUP, I32 = range(6)
WIRE_TYPE_NAMES = {VARINT: "varint", I64: "fixed64", LEN: "bytes", SGROUP: "group", I32: "fixed32"}
MAX_FIELD_NUMBER = (1 << 29) - 1
_MAX_VARINT_BYTES = 10


class WireError(Exception):
    """The bytes are not protobuf wire format; ``offset`` is where that became clear."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(slots=True)
class WireField:
    """One field as it is on the wire.

    ``body`` is where the value starts (after the tag, and after the length for LEN);
    ``value`` is the number of a VARINT, I64 or I32 field; ``fields`` a group's fields.
    """

    number: int
    wire_type: int
    start: int
    tag_end: int
    body: int
    end: int
    value: int | None = None
    fields: list[WireField] | None = None


def read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    for i in range(pos, min(end, pos + _MAX_VARINT_BYTES)):
        byte = buf[i]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFF_FFFF_FFFF_FFFF, i + 1
        shift += 7
    if end - pos >= _MAX_VARINT_BYTES:
        raise WireError("varint longer than 10 bytes", pos)
    raise WireError("truncated varint", pos)


def walk(
    buf: bytes, start: int, end: int, budget: Budget, depth: int = 0, group: int | None = None
) -> tuple[list[WireField], int]:
    """The fields in ``buf[start:end]`` (up to the end-group tag of ``group`` if given).

    Returns:
        The fields and where the walk stopped (``end``, or just after the end-group tag).

    Raises:
        WireError: not wire format. OutOfTime: the budget ran out.
    """
    fields: list[WireField] = []
    pos = start
    # A partial decode reads one field more than it shows (the MORE node says so).
    most = None if budget.limits.complete else budget.limits.max_children + 1
    while pos < end and len(fields) != most:
        budget.step()
        tag, body = read_varint(buf, pos, end)
        number, wire_type = tag >> 3, tag & 7
        if number == 0 or number > MAX_FIELD_NUMBER:
            raise WireError(f"invalid field number {number}", pos)
        if wire_type == VARINT:
            value, after = read_varint(buf, body, end)
            fields.append(WireField(number, wire_type, pos, body, body, after, value))
        elif wire_type in (I64, I32):
            size = 8 if wire_type == I64 else 4
            if body + size > end:
                raise WireError(f"truncated {WIRE_TYPE_NAMES[wire_type]}", pos)
            value = int.from_bytes(buf[body : body + size], "little")
            fields.append(WireField(number, wire_type, pos, body, body, body + size, value))
        elif wire_type == LEN:
            length, data = read_varint(buf, body, end)
            if length > end - data:
                raise WireError(f"length {length:,} runs past the end", pos)
            fields.append(WireField(number, wire_type, pos, body, data, data + length))
        elif wire_type == SGROUP:
            if depth >= budget.limits.max_depth:
                raise WireError("groups nested too deeply", pos)
            inner, after = walk(buf, body, end, budget, depth + 1, number)
            fields.append(WireField(number, wire_type, pos, body, body, after, None, inner))
        elif wire_type == EGROUP:
            if group != number:
                raise WireError(f"unexpected end of group {number}", pos)
            return fields, body
        else:
            raise WireError(f"invalid wire type {wire_type}", pos)
        pos = fields[-1].end
    if group is not None and len(fields) != most:
        raise WireError(f"group {group} has no end", start)
    return fields, pos


def looks_like_protobuf(payload: bytes) -> bool:
    """Whether the protobuf library parses the payload as a message (unknown fields)."""
    try:
        empty_pb2.Empty.FromString(payload)
    except message.DecodeError:
        return False
    return True


def decode_protobuf_raw(payload: bytes, limits: Limits) -> Node:
    """The tree of a message without its schema: field numbers, wire types, values."""
    budget = Budget(limits)
    root = Node(Kind.MESSAGE, "message", "", None, Span(0, len(payload)))
    try:
        fields, _ = walk(payload, 0, len(payload), budget)
    except WireError as exc:
        return error_tree(f"protobuf: {exc}", payload, exc.offset)
    except OutOfTime:
        root.children.append(stopped_node(budget, 0, len(payload)))
        return root
    try:
        add_raw_fields(root, payload, fields, budget, 0)
    except OutOfTime as exc:
        if not isinstance(exc, Enough):
            root.children.append(stopped_node(budget, decoded_up_to(root), len(payload)))
    return root


def decoded_up_to(node: Node) -> int:
    """Where the last complete top-level field of ``node`` ends (0 if none)."""
    ends = [child.span.end for child in node.children if child.span is not None]
    return max(ends, default=0)


def add_raw_fields(
    parent: Node, buf: bytes, fields: list[WireField], budget: Budget, depth: int
) -> None:
    limits = budget.limits
    for index, wire_field in enumerate(fields):
        if index == limits.max_children:
            stop_here(parent, limits)
            rest = Span(wire_field.start, fields[-1].end - wire_field.start)
            parent.children.append(more_node(left_out(len(fields) - index, index, limits), rest))
            return
        budget.step()
        parent.children.append(
            raw_field_node(buf, wire_field, budget, depth, str(wire_field.number))
        )


def raw_field_node(buf: bytes, field: WireField, budget: Budget, depth: int, name: str) -> Node:
    """The node of one field read without a schema."""
    span = Span(field.start, field.end - field.start)
    key_span = Span(field.start, field.tag_end - field.start)
    node = Node(Kind.SCALAR, WIRE_TYPE_NAMES[field.wire_type], name, field.value, span)
    node.key, node.key_span = field.number, key_span
    if field.wire_type == SGROUP:
        node.kind = Kind.MESSAGE
        if depth < budget.limits.max_depth:
            add_raw_fields(node, buf, field.fields or [], budget, depth + 1)
        return node
    if field.wire_type != LEN:
        return node
    data = buf[field.body : field.end]
    if data and is_plausible_text(data):
        node.type, node.value = "string", data.decode("utf-8")
        return node
    if data and depth < budget.limits.max_depth:
        try:
            inner, _ = walk(buf, field.body, field.end, budget, depth + 1)
        except WireError:
            pass
        else:
            node.kind, node.type = Kind.MESSAGE, "message"
            add_raw_fields(node, buf, inner, budget, depth + 1)
            return node
    node.value = data
    return node
