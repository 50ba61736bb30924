"""Construct layouts from FILE.py:NAME: type-byte dispatch, spans, sub-streams, errors."""

from __future__ import annotations

import textwrap

import pytest

from decoders import DecoderConfigError, Kind, decode, decoder_for, node_at, to_plain

LAYOUT = textwrap.dedent(
    """
    from construct import Byte, Bytes, Int16ub, Int32ul, PascalString, Prefixed, Struct, Switch
    from construct import BitStruct, BitsInteger, Flag, Array, this

    Login = Struct("user" / PascalString(Byte, "utf8"), "token" / Bytes(4))
    Ping = Struct("stamp" / Int32ul)
    Batch = Struct("items" / Prefixed(Byte, Array(2, Int16ub)))
    Flags = BitStruct("urgent" / Flag, "level" / BitsInteger(7))
    MESSAGE = Struct(
        "type" / Byte,
        "id" / Int16ub,
        "body" / Switch(this.type, {1: Login, 2: Ping, 3: Batch, 4: Flags}),
    )
    NOT_A_LAYOUT = 42
    """
)


@pytest.fixture
def layout(tmp_path):
    path = tmp_path / "proto_layout.py"
    path.write_text(LAYOUT)
    return decoder_for(layout=f"{path}:MESSAGE")


def spans(root):
    return {n.name: (n.span.offset, n.span.length) if n.span else None for n in root.walk()}


def test_the_first_byte_selects_the_message_type_and_every_field_has_its_bytes(layout):
    login = b"\x01\x00\x07\x03ana" + b"TOKN"
    decoded = decode(login, layout)
    assert decoded.decoder == "layout"
    assert to_plain(decoded.root) == {
        "type": 1,
        "id": 7,
        "body": {"user": "ana", "token": "544f4b4e"},
    }
    assert spans(decoded.root) == {
        "": (0, 11),
        "type": (0, 1),
        "id": (1, 2),
        "body": (3, 8),
        "user": (3, 4),
        "token": (7, 4),
    }
    assert decoded.root.children[1].type == "uint16 be"
    ping = decode(b"\x02\x00\x08\x01\x00\x00\x00", layout).root
    assert to_plain(ping) == {"type": 2, "id": 8, "body": {"stamp": 1}}
    assert node_at(ping, 4).name == "stamp"


def test_fields_inside_a_prefixed_sub_stream_map_back_to_payload_offsets(layout):
    root = decode(b"\x03\x00\x01\x04\x00\x0a\x00\x0b", layout).root
    items = root.children[2].children[0]
    assert [(c.name, c.value, c.span.offset) for c in items.children] == [
        ("[0]", 10, 4),
        ("[1]", 11, 6),
    ]


def test_bit_fields_have_values_but_no_byte_spans(layout):
    root = decode(b"\x04\x00\x01\x85", layout).root
    body = root.children[2]
    assert to_plain(body) == {"urgent": True, "level": 5}
    assert all(c.span is None for c in body.children)


def test_a_payload_the_layout_rejects_is_an_error_where_it_stopped(layout):
    decoded = decode(b"\x01\x00\x07\x09ana", layout)  # the string says 9 bytes, 3 follow
    assert not decoded.ok
    assert decoded.root.span.offset == 3
    assert decoded.root.children[0].value == b"\x01\x00\x07\x09ana"


def test_bytes_after_the_layout_are_flagged(layout):
    root = decode(b"\x02\x00\x08\x01\x00\x00\x00!!", layout).root
    leftover = root.children[-1]
    assert leftover.kind is Kind.ERROR and leftover.value == "2 bytes after the layout"
    assert (leftover.span.offset, leftover.span.length) == (7, 2)


def test_layout_set_up_errors_say_what_is_wrong(tmp_path):
    path = tmp_path / "layouts.py"
    path.write_text(LAYOUT)
    with pytest.raises(
        DecoderConfigError,
        match="no construct named NOT_A_LAYOUT; its constructs: Batch, Flags, Login, MESSAGE, Ping",
    ):
        decoder_for(layout=f"{path}:NOT_A_LAYOUT")
    broken = tmp_path / "broken.py"
    broken.write_text("from construct import Byte\nMESSAGE = Byte +\n")
    with pytest.raises(DecoderConfigError, match="SyntaxError"):
        decoder_for(layout=f"{broken}:MESSAGE")


def test_the_demo_layout_decodes_the_demo_servers_binary_samples():
    from tools.demo_messages import sample_payload

    layout = decoder_for(layout="tools/demo_layout.py:MESSAGE")
    plain = to_plain(decode(sample_payload("layout", 1), layout).root)
    assert plain["type"] == "position" and plain["seq"] == 1
    assert plain["body"]["waypoints"] == [{"x": -49, "y": 0}, {"x": -48, "y": -1}]
