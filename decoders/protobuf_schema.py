"""Protobuf with a schema: a FileDescriptorSet (``protoc -o``, ``buf build``) names the fields.

Strategy: the wire walk (``protobuf_wire.walk``) finds each field's bytes; the
``protobuf`` library gives each field its meaning. A scalar field's bytes are merged into
an empty message of the right type and the value read back from it, so zigzag, doubles,
enums, packed repeated fields and UTF-8 checks are the library's, not ours. A message
field is walked again with its own descriptor, so nested fields have spans too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message, message_factory

from decoders.errors import DecoderConfigError
from decoders.protobuf_wire import (
    I32,
    I64,
    LEN,
    SGROUP,
    VARINT,
    WireError,
    WireField,
    decoded_up_to,
    raw_field_node,
    walk,
)
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

__all__ = ["ProtobufSchemaDecoder", "load_message_type"]

FD = descriptor.FieldDescriptor
_TYPE_NAMES = {
    FD.TYPE_DOUBLE: "double",
    FD.TYPE_FLOAT: "float",
    FD.TYPE_INT64: "int64",
    FD.TYPE_UINT64: "uint64",
    FD.TYPE_INT32: "int32",
    FD.TYPE_FIXED64: "fixed64",
    FD.TYPE_FIXED32: "fixed32",
    FD.TYPE_BOOL: "bool",
    FD.TYPE_STRING: "string",
    FD.TYPE_BYTES: "bytes",
    FD.TYPE_UINT32: "uint32",
    FD.TYPE_SFIXED32: "sfixed32",
    FD.TYPE_SFIXED64: "sfixed64",
    FD.TYPE_SINT32: "sint32",
    FD.TYPE_SINT64: "sint64",
}
_VARINT_TYPES = (FD.TYPE_INT64, FD.TYPE_UINT64, FD.TYPE_INT32, FD.TYPE_BOOL, FD.TYPE_UINT32)
_WIRE_TYPES = {
    **dict.fromkeys([*_VARINT_TYPES, FD.TYPE_SINT32, FD.TYPE_SINT64, FD.TYPE_ENUM], VARINT),
    **dict.fromkeys([FD.TYPE_DOUBLE, FD.TYPE_FIXED64, FD.TYPE_SFIXED64], I64),
    **dict.fromkeys([FD.TYPE_FLOAT, FD.TYPE_FIXED32, FD.TYPE_SFIXED32], I32),
    **dict.fromkeys([FD.TYPE_STRING, FD.TYPE_BYTES, FD.TYPE_MESSAGE], LEN),
    FD.TYPE_GROUP: SGROUP,
}
_MESSAGE_TYPES = (FD.TYPE_MESSAGE, FD.TYPE_GROUP)


def load_message_type(path: str | Path, name: str) -> descriptor.Descriptor:
    """The descriptor of message ``name`` from the FileDescriptorSet file at ``path``.

    Raises:
        DecoderConfigError: the file is unreadable, not a FileDescriptorSet, misses an
            import, or has no message of that name (the message lists those it has).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DecoderConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        files = descriptor_pb2.FileDescriptorSet.FromString(data)
    except message.DecodeError as exc:
        raise DecoderConfigError(
            f"{path} is not a FileDescriptorSet "
            "(make one with `protoc -o FILE` or `buf build -o FILE`)"
        ) from exc
    pool = descriptor_pool.DescriptorPool()
    names: list[str] = []
    try:
        for file in files.file:
            pool.Add(file)
            prefix = f"{file.package}." if file.package else ""
            names.extend(_message_names(prefix, file.message_type))
        return pool.FindMessageTypeByName(name.lstrip("."))
    except KeyError as exc:
        if name.lstrip(".") in names:
            raise DecoderConfigError(
                f"{path}: {name} needs a file the set does not hold ({exc}); "
                "build it with `protoc --include_imports -o FILE`"
            ) from exc
        known = ", ".join(names[:20]) or "none"
        raise DecoderConfigError(f"{path} has no message {name!r}; it has: {known}") from exc
    except (TypeError, ValueError) as exc:
        raise DecoderConfigError(f"{path}: {exc}") from exc


def _message_names(prefix: str, messages: Any) -> list[str]:
    names: list[str] = []
    for proto in messages:
        names.append(prefix + proto.name)
        names.extend(_message_names(f"{prefix}{proto.name}.", proto.nested_type))
    return names


