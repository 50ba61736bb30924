import json

import pytest

from ui.formatting import (
    HexError,
    describe_exit,
    format_bytes,
    format_rate,
    framing_text,
    hex_dump,
    hex_error,
    log_row_json,
    parse_hex,
    preview,
    rows_in_words,
    session_name,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", b""),
        ("68656c6c6f", b"hello"),
        ("68 65 6C 6c 6f", b"hello"),
        ("0x68,0x65", b"he"),
        ("de:ad-be ef\n", b"\xde\xad\xbe\xef"),
    ],
)
def test_parse_hex_accepts_common_forms(text, expected):
    assert parse_hex(text) == expected
    assert hex_error(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("6", "odd number"),
        ("686 5", "odd number of hex digits before column 4"),
        ("68 zz", "'z' at column 4"),
        ("0xg1", "'g' at column 3"),
    ],
)
def test_parse_hex_rejects_with_position(text, message):
    with pytest.raises(HexError, match=message):
        parse_hex(text)
    assert message in hex_error(text)


def test_preview_shows_text_escaped_and_binary_as_hex():
    assert preview(b"hello") == "hello"
    assert preview(b"a\nb\tc") == "a\\nb\\tc"
    assert preview(b"\x00\x01\xff") == "00 01 ff"
    long = preview(b"x" * 500, limit=10)
    assert long == "x" * 10 + "…"
    assert preview(bytes(range(200)), limit=30).endswith("…")


def test_preview_of_long_utf8_cut_inside_a_character():
    assert preview("é".encode() * 400, limit=20) == "é" * 20 + "…"


def test_sizes_rates_and_exits():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(5 * 1024**3) == "5.0 GiB"
    assert format_rate(12) == "12/s"
    assert format_rate(12_345) == "12.3k/s"
    assert format_rate(2_500_000) == "2.50M/s"
    assert describe_exit(3, crashed=False) == "exited with code 3"
    assert describe_exit(9, crashed=True) == "killed by signal 9 (SIGKILL)"


def test_session_names_and_framing_text():
    assert session_name(1, 3) == "#3"
    assert session_name(2, 3) == "e2#3"
    assert framing_text("be16") == "be16"
    assert framing_text({"length_size": 2, "byte_order": "big"}) == "be16"
    assert (
        framing_text({"length_size": 4, "length_includes_header": True}) == "le32,includes_header"
    )
    assert framing_text({"length_size": 3, "length_adjust": 1}) == "mysql"
    assert framing_text({"length_size": 5}) == "?"


def test_hex_dump_lines():
    dump = hex_dump(b"hello, world! 0123\x00")
    first, second = dump.splitlines()
    assert first.startswith("00000000  68 65 6c 6c 6f")
    assert first.endswith("hello, world! 01")
    assert second.startswith("00000010  32 33 00") and second.endswith("23.")


def test_saved_rows_as_json():
    # The recording format (docs/recording.md): the engine's session number, hex always.
    assert log_row_json(1.5, "#2", "out", b"ok", peer="127.0.0.1:9", framing="be32") == (
        '{"v": 1, "t": 1.5, "session": 2, "dir": "out", "len": 2, "hex": "6f6b", "text": "ok", '
        '"peer": "127.0.0.1:9", "framing": "be32"}'
    )
    after_restart = json.loads(log_row_json(1.5, "e3#2", "in", b"\xff\x00"))
    assert after_restart["engine"] == 3 and "text" not in after_restart
    note = json.loads(log_row_json(2.0, "engine", "error", b"engine 1 crashed"))
    assert note == {
        "v": 1, "t": 2.0, "session": 0, "event": "error", "detail": "engine 1 crashed"
    }  # fmt: skip
    ebcdic = json.loads(log_row_json(1.0, "#1", "in", "HI".encode("cp037"), encoding="cp037"))
    assert (ebcdic["text"], ebcdic["enc"]) == ("HI", "cp037")


def test_a_mostly_text_payload_previews_as_text_with_its_binary_bytes_escaped():
    """Issue 17, item 13: a reply that is mostly text with a few binary bytes was all hex."""
    assert preview(b"status: ok\x00\x01 done") == "status: ok\\x00\\x01 done"
    assert preview(b"\xde\xad\xbe\xef") == "de ad be ef"


def test_rows_lost_are_named_by_kind():
    assert rows_in_words({"session": 1}) == "1 session"
    assert rows_in_words({"listener": 2, "session": 0}) == "2 listeners"
    assert rows_in_words({"pair": 1, "session": 3}, "open") == "3 open sessions and 1 relay pair"
    three = {"session": 2, "listener": 1, "pair": 2}
    assert rows_in_words(three) == "2 sessions, 1 listener and 2 relay pairs"
