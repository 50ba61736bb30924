"""Payloads as people read them: escaped one-line text, the text-or-hex choice, hex input."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, strategies as st

from ipc.payload_text import (
    HexError,
    escape_text,
    hex_dump,
    looks_like_text,
    parse_hex,
    text_or_hex,
)


@pytest.mark.parametrize(
    ("payload", "shown"),
    [
        (b"hello", "hello"),
        (b"a\\b", "a\\\\b"),
        (b"line\r\n\tend", "line\\r\\n\\tend"),
        (b"\x00\x7f", "\\x00\\x7f"),
        ("héllo wörld".encode(), "héllo wörld"),
        # binary that happens to hold a valid UTF-8 pair (U+07AD, a Thaana letter): issue 17
        (b"\xde\xad\xbe\xef", "\\xde\\xad\\xbe\\xef"),
        # one bad byte: the payload is not text, so nothing beyond ASCII is shown as a letter
        ("é".encode() + b"\xff", "\\xc3\\xa9\\xff"),
        # valid UTF-8 but not printable (a C1 control, a zero-width space): their bytes
        ("a\u0085b\u200bc".encode(), "a\\xc2\\x85b\\xe2\\x80\\x8bc"),
    ],
)
def test_escape_text(payload: bytes, shown: str) -> None:
    assert escape_text(payload) == shown


def test_escape_text_in_other_encodings() -> None:
    assert escape_text("hé\n\\".encode("cp037"), "cp037") == "hé\\n\\\\"
    # an odd byte out in UTF-16 is marked, the rest decodes
    assert escape_text("hi".encode("utf-16-le") + b"\x00\xd8", "utf-16-le") == "hi\\x00\\xd8"
    assert escape_text(b"\xe9\x85", "latin-1") == "é\\x85"


@given(st.binary(max_size=64))
def test_escaped_text_is_one_printable_line_that_gives_back_the_bytes(payload: bytes) -> None:
    shown = escape_text(payload)
    assert shown.isprintable()
    # \\xNN and the short escapes are Python's: its decoder reverses them
    assert codecs.escape_decode(shown.encode())[0] == payload


@given(st.text(max_size=40))
def test_printable_text_stays_as_it_is(text: str) -> None:
    if text.isprintable() and "\\" not in text:
        assert escape_text(text.encode()) == text


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        (b"", True),
        (b"HTTP/1.1 200 OK\r\n\r\n", True),
        (b"status: ok\x00\x01", True),  # mostly text with two binary bytes (item 13)
        ("réponse complète".encode(), True),
        (b"\x00\x00\x00\x05hi", False),
        (b"\xde\xad\xbe\xef", False),
        (bytes(range(256)), False),
    ],
)
def test_looks_like_text(payload: bytes, text: bool) -> None:
    assert looks_like_text(payload) is text


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("", b""), ("68656c6c6f", b"hello"), ("68 65 6C", b"hel"), ("0x68,0x65", b"he"),
     ("de:ad-be ef\n", b"\xde\xad\xbe\xef")],
)  # fmt: skip
def test_parse_hex_accepts_what_people_type(typed: str, expected: bytes) -> None:
    assert parse_hex(typed) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("abc", "odd number of hex digits (3): each byte is two digits"),
        ("686 5", "odd number of hex digits before column 4"),
        ("68 zz", "'z' at column 4 is not a hex digit"),
    ],
)
def test_parse_hex_says_what_is_wrong(typed: str, message: str) -> None:
    with pytest.raises(HexError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_hex(typed)


def test_hex_dump_columns() -> None:
    assert hex_dump(b"hello\x00", 8) == "00000000  68 65 6c 6c 6f 00        hello."


@given(st.binary(max_size=64))
def test_text_or_hex_is_escape_text_or_hex_as_looks_like_text_says(payload: bytes) -> None:
    expected = escape_text(payload) if looks_like_text(payload) else payload.hex(" ")
    assert text_or_hex(payload) == expected
