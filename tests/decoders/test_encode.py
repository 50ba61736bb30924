"""JSON text sent as JSON, MessagePack or CBOR (Compose), bytes written as {"$hex": ...}."""

from __future__ import annotations

import cbor2
import msgpack
import pytest

from decoders import EncodeError, decode, encode_json_text, to_plain

TEXT = '{"op": "login", "seq": 7, "blob": {"$hex": "00ff"}, "list": [1.5, null]}'
VALUE = {"op": "login", "seq": 7, "blob": b"\x00\xff", "list": [1.5, None]}


def test_json_text_is_sent_as_written_and_encoded_as_msgpack_or_cbor():
    assert encode_json_text(TEXT + "\n", "json") == TEXT.encode()
    assert msgpack.unpackb(encode_json_text(TEXT, "msgpack")) == VALUE
    assert cbor2.loads(encode_json_text(TEXT, "cbor")) == VALUE


def test_what_is_encoded_decodes_back_to_the_same_plain_value():
    for encoding in ("msgpack", "cbor"):
        decoded = decode(encode_json_text(TEXT, encoding))
        assert decoded.decoder == encoding
        assert to_plain(decoded.root) == {
            "op": "login",
            "seq": 7,
            "blob": "00ff",
            "list": [1.5, None],
        }


@pytest.mark.parametrize(
    ("text", "encoding", "message"),
    [
        ('{"a": }', "msgpack", "not JSON: Expecting value at line 1 column 7"),
        ('{"$hex": "zz"}', "cbor", "is not hex"),
        ("1", "yaml", "unknown encoding 'yaml'"),
        (str(2**70), "msgpack", "cannot encode as msgpack"),
    ],
)
def test_encoding_errors_are_clear(text, encoding, message):
    with pytest.raises(EncodeError) as info:
        encode_json_text(text, encoding)
    assert message in str(info.value)
