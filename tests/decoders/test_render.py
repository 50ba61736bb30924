"""The one-line summary, the plain JSON value and the field at a byte offset."""

from __future__ import annotations

import json

import cbor2
import msgpack
import pytest

from decoders import Kind, decode, node_at, summary, to_plain


@pytest.mark.parametrize(
    ("payload", "line"),
    [
        (
            msgpack.packb({"op": "login", "user": "ana", "seq": 7}),
            '{op: "login", user: "ana", seq: 7}',
        ),
        (b'{"a b": [1, 2.5, null, true]}', '{"a b": [1, 2.5, null, true]}'),
        (cbor2.dumps({1: b"\x00\xff"}), "{1: <00 ff>}"),
        (b"hello\nworld", "hello\\nworld"),
        (b"\x00\x01", "<00 01>"),
    ],
)
def test_summary_is_one_line_like_the_value(payload, line):
    assert summary(decode(payload)) == line


def test_summary_of_a_payload_that_does_not_decode_says_why_and_where():
    line = summary(decode(b"\x92\xa5ab", "msgpack"))
    assert line == "⚠ msgpack: truncated: the payload ends inside a value (at byte 1)"


def test_summary_is_cut_to_its_width_and_built_only_that_far():
    payload = msgpack.packb({"k": list(range(100_000))})
    line = summary(decode(payload), width=40)
    assert len(line) == 40 and line.endswith("…") and line.startswith("{k: [0, 1, 2")


def test_plain_value_is_json_with_bytes_in_hex_and_limits_marked():
    decoded = decode(msgpack.packb({"b": b"\x01\x02", 5: [float("inf")], "l": list(range(1003))}))
    plain = to_plain(decoded.root)
    assert plain["b"] == "0102" and plain["5"] == ["Infinity"]
    assert plain["l"][-1] == "… 3 more" and len(plain["l"]) == 1001
    json.dumps(plain, allow_nan=False)  # strictly JSON
    error = to_plain(decode(b"\x92\xa5ab", "msgpack").root)
    assert error == {"error": error["error"], "offset": 1, "hex": "92a56162"}


def test_node_at_finds_the_innermost_field_of_a_byte_and_keys_select_their_entry():
    payload = msgpack.packb({"op": "login", "list": [10, 20]})
    root = decode(payload).root
    for node in root.walk():
        if node.kind is Kind.SCALAR:
            for offset in range(node.span.offset, node.span.end):
                assert node_at(root, offset) is node
        if node.key_span is not None:
            assert node_at(root, node.key_span.offset) is node
    assert node_at(root, 0) is root  # the map's own header byte
    assert node_at(root, len(payload)) is None
