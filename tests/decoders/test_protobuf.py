"""Protobuf messages built with the protobuf library: the raw walk finds the fields, the
descriptor names them, and every field's span holds exactly that field."""

from __future__ import annotations

import pytest

from decoders import DecoderConfigError, Kind, decode, decoder_for, summary, to_plain
from tools.demo_messages import DEMO_MESSAGE_NAME, descriptor_set_bytes, event_class


@pytest.fixture
def schema(tmp_path):
    path = tmp_path / "demo.desc"
    path.write_bytes(descriptor_set_bytes())
    return decoder_for("protobuf", proto_descriptor=path, proto_message=DEMO_MESSAGE_NAME)


def build_event():
    event = event_class()(
        op=2, user="chloé", seq=2**40, tags=["a", "b"], codes=[-1, 300], blob=b"\x00\xff"
    )
    event.at.x, event.at.y = -7, 2.5
    return event, event.SerializeToString()


def test_raw_decode_finds_field_numbers_wire_types_and_nested_messages():
    _, payload = build_event()
    decoded = decode(payload, "protobuf")
    fields = [(c.name, c.type) for c in decoded.root.children]
    assert fields == [
        ("1", "varint"), ("2", "string"), ("3", "varint"), ("4", "string"), ("4", "string"),
        ("5", "message"), ("6", "bytes"), ("7", "bytes"),
    ]  # fmt: skip
    plain = to_plain(decoded.root)
    assert plain["1"] == 2 and plain["2"] == "chloé" and plain["3"] == 2**40
    assert plain["4"] == ["a", "b"]  # a number that repeats is a list
    assert plain["5"] == {"1": 13, "2": 4612811918334230528}  # zigzag -7; 2.5 as fixed64 bits
    assert plain["7"] == "00ff"


def test_descriptor_decode_names_fields_and_gives_typed_values(schema):
    _, payload = build_event()
    decoded = decode(payload, schema)
    assert decoded.decoder == "protobuf"
    assert to_plain(decoded.root) == {
        "op": "MOVE",
        "user": "chloé",
        "seq": 2**40,
        "tags": ["a", "b"],
        "at": {"x": -7, "y": 2.5},
        "codes": [-1, 300],
        "blob": "00ff",
    }
    for node in decoded.root.children:
        if node.span is None:
            continue
        # each field's bytes, parsed alone, give that field and nothing else
        alone = event_class().FromString(payload[node.span.offset : node.span.end])
        assert [f.name for f, _ in alone.ListFields()] == [node.name]
    types = {c.name: c.type for c in decoded.root.children}
    assert (
        types["op"] == "enum Op"
        and types["at"] == "Point"
        and types["codes"] == "packed repeated int32"
    )


def test_a_single_repeated_value_is_still_a_list_with_a_schema(schema):
    payload = event_class()(tags=["only"]).SerializeToString()
    assert to_plain(decode(payload, schema).root) == {"tags": ["only"]}


def test_the_summary_of_repeated_fields_is_one_list_each(schema):
    # a repeated string field summarised as "tags: [[[[[[…": the list of the field's
    # values was itself taken for a repeated field, and wrapped again
    payload = event_class()(tags=["demo", "framewire"], codes=[200, 404]).SerializeToString()
    assert summary(decode(payload, schema)) == '{tags: ["demo", "framewire"], codes: [200, 404]}'
    # a packed field sent in two runs reads as one list, as to_plain has it
    twice = payload + event_class()(codes=[7]).SerializeToString()
    assert summary(decode(twice, schema)).endswith("codes: [200, 404, 7]}")
    assert to_plain(decode(twice, schema).root)["codes"] == [200, 404, 7]


def test_unknown_fields_and_wrong_wire_types_are_shown_raw_not_dropped(schema):
    # field 99 (not in the schema), then "user" (a string) sent as a varint
    payload = bytes([0x98, 0x06, 0x05, 0x10, 0x07])
    names = [c.name for c in decode(payload, schema).root.children]
    assert names == ["99 (unknown field)", "user (2, unexpected wire type)"]


def test_a_field_the_library_rejects_is_an_error_at_that_field(schema):
    payload = b"\x08\x01" + b"\x12\x02\xff\xfe"  # user: invalid UTF-8 in a proto3 string
    decoded = decode(payload, schema)
    assert not decoded.ok
    assert decoded.root.span.offset == 2 and "user" in decoded.root.value


def test_descriptor_set_up_errors_name_the_choices(tmp_path):
    path = tmp_path / "demo.desc"
    path.write_bytes(descriptor_set_bytes())
    with pytest.raises(
        DecoderConfigError,
        match=r"no message 'Nope'; it has: framewire.demo.Point, framewire.demo.Event",
    ):
        decoder_for("protobuf", proto_descriptor=path, proto_message="Nope")
    bad = tmp_path / "bad.desc"
    bad.write_bytes(b"\xff\xff\xff")
    with pytest.raises(DecoderConfigError, match="is not a FileDescriptorSet"):
        decoder_for("protobuf", proto_descriptor=bad, proto_message=DEMO_MESSAGE_NAME)


def test_raw_decode_nests_groups_and_folds_deep_messages():
    payload = b"\x0b\x08\x01\x0c"  # group 1 { 1: 1 }
    root = decode(payload, "protobuf").root
    assert root.children[0].kind is Kind.MESSAGE and root.children[0].type == "group"
    assert to_plain(root) == {"1": {"1": 1}}
