"""The extended layouts: a prefix before the length, 3-byte and varint lengths, length
adjustment, strip; the boundary cases Netty's and Tokio's decoders test; encode refusals."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings, strategies as st

from ipc.errors import FrameTooLarge, LocalProtocolError, RemoteProtocolError, TruncatedFrame
from ipc.framing import (
    LENGTH_SIZES,
    PRESETS,
    FrameDecoder,
    FramingSpec,
    describe,
    encode_frame,
    encode_frames,
    parse_framing,
)


@st.composite
def extended_specs(draw: st.DrawFn) -> FramingSpec:
    size = draw(st.sampled_from(LENGTH_SIZES))
    offset = draw(st.integers(0, 6))
    includes = size != "varint" and draw(st.booleans())
    strips: list[int | None] = [None, 0]
    if offset == 0 and size != "varint":
        strips.append(int(size))
    return FramingSpec(
        length_size=size,  # type: ignore[arg-type]
        byte_order=draw(st.sampled_from(["little", "big"])),
        length_offset=offset,
        length_includes_header=includes,
        length_adjust=draw(st.integers(-12, 12)),
        strip=draw(st.sampled_from(strips)),
        max_frame_length=100_000,
    )


def sendable_payloads(spec: FramingSpec, data: st.DataObject) -> list[bytes]:
    """Payloads ``spec`` can express: long enough for the prefix and a positive adjustment;
    with strip 0 whole frames, made with the same layout without strip."""
    draw = data.draw
    header = spec.min_header_size
    least_rest = max(0, spec.length_adjust - (header if spec.length_includes_header else 0))
    bodies = draw(st.lists(st.binary(min_size=least_rest, max_size=200), max_size=12))
    prefixes = draw(
        st.lists(
            st.binary(min_size=spec.length_offset, max_size=spec.length_offset),
            min_size=len(bodies),
            max_size=len(bodies),
        )
    )
    payloads = [p + b for p, b in zip(prefixes, bodies, strict=True)]
    if spec.strip == 0:
        unstripped = FramingSpec(**{**spec.to_wire(), "strip": None})
        return [encode_frame(p, unstripped) for p in payloads]
    if spec.strip is not None:  # strips the length field exactly: the payload is the rest
        return bodies
    return payloads


@given(spec=extended_specs(), data=st.data())
@settings(max_examples=200, deadline=None)
def test_every_layout_round_trips_whole_byte_by_byte_and_in_any_chunks(
    spec: FramingSpec, data: st.DataObject
) -> None:
    payloads = sendable_payloads(spec, data)
    wire = encode_frames(payloads, spec)
    assert FrameDecoder(spec).feed(wire) == payloads
    decoder = FrameDecoder(spec)
    one_by_one = [f for i in range(len(wire)) for f in decoder.feed(wire[i : i + 1])]
    assert one_by_one == payloads
    assert decoder.feed(b"") == []
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    decoder = FrameDecoder(spec)
    chunked = []
    for start, stop in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        if start < stop:
            chunked += decoder.feed(wire[start:stop])
    assert chunked == payloads
    assert decoder.buffered_bytes == 0
    assert decoder.head == wire[: FrameDecoder.HEAD_BYTES]


@given(spec=extended_specs(), cut=st.integers(1, 300), data=st.data())
@settings(max_examples=100, deadline=None)
def test_a_stream_cut_mid_frame_is_truncated_never_a_hang(
    spec: FramingSpec, cut: int, data: st.DataObject
) -> None:
    payloads = sendable_payloads(spec, data)
    wire = encode_frames(payloads, spec)
    assume(len(wire) >= 2)
    cut = min(cut, len(wire) - 1)
    decoder = FrameDecoder(spec)
    frames = decoder.feed(wire[:cut])
    assert frames == payloads[: len(frames)]
    if cut in _boundaries(spec, payloads):
        assert decoder.feed(b"") == []
    else:
        with pytest.raises(TruncatedFrame):
            decoder.feed(b"")


def _boundaries(spec: FramingSpec, payloads: list[bytes]) -> set[int]:
    ends, pos = {0}, 0
    for payload in payloads:
        pos += len(encode_frame(payload, spec))
        ends.add(pos)
    return ends


# ----------------------------------------------------------------- boundary cases


def test_negative_adjustment_accepts_a_maximum_sized_frame_and_refuses_one_more() -> None:
    # The adjustment is applied before the maximum check (Netty's and Tokio's order).
    spec = FramingSpec(byte_order="big", length_adjust=-4, max_frame_length=100)
    assert FrameDecoder(spec).feed((104).to_bytes(4, "big") + b"x" * 100) == [b"x" * 100]
    assert encode_frame(b"x" * 100, spec)[:4] == (104).to_bytes(4, "big")
    with pytest.raises(FrameTooLarge, match=r"frame length 101 \(length field 105, adjusted\)"):
        FrameDecoder(spec).feed((105).to_bytes(4, "big"))
    with pytest.raises(LocalProtocolError, match="101 bytes > max_frame_length 100"):
        encode_frame(b"x" * 101, spec)


@pytest.mark.parametrize(
    ("spec", "header"),
    [
        (PRESETS["pg"], b"Q\x00\x00\x00\x03"),  # counts itself: 3 < 4
        (FramingSpec(length_size=3, length_includes_header=True), b"\x02\x00\x00"),
        (FramingSpec(length_offset=2, length_size=2, length_includes_header=True), b"ab\x03\x00"),
    ],
)
def test_an_adjusted_length_below_the_header_is_an_error_at_once(
    spec: FramingSpec, header: bytes
) -> None:
    decoder = FrameDecoder(spec)
    with pytest.raises(RemoteProtocolError, match=r"shorter than its header|smaller than the"):
        decoder.feed(header)  # no more bytes needed to know: never a hang
    assert decoder.failed


@pytest.mark.parametrize("order", ["little", "big"])
def test_3_byte_lengths_reach_2_to_the_24_minus_1_and_no_further(order: Any) -> None:
    spec = FramingSpec(length_size=3, byte_order=order, max_frame_length=1 << 24)
    payload = bytes(range(256)) * 65535 + b"z" * 255  # 2**24 - 1 bytes
    wire = encode_frame(payload, spec)
    assert wire[:3] == b"\xff\xff\xff"
    (frame,) = FrameDecoder(spec).feed(wire)
    assert frame == payload
    with pytest.raises(LocalProtocolError, match="does not fit a 3-byte length field"):
        encode_frame(payload + b"!", spec)
    assert spec.payload_limit == (1 << 24) - 1
    two = b"\x02\x00\x00" if order == "little" else b"\x00\x00\x02"
    assert encode_frame(b"ab", spec)[:3] == two


def test_varint_lengths_cross_the_one_byte_boundary() -> None:
    spec = PRESETS["varint"]
    for size, header in ((127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02")):
        assert encode_frame(b"v" * size, spec)[: len(header) + 1] == header + b"v"
        assert FrameDecoder(spec).feed(header + b"v" * size) == [b"v" * size]


def test_a_varint_over_the_maximum_fails_before_it_ends() -> None:
    decoder = FrameDecoder(FramingSpec(length_size="varint", max_frame_length=1000))
    with pytest.raises(FrameTooLarge, match="> max 1000"):
        decoder.feed(b"\xff\xff")  # at least 16,383 with more to come
    too_long = FrameDecoder(FramingSpec(length_size="varint", max_frame_length=1 << 30))
    with pytest.raises(FrameTooLarge):
        too_long.feed(b"\x80" * 11)


def test_strip_past_the_header_drops_body_bytes_and_a_short_frame_is_an_error() -> None:
    spec = FramingSpec(byte_order="big", strip=6)
    assert FrameDecoder(spec).feed(b"\x00\x00\x00\x04abcd") == [b"cd"]
    with pytest.raises(RemoteProtocolError, match="shorter than the 6 bytes to strip"):
        FrameDecoder(spec).feed(b"\x00\x00\x00\x01a")


def test_strip_0_delivers_the_whole_frame_and_sends_only_whole_frames() -> None:
    spec = FramingSpec(length_offset=1, length_size=2, byte_order="big", strip=0)
    frame = b"T\x00\x03abc"
    assert FrameDecoder(spec).feed(frame) == [frame]
    assert encode_frame(frame, spec) == frame
    with pytest.raises(LocalProtocolError, match="not exactly one frame"):
        encode_frame(b"T\x00\x05abc", spec)


@pytest.mark.parametrize(
    ("spec", "payload", "message"),
    [
        (PRESETS["pg"], b"", "shorter than the 1 bytes before the length field"),
        (PRESETS["mysql"], b"", "at least 1 bytes after the length field"),
        (PRESETS["teltonika"], b"\x00\x00\x00\x00ab", "at least 4 bytes after"),
        (FramingSpec(length_offset=1, strip=5), b"abc", "strips 5 bytes on receipt"),
        (FramingSpec(strip=2), b"abc", "cannot be sent"),
        (FramingSpec(length_size=3, max_frame_length=1 << 30), b"x" * (1 << 24), "3-byte"),
    ],
)
def test_encode_refuses_what_the_layout_cannot_express(
    spec: FramingSpec, payload: bytes, message: str
) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        encode_frame(payload, spec)


def test_head_keeps_the_first_bytes_of_the_stream_whatever_became_of_them() -> None:
    decoder = FrameDecoder()
    with pytest.raises(FrameTooLarge):
        decoder.feed(b"\x00\x00\x00\x10" + b"x" * 300)
    assert decoder.head == (b"\x00\x00\x00\x10" + b"x" * 300)[:256]


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("be32", PRESETS["be32"]),
        ("pg", PRESETS["pg"]),
        ("be32,offset=1,adjust=-4", PRESETS["pg"]),
        ("le24,adjust=1", PRESETS["mysql"]),
        ("size=3,adjust=1", PRESETS["mysql"]),
        ("varint,offset=1", PRESETS["mqtt"]),
        ("be16,offset=2,includes_header", PRESETS["tpkt"]),
        ("le32,max=0x100,strip=none", FramingSpec(max_frame_length=256)),
        ("be16,strip=0", FramingSpec(length_size=2, byte_order="big", strip=0)),
    ],
)
def test_parse_framing_reads_presets_and_words(text: str, spec: FramingSpec) -> None:
    assert parse_framing(text) == spec
    assert parse_framing(describe(spec)) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("le33", "unknown framing 'le33'"),
        ("be32,ofset=1", "bad framing word 'ofset=1'"),
        ("be32,offset=x", "offset='x': not a number"),
        ("varint,includes_header", "cannot count the header"),
        ("", "empty framing"),
    ],
)
def test_parse_framing_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_framing(text)
