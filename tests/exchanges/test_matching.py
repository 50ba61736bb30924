"""Expectations: exact bytes with ignored ranges and fields, fields, where, captures."""

from __future__ import annotations

import pytest

from decoders import decoder_for, encode_value
from exchanges import Expectation, Variables, parse_ignore
from exchanges.matching import FrameView, Match, Mismatch, check


def frame(payload: bytes) -> FrameView:
    return FrameView(payload, decoder_for("auto"))


def run(expectation: Expectation, payload: bytes, **variables: object) -> Match | Mismatch:
    return check(expectation, frame(payload), Variables(variables))


def test_ignored_byte_ranges_are_not_compared() -> None:
    expected = "00 01 02 03 04 05"
    assert isinstance(run(Expectation(hex=expected), bytes.fromhex("000102ff0405")), Mismatch)
    ignore = (parse_ignore("3"),)
    assert run(Expectation(hex=expected, ignore=ignore), bytes.fromhex("000102ff0405")) == Match({})
    ignore = (parse_ignore("2-"),)
    assert isinstance(run(Expectation(hex=expected, ignore=ignore), b"\x00\x01\x02"), Match)
    different = run(Expectation(hex=expected, ignore=ignore), b"\x00\x09\x02")
    assert isinstance(different, Mismatch)
    assert different.detail == "first difference at byte 1: expected 01, got 09"


def test_ignored_fields_compare_the_decoded_values() -> None:
    recorded = encode_value({"op": "tick", "seq": 1, "ts": 100}, "msgpack").hex()
    now = encode_value({"op": "tick", "seq": 1, "ts": 123456789}, "msgpack")
    assert isinstance(run(Expectation(hex=recorded), now), Mismatch)
    assert isinstance(run(Expectation(hex=recorded, ignore=(parse_ignore("ts"),)), now), Match)
    other = encode_value({"op": "tock", "seq": 1, "ts": 5}, "msgpack")
    result = run(Expectation(hex=recorded, ignore=(parse_ignore("ts"),)), other)
    assert isinstance(result, Mismatch)
    assert result.detail == 'at op: expected "tick", got "tock" (decoded as msgpack)'


def test_fields_is_a_subset_and_says_where_it_differs() -> None:
    payload = encode_value({"op": "welcome", "user": {"name": "ana", "id": 7}}, "cbor")
    assert isinstance(run(Expectation(fields={"user": {"id": 7.0}}), payload), Match)
    result = run(Expectation(fields={"user": {"name": "bob"}}), payload)
    assert isinstance(result, Mismatch)
    assert result.detail == 'at user.name: expected "bob", got "ana"'
    missing = run(Expectation(fields={"user": {"role": "x"}}), payload)
    assert isinstance(missing, Mismatch) and missing.detail == "no field user.role"


def test_where_and_capture_with_placeholders_as_literals() -> None:
    payload = b'{"op": "ok", "token": "a\\"b", "n": 3}'
    found = run(
        Expectation(where='op == "ok" and n == {{n}}', capture={"token": ("token",)}), payload, n=3
    )
    assert found == Match({"token": 'a"b'})
    quoted = run(Expectation(where="token == {{t}}"), payload, t='a"b')
    assert isinstance(quoted, Match)


def test_regex_captures_its_named_groups_and_escapes_placeholders() -> None:
    assert run(Expectation(regex=r"id=(?P<id>\d+)"), b"ok id=42") == Match({"id": "42"})
    assert isinstance(run(Expectation(regex="cost {{price}}"), b"cost 1.50", price="1.50"), Match)
    assert isinstance(
        run(Expectation(regex="cost {{price}}"), b"cost 1x50", price="1.50"), Mismatch
    )


@pytest.mark.parametrize(
    ("text", "start", "end", "path"),
    [("4-11", 4, 11, None), ("8-", 8, None, None), ("7", 7, 7, None),
     ("header.seq", 0, None, ("header", "seq")), ('items[0]["k"]', 0, None, ("items", 0, "k"))],
)  # fmt: skip
def test_ignore_reads_ranges_and_paths(
    text: str, start: int, end: int | None, path: tuple[str | int, ...] | None
) -> None:
    ignore = parse_ignore(text)
    assert (ignore.start, ignore.end, ignore.path) == (start, end, path)


def test_a_bad_ignore_says_what_it_takes() -> None:
    with pytest.raises(ValueError, match="neither a byte range"):
        parse_ignore("4-x")
