"""The recording format: every line stands alone, round-trips losslessly, and bad lines
are refused with the reason; text encodings mark what does not decode."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from ipc.recording import (
    SCHEMA_VERSION,
    EventRecord,
    FrameRecord,
    RecordingError,
    event_line,
    frame_line,
    parse_line,
    read_recording,
)
from ipc.text import ENCODINGS, TextEncodingError, check_encoding, decode_marked, encode_text


def test_a_frame_line_has_every_key_the_schema_promises() -> None:
    line = frame_line(1764012345.1234567, 3, "in", b"hello", peer="127.0.0.1:9000", framing="be32")
    assert json.loads(line) == {
        "v": SCHEMA_VERSION,
        "t": 1764012345.123457,
        "session": 3,
        "dir": "in",
        "len": 5,
        "hex": "68656c6c6f",
        "text": "hello",
        "peer": "127.0.0.1:9000",
        "framing": "be32",
    }


def test_binary_payloads_have_hex_only_and_other_encodings_say_so() -> None:
    binary = json.loads(frame_line(1.0, 1, "out", b"\xde\xad\xbe\xef"))
    assert "text" not in binary and binary["hex"] == "deadbeef"
    ebcdic = json.loads(frame_line(1.0, 1, "in", "HELLO".encode("cp037"), enc="cp037"))
    assert ebcdic["text"] == "HELLO" and ebcdic["enc"] == "cp037"


@given(
    payload=st.binary(max_size=200),
    session=st.integers(1, 2**31),
    direction=st.sampled_from(["in", "out"]),
    enc=st.sampled_from(list(ENCODINGS)),
    t=st.floats(0, 2e9),
)
def test_frame_lines_round_trip_losslessly(
    payload: bytes, session: int, direction: str, enc: str, t: float
) -> None:
    record = FrameRecord(
        t=round(t, 6), session=session, dir=direction, payload=payload, peer="[::1]:9", enc=enc
    )
    assert parse_line(record.to_line()) == record


def test_unknown_keys_are_kept_for_the_parts_that_add_them() -> None:
    line = frame_line(2.0, 1, "in", b"x", extra={"pair": 4, "later": {"a": 1}})
    record = parse_line(line)
    assert isinstance(record, FrameRecord)
    assert record.extra == {"pair": 4, "later": {"a": 1}}
    assert json.loads(record.to_line()) == json.loads(line)


@pytest.mark.parametrize("decoded", [{"op": "login", "seq": [1, 2]}, None, "0a0b", 7])
def test_decoded_values_round_trip_with_their_decoder(decoded: object) -> None:
    line = frame_line(2.0, 1, "in", b"x", decoder="msgpack", decoded=decoded)
    assert json.loads(line)["decoded"] == decoded and json.loads(line)["decoder"] == "msgpack"
    record = parse_line(line)
    assert isinstance(record, FrameRecord) and record.extra == {}
    assert (record.decoder, record.decoded) == ("msgpack", decoded)
    assert record.to_line() == line


def test_event_lines_round_trip() -> None:
    line = event_line(3.5, 2, "close", peer="127.0.0.1:1", detail="peer")
    assert parse_line(line) == EventRecord(
        t=3.5, session=2, event="close", peer="127.0.0.1:1", detail="peer"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{", "not JSON"),
        ("[1]", "must be a JSON object"),
        ('{"v": 2, "t": 1, "session": 1}', "schema version 2"),
        ('{"v": 1, "session": 1, "dir": "in", "len": 0, "hex": ""}', "missing key 't'"),
        ('{"v": 1, "t": 1, "session": "1", "dir": "in", "len": 0, "hex": ""}', "'session' has"),
        ('{"v": 1, "t": 1, "session": 1, "dir": "in", "len": 2, "hex": "zz"}', "not hex"),
        ('{"v": 1, "t": 1, "session": 1, "dir": "in", "len": 3, "hex": "00"}', "'len' is 3"),
        ('{"v": 1, "t": true, "session": 1, "event": "open"}', "'t' has the wrong type"),
        (
            '{"v": 1, "t": 1, "session": 1, "dir": "in", "len": 0, "hex": "", "decoded": 1}',
            "'decoder' and 'decoded' go together",
        ),
    ],
)
def test_bad_lines_are_refused_with_the_reason(line: str, message: str) -> None:
    with pytest.raises(RecordingError, match=message):
        parse_line(line)


def test_a_reader_names_the_bad_line_and_skips_blank_ones() -> None:
    lines = [frame_line(1.0, 1, "in", b"a"), "", "  ", "{"]
    reader = read_recording(lines)
    assert next(reader).payload == b"a"  # type: ignore[union-attr]
    with pytest.raises(RecordingError, match="line 4: not JSON"):
        next(reader)


# ----------------------------------------------------------------- text encodings


@pytest.mark.parametrize(
    ("payload", "encoding", "shown"),
    [
        (b"caf\xc3\xa9 \xff!", "utf-8", "café \\xff!"),
        (b"back\\slash\xfe", "utf-8", "back\\\\slash\\xfe"),
        ("hé".encode("utf-16-le") + b"A", "utf-16-le", "hé\\x41"),
        ("hé".encode("utf-16-be"), "utf-16-be", "hé"),
        (b"\xe9t\xe9", "latin-1", "été"),
        ("HELLO, IBM".encode("cp037"), "cp037", "HELLO, IBM"),
    ],
)
def test_decode_marked_shows_every_byte(payload: bytes, encoding: str, shown: str) -> None:
    assert decode_marked(payload, encoding) == shown


def test_encode_text_names_what_it_cannot_write() -> None:
    assert encode_text("HELLO", "cp037") == b"\xc8\xc5\xd3\xd3\xd6"
    assert encode_text("hé", "utf-16-be") == b"\x00h\x00\xe9"
    with pytest.raises(TextEncodingError, match=r"'€' \(U\+20AC\) at column 2 .* Latin-1"):
        encode_text("a€", "latin-1")


def test_encoding_names_are_checked_and_forgiving() -> None:
    assert check_encoding("UTF_16_LE") == "utf-16-le"
    assert check_encoding("latin1") == "latin-1"
    assert check_encoding("ebcdic") == "cp037"
    with pytest.raises(TextEncodingError, match="unknown text encoding 'koi8'"):
        check_encoding("koi8")
