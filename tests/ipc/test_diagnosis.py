"""What unexpected bytes look like: a framing guess, text, banners, TLS, and nothing at all."""

from __future__ import annotations

from typing import Literal

import pytest

from ipc.diagnosis import Diagnosis, Situation, diagnose, guess_framing, looks_like
from ipc.framing import PRESETS, FramingSpec, encode_frame, encode_frames

LE32, BE32 = PRESETS["le32"], PRESETS["be32"]


def test_a_big_endian_server_speaking_first_to_a_le32_client_is_named() -> None:
    # Issue 17 item 5: "frame length 268435456 > max 8388608" with no hint.
    received = encode_frame(b"welcome, client!", BE32)
    diagnosis = diagnose("frame_too_large", LE32, received=received)
    assert diagnosis is not None
    assert diagnosis.kind == "framing"
    assert diagnosis.suggestion == "be32"
    assert diagnosis.summary == "as be32, these 20 bytes are 1 whole frame"
    assert diagnosis.head == received


def test_be16_reading_a_be32_reply_as_an_empty_frame_is_named() -> None:
    # Issue 17 item 5: --framing be16 against a be32 stream printed an empty frame, exit 0.
    received = encode_frame(b"hello, client! you said: hello", BE32)
    diagnosis = diagnose("leftover", PRESETS["be16"], received=received)
    assert diagnosis is not None and diagnosis.suggestion == "be32"


def test_nothing_is_said_when_the_framing_in_use_fits_best() -> None:
    received = encode_frames([b"one", b"two", b"three"], BE32) + b"\x00\x00"
    assert diagnose("leftover", BE32, received=received) is None


@pytest.mark.parametrize(
    ("name", "payloads"),
    [
        ("le32", [b"hello", b"world!"]),
        ("be32", [b"x" * 40, b"y" * 3]),
        ("be16", [b"a" * 300, b"b" * 2]),
        ("pg", [b"Zhello", b"Tdata row"]),
        ("varint", [b"p" * 200, b"q" * 5]),
        ("teltonika", [bytes(4) + b"\x08\x01" + b"r" * 30 + b"\x01" + b"\x00\x00\xc7\xcf"]),
    ],
)
def test_the_guess_ranks_the_framing_that_wrote_the_bytes_first(
    name: str, payloads: list[bytes]
) -> None:
    wire = encode_frames(payloads, PRESETS[name])
    best = guess_framing(wire)[0]
    assert best.name == name
    assert best.exact
    assert best.frames == len(payloads)


def test_the_guess_says_how_much_it_explains_when_the_bytes_are_cut() -> None:
    wire = encode_frames([b"a" * 20, b"b" * 300], PRESETS["be16"])[:40]
    best = guess_framing(wire)[0]
    assert best.name == "be16"
    assert best.sentence() == "as be16, these 40 bytes are 1 whole frame and 18 bytes of the next"


def test_a_framing_that_errors_or_finds_no_whole_frame_is_left_out() -> None:
    wire = encode_frame(b"z" * 100, LE32)
    names = [guess.name for guess in guess_framing(wire)]
    assert "be32" not in names  # 0x64000000 is over the maximum
    assert names[0] == "le32"


def test_the_guess_uses_the_given_maximum() -> None:
    wire = encode_frame(b"z" * 100, BE32)
    assert "be32,max=50" not in [guess.name for guess in guess_framing(wire, max_frame_length=50)]
    assert guess_framing(wire, max_frame_length=100)[0].name == "be32,max=100"


@pytest.mark.parametrize(
    ("data", "kind", "words"),
    [
        (bytes.fromhex("160303007a020000760303"), "tls", "TLS handshake record, 16 03 03"),
        (bytes.fromhex("15030100020228"), "tls", "TLS alert"),
        (b"HTTP/1.1 400 Bad Request\r\nServer: x\r\n\r\n", "http", "HTTP/1.1 response"),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "http", "HTTP request"),
        (b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "ssh", "'SSH-2.0-OpenSSH_9.2p1 Debian-2'"),
        (b"220 mail.example.com ESMTP Postfix\r\n", "banner", "SMTP greeting"),
        (b"220 (vsFTPd 3.0.3)\r\n", "banner", "FTP greeting"),
        (b"+OK POP3 ready\r\n", "banner", "POP3"),
        (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", "banner", "IMAP"),
        (b'{"error": "bad request", "code": 4', "json", "JSON"),
        (b"[1, 2, 3]\n", "json", "JSON"),
        (b"welcome to the machine\n", "text", "'welcome to the machine'"),
    ],
)
def test_looks_like_recognises_text_banners_and_tls(data: bytes, kind: str, words: str) -> None:
    seen = looks_like(data)
    assert seen is not None
    assert seen[0] == kind
    assert words in seen[1]
    diagnosis = diagnose("frame_too_large", LE32, received=data)
    assert diagnosis is not None and diagnosis.kind == kind and diagnosis.suggestion is None