class ProtobufSchemaDecoder:
    """Decodes payloads as one message type of a FileDescriptorSet."""

    name = "protobuf"

    def __init__(self, message_type: descriptor.Descriptor) -> None:
        self.message_type = message_type

    @classmethod
    def from_file(cls, path: str | Path, message_name: str) -> ProtobufSchemaDecoder:
        """Raises: DecoderConfigError (see ``load_message_type``)."""
        return cls(load_message_type(path, message_name))

    def decode(self, payload: bytes, limits: Limits) -> Node:
        budget = Budget(limits)
        root = Node(Kind.MESSAGE, self.message_type.name, "", None, Span(0, len(payload)))
        try:
            fields, _ = walk(payload, 0, len(payload), budget)
            _add_fields(root, payload, fields, self.message_type, budget, 0)
        except WireError as exc:
            return error_tree(f"protobuf: {exc}", payload, exc.offset)
        except _FieldError as exc:
            return error_tree(f"protobuf: {exc}", payload, exc.offset)
        except OutOfTime as exc:
            if not isinstance(exc, Enough):
                root.children.append(stopped_node(budget, decoded_up_to(root), len(payload)))
        return root


class _FieldError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def _add_fields(
    parent: Node,
    buf: bytes,
    fields: list[WireField],
    message_type: descriptor.Descriptor,
    budget: Budget,
    depth: int,
) -> None:
    limits = budget.limits
    message_class = message_factory.GetMessageClass(message_type)
    for index, wire_field in enumerate(fields):
        if index == limits.max_children:
            stop_here(parent, limits)
            rest = Span(wire_field.start, fields[-1].end - wire_field.start)
            parent.children.append(more_node(left_out(len(fields) - index, index, limits), rest))
            return
        budget.step()
        field = message_type.fields_by_number.get(wire_field.number)
        if field is None:
            name = f"{wire_field.number} (unknown field)"
            parent.children.append(raw_field_node(buf, wire_field, budget, depth, name))
        elif not _wire_type_fits(field, wire_field.wire_type):
            name = f"{field.name} ({wire_field.number}, unexpected wire type)"
            parent.children.append(raw_field_node(buf, wire_field, budget, depth, name))
        elif field.type in _MESSAGE_TYPES:
            parent.children.append(_message_field(buf, wire_field, field, budget, depth))
        else:
            parent.children.append(_scalar_field(buf, wire_field, field, message_class))


def _wire_type_fits(field: descriptor.FieldDescriptor, wire_type: int) -> bool:
    expected = _WIRE_TYPES.get(field.type)
    # a repeated number may come packed (one LEN field); the library reads either form
    return wire_type == expected or (field.is_repeated and wire_type == LEN and expected != SGROUP)


def _spans(wire_field: WireField) -> tuple[Span, Span]:
    return (
        Span(wire_field.start, wire_field.end - wire_field.start),
        Span(wire_field.start, wire_field.tag_end - wire_field.start),
    )


def _message_field(
    buf: bytes, wire_field: WireField, field: descriptor.FieldDescriptor, budget: Budget, depth: int
) -> Node:
    span, key_span = _spans(wire_field)
    message_type = field.message_type
    assert message_type is not None  # a message or group field has one
    prefix = "repeated " if field.is_repeated else ""
    node = Node(Kind.MESSAGE, prefix + message_type.name, field.name, None, span)
    node.key, node.key_span = field.name, key_span
    if depth >= budget.limits.max_depth:
        node.children.append(more_node(left_out(None, 0, budget.limits), span))
        return node
    if wire_field.wire_type == SGROUP:
        inner = wire_field.fields or []
    else:
        inner, _ = walk(buf, wire_field.body, wire_field.end, budget, depth + 1)
    _add_fields(node, buf, inner, message_type, budget, depth + 1)
    return node


def _scalar_field(
    buf: bytes, wire_field: WireField, field: descriptor.FieldDescriptor, message_class: Any
) -> Node:
    span, key_span = _spans(wire_field)
    one = message_class()
    try:
        one.MergeFromString(buf[wire_field.start : wire_field.end])
    except message.DecodeError as exc:
        raise _FieldError(f"field {field.name} ({field.number}): {exc}", wire_field.start) from exc
    value = getattr(one, field.name)
    type_name = _type_name(field)
    if field.is_repeated:
        type_name = f"repeated {type_name}"
    if not field.is_repeated:
        node = Node(Kind.SCALAR, type_name, field.name, _enum_name(field, value), span)
    elif wire_field.wire_type == LEN and field.type not in (FD.TYPE_STRING, FD.TYPE_BYTES):
        # packed: one field on the wire, several values; their own bytes are not told apart
        node = Node(Kind.ARRAY, f"packed {type_name}", field.name, None, span)
        node.children = [
            Node(Kind.SCALAR, _type_name(field), f"[{i}]", _enum_name(field, v), key=i)
            for i, v in enumerate(value)
        ]
    else:
        node = Node(Kind.SCALAR, type_name, field.name, _enum_name(field, value[0]), span)
    node.key, node.key_span = field.name, key_span
    return node


def _type_name(field: descriptor.FieldDescriptor) -> str:
    if field.enum_type is not None:
        return f"enum {field.enum_type.name}"
    return _TYPE_NAMES[field.type]


def _enum_name(field: descriptor.FieldDescriptor, value: object) -> object:
    if field.enum_type is None or not isinstance(value, int):
        return value
    known = field.enum_type.values_by_number.get(value)
    return known.name if known is not None else value
