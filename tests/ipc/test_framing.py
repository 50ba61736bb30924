"""The sans-IO codec: exact byte tables, incremental feeding, and hypothesis properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from ipc.errors import (
    FrameTooLarge,
    LocalProtocolError,
    RemoteProtocolError,
    SchemaError,
    TruncatedFrame,
)
from ipc.framing import (
    DEFAULT,
    DEFAULT_MAX_FRAME_LENGTH,
    PRESETS,
    FrameDecoder,
    FramingSpec,
    encode_frame,
    encode_frames,
)

# (spec, payload, exact wire bytes)
SIMPLE_CASES = [
    (PRESETS["le32"], b"hello", b"\x05\x00\x00\x00hello"),
    (PRESETS["be32"], b"hello", b"\x00\x00\x00\x05hello"),
    (PRESETS["le16"], b"hello", b"\x05\x00hello"),
    (PRESETS["be16"], b"hello", b"\x00\x05hello"),
    (PRESETS["u8"], b"hello", b"\x05hello"),
    (PRESETS["le64"], b"hi", b"\x02\x00\x00\x00\x00\x00\x00\x00hi"),
    (PRESETS["be64"], b"hi", b"\x00\x00\x00\x00\x00\x00\x00\x02hi"),
    (PRESETS["le32"], b"", b"\x00\x00\x00\x00"),
    (PRESETS["be16"], b"x" * 258, b"\x01\x02" + b"x" * 258),
    (PRESETS["le16"], b"x" * 258, b"\x02\x01" + b"x" * 258),
    (FramingSpec(length_includes_header=True), b"hello", b"\x09\x00\x00\x00hello"),
    (
        FramingSpec(length_size=2, byte_order="big", length_includes_header=True),
        b"abc",
        b"\x00\x05abc",
    ),
    (FramingSpec(length_size=1, length_includes_header=True), b"", b"\x01"),
]

#: The simple layouts (the fast decoder's); tests/ipc/test_framing_extended.py covers the rest.
SIMPLE_PRESETS = [PRESETS[name] for name in ("le32", "be32", "le16", "be16", "u8", "le64", "be64")]
specs = st.sampled_from([*SIMPLE_PRESETS, FramingSpec(length_size=2, length_includes_header=True)])
payload_lists = st.lists(st.binary(max_size=300), max_size=20)


def test_default_is_le32_with_8_mib_max() -> None:
    assert DEFAULT == PRESETS["le32"] == FramingSpec()
    assert DEFAULT.to_wire() == {
        "length_size": 4,
        "byte_order": "little",
        "length_includes_header": False,
        "max_frame_length": DEFAULT_MAX_FRAME_LENGTH,
        "length_offset": 0,
        "length_adjust": 0,
        "strip": None,
    }
    assert DEFAULT_MAX_FRAME_LENGTH == 8 * 1024 * 1024


@pytest.mark.parametrize(("spec", "payload", "wire"), SIMPLE_CASES)
def test_encode_writes_exact_bytes(spec: FramingSpec, payload: bytes, wire: bytes) -> None:
    assert encode_frame(payload, spec) == wire
    assert encode_frames([payload, payload], spec) == wire + wire


@pytest.mark.parametrize(("spec", "payload", "wire"), SIMPLE_CASES)
def test_decode_reads_exact_bytes_whole_and_byte_by_byte(
    spec: FramingSpec, payload: bytes, wire: bytes
) -> None:
    assert FrameDecoder(spec).feed(wire + wire) == [payload, payload]
    decoder = FrameDecoder(spec)
    got = []
    for i in range(len(wire)):
        decoder.receive_data(wire[i : i + 1])
        frames = decoder.frames()
        assert frames == ([payload] if i == len(wire) - 1 else [])
        got += frames
        held = i + 1 if i + 1 < spec.min_header_size else i + 1 - spec.min_header_size
        assert decoder.buffered_bytes == (0 if i == len(wire) - 1 else held)
    decoder.receive_data(b"")
    assert decoder.frames() == []


def test_decoder_returns_many_frames_from_one_chunk_as_bytes() -> None:
    payloads = [bytes([i]) * i for i in range(50)]
    frames = FrameDecoder().feed(encode_frames(payloads))
    assert frames == payloads
    assert all(type(f) is bytes for f in frames)


def test_decoder_accepts_bytearray_and_memoryview() -> None:
    wire = encode_frames([b"ab", b"cd"])
    assert FrameDecoder().feed(bytearray(wire)) == [b"ab", b"cd"]
    assert FrameDecoder().feed(memoryview(wire)) == [b"ab", b"cd"]


def test_large_frame_over_many_chunks_is_assembled_once_complete() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    wire = encode_frame(payload) + encode_frame(b"next")
    decoder = FrameDecoder()
    got = []
    for i in range(0, len(wire), 65536 + 3):
        got += decoder.feed(wire[i : i + 65536 + 3])
        if len(got) == 0:
            assert decoder.buffered_bytes == min(i + 65539, len(wire)) - 4
    assert got == [payload, b"next"]
    assert decoder.buffered_bytes == 0


def test_decoder_rejects_oversize_length_before_buffering() -> None:
    spec = FramingSpec(max_frame_length=10)
    decoder = FrameDecoder(spec)
    decoder.receive_data(b"\xff\xff\xff\xff" + b"x" * 100)
    assert decoder.buffered_bytes == 0
    with pytest.raises(FrameTooLarge, match="frame length 4294967295 > max 10"):
        decoder.frames()


def test_oversize_header_split_over_reads_fails_when_header_completes() -> None:
    decoder = FrameDecoder(FramingSpec(max_frame_length=10))
    assert decoder.feed(b"\x0b\x00") == []
    with pytest.raises(FrameTooLarge, match="frame length 11 > max 10"):
        decoder.feed(b"\x00\x00")
    assert decoder.buffered_bytes == 0


def test_frames_before_an_error_are_delivered_first_then_it_raises() -> None:
    decoder = FrameDecoder(FramingSpec(max_frame_length=10))
    assert decoder.feed(encode_frame(b"ok") + b"\x64\x00\x00\x00") == [b"ok"]
    assert decoder.failed
    with pytest.raises(FrameTooLarge):
        decoder.frames()


def test_decoder_stays_failed_after_an_error() -> None:
    decoder = FrameDecoder(FramingSpec(max_frame_length=1))
    with pytest.raises(FrameTooLarge):
        decoder.feed(b"\x02\x00\x00\x00")
    for _ in range(2):
        with pytest.raises(FrameTooLarge):
            decoder.frames()
        with pytest.raises(FrameTooLarge):
            decoder.receive_data(encode_frame(b"x"))
        with pytest.raises(FrameTooLarge):
            decoder.feed(encode_frame(b"x"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x05\x00", "2 of 4 header bytes"),
        (b"\x05\x00\x00\x00he", "2 of 5 payload bytes"),
        (b"\x05\x00\x00\x00", "0 of 5 payload bytes"),
    ],
)
def test_eof_mid_frame_is_truncated_frame(data: bytes, message: str) -> None:
    decoder = FrameDecoder()
    assert decoder.feed(data) == []
    with pytest.raises(TruncatedFrame, match=message):
        decoder.feed(b"")
    with pytest.raises(TruncatedFrame):
        decoder.frames()


def test_eof_between_frames_ends_cleanly_and_data_after_eof_is_refused() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame(b"a")) == [b"a"]
    assert decoder.feed(b"") == []
    assert decoder.frames() == []
    with pytest.raises(LocalProtocolError, match="after EOF"):
        decoder.receive_data(b"x")


def test_length_including_header_smaller_than_header_is_a_protocol_error() -> None:
    decoder = FrameDecoder(FramingSpec(length_includes_header=True))
    with pytest.raises(RemoteProtocolError, match="smaller than the 4-byte header"):
        decoder.feed(b"\x03\x00\x00\x00")


@pytest.mark.parametrize(
    ("spec", "size", "message"),
    [
        (FramingSpec(max_frame_length=3), 4, "4 bytes > max_frame_length 3"),
        (PRESETS["u8"], 256, "does not fit a 1-byte length field"),
        (FramingSpec(length_size=1, length_includes_header=True), 255, "1-byte length"),
        (PRESETS["be16"], 65536, "does not fit a 2-byte length field"),
    ],
)
def test_encoder_refuses_payloads_that_do_not_fit(
    spec: FramingSpec, size: int, message: str
) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        encode_frame(b"x" * size, spec)
    with pytest.raises(LocalProtocolError, match=message):
        encode_frames([b"ok", b"x" * size], spec)


def test_largest_payload_that_fits_the_field_round_trips() -> None:
    spec = PRESETS["u8"]
    wire = encode_frame(b"x" * 255, spec)
    assert wire[:1] == b"\xff"
    assert FrameDecoder(spec).feed(wire) == [b"x" * 255]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"length_size": 5},
        {"length_size": "3"},
        {"length_size": True},
        {"length_offset": -1},
        {"length_offset": 1025},
        {"length_adjust": 2**31},
        {"length_adjust": 1.0},
        {"strip": -1},
        {"strip": True},
        {"length_size": "varint", "length_includes_header": True},
        {"length_size": "varint", "strip": 1},
        {"byte_order": "native"},
        {"length_includes_header": 1},
        {"max_frame_length": -1},
        {"max_frame_length": 2**40},
        {"max_frame_length": 1.5},
    ],
)
def test_spec_validates_its_fields(kwargs: dict[str, Any]) -> None:
    with pytest.raises(LocalProtocolError):
        FramingSpec(**kwargs)


def test_from_wire_accepts_presets_and_maps() -> None:
    assert FramingSpec.from_wire("be16") is PRESETS["be16"]
    assert FramingSpec.from_wire({}) == DEFAULT
    spec = FramingSpec.from_wire({"length_size": 2, "byte_order": "big"})
    assert spec == PRESETS["be16"]
    for preset in PRESETS.values():
        assert FramingSpec.from_wire(preset.to_wire()) == preset
    assert all(preset.is_simple for preset in SIMPLE_PRESETS)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("le24", "unknown framing preset 'le24'"),
        (4, "preset name or a map, not int"),
        ({"lenght_size": 2}, "unknown framing key"),
        ({"length_size": 5}, "invalid framing: length_size must be 1, 2, 3, 4, 8 or 'varint'"),
        ({"byte_order": "middle"}, "byte_order"),
    ],
)
def test_from_wire_raises_schema_error_with_a_clear_message(value: object, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        FramingSpec.from_wire(value)


# No per-example deadline: the machine is shared, and a slow example is not a wrong one.
@given(spec=specs, payloads=payload_lists)
@settings(deadline=None)
def test_round_trip(spec: FramingSpec, payloads: list[bytes]) -> None:
    assert FrameDecoder(spec).feed(encode_frames(payloads, spec)) == payloads


@given(spec=specs, payloads=payload_lists, data=st.data())
@settings(max_examples=200, deadline=None)
def test_any_chunking_gives_identical_frames(
    spec: FramingSpec, payloads: list[bytes], data: st.DataObject
) -> None:
    wire = encode_frames(payloads, spec)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=30)))
    decoder = FrameDecoder(spec)
    got = []
    for start, stop in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        if start < stop:
            got += decoder.feed(wire[start:stop])
    got += decoder.feed(b"")
    assert got == payloads
    assert decoder.buffered_bytes == 0


@given(
    before=payload_lists,
    oversize=st.integers(11, 2**32 - 1),
    after=st.binary(max_size=50),
    data=st.data(),
)
@settings(deadline=None)
def test_oversize_frame_is_never_delivered(
    before: list[bytes], oversize: int, after: bytes, data: st.DataObject
) -> None:
    spec = FramingSpec(max_frame_length=300)
    oversize = max(oversize, 301)
    wire = encode_frames(before, spec) + oversize.to_bytes(4, "little") + after
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    decoder = FrameDecoder(spec)
    got = []
    with pytest.raises(FrameTooLarge):
        for start, stop in zip([0, *cuts], [*cuts, len(wire)], strict=True):
            if start < stop:
                got += decoder.feed(wire[start:stop])
                assert decoder.buffered_bytes <= 300
        decoder.feed(b"")
    assert got == before


def test_frame_bytes_missing_tells_a_reader_how_much_completes_the_frame() -> None:
    decoder = FrameDecoder()
    assert decoder.frame_bytes_missing == 0
    decoder.receive_data(b"\x0a\x00")
    assert decoder.frame_bytes_missing == 2  # the rest of the header
    decoder.receive_data(b"\x00\x00abc")
    assert decoder.frame_bytes_missing == 7  # the rest of the body
    decoder.receive_data(b"defghij")
    assert decoder.frames() == [b"abcdefghij"]
    assert decoder.frame_bytes_missing == 0


def test_a_read_that_is_exactly_a_body_is_handed_over_without_a_copy() -> None:
    body = b"z" * 300_000
    decoder = FrameDecoder()
    assert decoder.feed(len(body).to_bytes(4, "little")) == []
    (frame,) = decoder.feed(body)
    assert frame is body