@pytest.mark.parametrize(
    "data", [encode_frame(b"hello", LE32), bytes(range(256)), b"\x00" * 20, b""]
)
def test_binary_frames_and_noise_do_not_look_like_text(data: bytes) -> None:
    assert looks_like(data) is None


def test_nothing_back_after_our_own_frame_names_no_other_framing() -> None:
    """A peer that closes after a short le32 frame (the demo server's !close) was told
    "try --framing be32": the bytes sent read best as le32, so nothing is suggested."""
    cases: list[tuple[Situation, str]] = [
        ("closed_early", "the peer closed without sending anything"),
        ("no_reply", "nothing came back"),
    ]
    for situation, what in cases:
        diagnosis = diagnose(situation, LE32, sent=encode_frame(b"!close", LE32))
        assert diagnosis == Diagnosis(kind="nothing", summary=what)


def test_nothing_back_names_the_other_byte_order_when_the_bytes_sent_read_better_so() -> None:
    # bytes written as they came (a relay's), in the other byte order
    diagnosis = diagnose("closed_early", LE32, sent=encode_frame(b"hello", BE32))
    assert diagnosis == Diagnosis(
        kind="nothing",
        summary=(
            "the peer closed without sending anything; the bytes sent read better as be32 "
            "than as le32 (as be32, these 9 bytes are 1 whole frame)"
        ),
        suggestion="be32",
    )
    le16, be16 = PRESETS["le16"], PRESETS["be16"]
    small = diagnose("no_reply", le16, sent=encode_frame(b"hello", be16))
    assert small is not None and small.suggestion == "be16"


def test_nothing_back_without_a_header_to_read_says_just_that() -> None:
    diagnosis = diagnose("closed_early", PRESETS["u8"], sent=b"\x01a")
    assert diagnosis == Diagnosis(
        kind="nothing", summary="the peer closed without sending anything"
    )
    assert diagnose("closed_early", LE32) is None


def test_the_wire_form_round_trips_and_bad_maps_are_none() -> None:
    diagnosis = diagnose("frame_too_large", LE32, received=encode_frame(b"hi there", BE32))
    assert diagnosis is not None
    assert Diagnosis.from_wire(diagnosis.to_wire()) == diagnosis
    assert diagnosis.suggested_spec() == BE32
    assert Diagnosis.from_wire({"kind": 3}) is None
    assert Diagnosis.from_wire(None) is None


def test_candidates_can_be_given_and_a_custom_winner_is_named_in_framing_words() -> None:
    spec = FramingSpec(length_size=3, byte_order="big")
    wire = encode_frames([b"a" * 70000, b"b"], spec)
    best = guess_framing(wire, [LE32, spec, BE32])[0]
    assert best.spec == spec
    assert best.name == "be24"


def test_a_session_that_ends_well_in_its_own_framing_is_not_second_guessed() -> None:
    # u8 frames of text look like text, but u8 reads them exactly: nothing to say.
    text_frames = encode_frames([b"@" * 64, b"lines of text, framed"], PRESETS["u8"])
    assert diagnose("leftover", PRESETS["u8"], received=text_frames) is None
    # A cut head (the stream went on) is no leftover either.
    stream = encode_frames([b"x" * 100] * 5, BE32)[:256]
    assert diagnose("leftover", BE32, received=stream) is None
    assert diagnose("leftover", LE32, received=stream) is not None


@pytest.mark.parametrize(
    ("situation", "received"),
    [
        # the demo server's !oversize: a le32 header over the maximum, then nothing; as
        # le16 these 4 bytes are "1 whole frame and 1 byte of the next" (said: try le16)
        ("frame_too_large", (8 * 2**20 + 1).to_bytes(4, "little")),
        # its !truncate: a header for 100 bytes, 48 of them; as mqtt "2 whole frames
        # (2 empty) and 48 bytes of the next" (said: try mqtt)
        ("truncated", (100).to_bytes(4, "little") + b"x" * 48),
    ],
)
def test_no_framing_is_named_from_bytes_that_any_framing_would_explain(
    situation: Literal["frame_too_large", "truncated"], received: bytes
) -> None:
    assert diagnose(situation, LE32, received=received) is None


def test_a_guess_counts_one_byte_in_the_singular() -> None:
    (guess,) = [g for g in guess_framing(b"\x01\x00\x80\x00") if g.name == "le16"]
    assert guess.sentence() == "as le16, these 4 bytes are 1 whole frame and 1 byte of the next"
