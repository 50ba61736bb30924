"""The demo server's structured sample messages: JSON, MessagePack, CBOR, Protobuf, a layout.

One sample value (a login event with a sequence number) in each format, so the decoders
have something real to show without any other server. The protobuf schema is built here
with the ``protobuf`` library (no ``protoc`` needed); write it out for ``--proto-descriptor``
with ``python -m tools.demo_messages --descriptor-out demo.desc``. The binary layout is
``tools/demo_layout.py``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import cbor2
import msgpack
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from tools.demo_layout import MESSAGE as LAYOUT_MESSAGE

__all__ = [
    "DEMO_MESSAGE_NAME",
    "SAMPLE_FORMATS",
    "descriptor_set_bytes",
    "event_class",
    "sample_payload",
    "sample_value",
]

#: The formats ``!samples`` answers in, in this order.
SAMPLE_FORMATS = ("json", "msgpack", "cbor", "protobuf", "layout")
#: The protobuf message type of the samples (``--proto-message``).
DEMO_MESSAGE_NAME = "framewire.demo.Event"
_USERS = ("ana", "ben", "chloé", "dev")
_OPS = ("login", "move", "logout")

_FDP = descriptor_pb2.FieldDescriptorProto


def _field(
    name: str, number: int, kind: Any, *, repeated: bool = False, type_name: str = ""
) -> Any:
    label = _FDP.LABEL_REPEATED if repeated else _FDP.LABEL_OPTIONAL
    field = _FDP(name=name, number=number, type=kind, label=label)
    if type_name:
        field.type_name = type_name
    return field


def demo_file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """``framewire_demo.proto``: enum Op, message Point, message Event (proto3)."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="framewire_demo.proto", package="framewire.demo", syntax="proto3"
    )
    op = proto.enum_type.add(name="Op")
    for number, name in enumerate(["OP_UNSPECIFIED", "LOGIN", "MOVE", "LOGOUT"]):
        op.value.add(name=name, number=number)
    point = proto.message_type.add(name="Point")
    point.field.extend([_field("x", 1, _FDP.TYPE_SINT32), _field("y", 2, _FDP.TYPE_DOUBLE)])
    event = proto.message_type.add(name="Event")
    event.field.extend(
        [
            _field("op", 1, _FDP.TYPE_ENUM, type_name=".framewire.demo.Op"),
            _field("user", 2, _FDP.TYPE_STRING),
            _field("seq", 3, _FDP.TYPE_UINT64),
            _field("tags", 4, _FDP.TYPE_STRING, repeated=True),
            _field("at", 5, _FDP.TYPE_MESSAGE, type_name=".framewire.demo.Point"),
            _field("codes", 6, _FDP.TYPE_INT32, repeated=True),
            _field("blob", 7, _FDP.TYPE_BYTES),
        ]
    )
    return proto


def descriptor_set_bytes() -> bytes:
    """The demo schema as a FileDescriptorSet (what ``protoc -o`` writes)."""
    files = descriptor_pb2.FileDescriptorSet()
    files.file.append(demo_file_descriptor())
    return files.SerializeToString()


@cache
def event_class() -> Any:
    """The generated message class of ``framewire.demo.Event``."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(demo_file_descriptor())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(DEMO_MESSAGE_NAME))


def sample_value(seq: int) -> dict[str, Any]:
    """The sample message number ``seq`` as a plain value (bytes under ``blob``)."""
    return {
        "op": _OPS[seq % len(_OPS)],
        "user": _USERS[seq % len(_USERS)],
        "seq": seq,
        "tags": ["demo", "framewire"],
        "at": {"x": seq % 100 - 50, "y": seq / 4},
        "codes": [200, 404 + seq % 3],
        "blob": bytes([seq & 0xFF, 0x00, 0xFE, 0xFF]),
    }


def sample_payload(fmt: str, seq: int) -> bytes:
    """Sample ``seq`` encoded as ``fmt`` (one of ``SAMPLE_FORMATS``).

    Raises:
        ValueError: an unknown format.
    """
    value = sample_value(seq)
    if fmt == "json":
        value["blob"] = value["blob"].hex()
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    if fmt == "msgpack":
        return bytes(msgpack.packb(value, use_bin_type=True))
    if fmt == "cbor":
        return cbor2.dumps(value)
    if fmt == "protobuf":
        message = event_class()(
            op=_OPS.index(value["op"]) + 1,
            user=value["user"],
            seq=seq,
            tags=value["tags"],
            codes=value["codes"],
            blob=value["blob"],
        )
        message.at.x, message.at.y = value["at"]["x"], value["at"]["y"]
        return bytes(message.SerializeToString())
    if fmt == "layout":
        return bytes(_layout_sample(seq, value))
    raise ValueError(f"unknown sample format {fmt!r}; one of {', '.join(SAMPLE_FORMATS)}")


def _layout_sample(seq: int, value: dict[str, Any]) -> bytes:
    kind = ("login", "position", "bye")[seq % 3]
    body: dict[str, Any]
    if kind == "login":
        body = {"user": value["user"], "flags": seq & 0x0F}
    elif kind == "position":
        waypoints = [{"x": value["at"]["x"] + i, "y": -i} for i in range(2)]
        body = {"x": value["at"]["x"], "y": seq % 50, "speed": 1.5, "waypoints": waypoints}
    else:
        body = {"reason": "done"}
    return bytes(LAYOUT_MESSAGE.build({"type": kind, "seq": seq, "body": body}))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.demo_messages",
        description="Write the demo server's protobuf schema as a FileDescriptorSet.",
    )
    parser.add_argument("--descriptor-out", type=Path, required=True, metavar="FILE")
    args = parser.parse_args(argv)
    args.descriptor_out.write_bytes(descriptor_set_bytes())
    print(
        f"wrote {args.descriptor_out}: use --proto-descriptor {args.descriptor_out} "
        f"--proto-message {DEMO_MESSAGE_NAME}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
