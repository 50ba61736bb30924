"""Size bombs: every declared size and count is checked when its header arrives.

Each bomb is a header that declares more than its limit (or more than the message has
room for), placed where a real message would hold it, followed by ordinary pings. The
decoder must refuse it at once -- before the payload it declares arrives, with nothing
buffered for it -- name the offset of the header, and stay broken. A header at its limit
is legal: the bytes after it are its payload, and the stream goes on after them.
"""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings, strategies as st

from ipc.codec import (
    DEFERRED_CHECK_BYTES,
    MAX_ARRAY_LEN,
    MAX_BIN_LEN,
    MAX_DEPTH,
    MAX_EXT_LEN,
    MAX_MAP_LEN,
    MAX_MESSAGE_BYTES,
    MAX_STR_LEN,
    BadMessage,
    Message,
    MessageDecoder,
    ProtocolViolation,
    Request,
    encode_request,
)
from ipc.header_guard import HeaderGuard

PING = encode_request(99, "ping", {"token": 99})
PINGS = PING * 400  # ~8 KB of ordinary traffic after each bomb

# Where a bomb sits: the bytes before its header. Each opens the containers a real
# message has there; the last is four levels deep.
PREFIXES = {
    "top level": b"",
    "a param": b"\x94\x00\x07\xa4ping\x91\x81\xa5token",
    "a frame": b"\x93\x02\xa8received\x91\x81\xa6frames\x91",
    "a nested frame": b"\x94\x00\x07\xa4send\x91\x81\xa6frames\x92\xc4\x01a\x91",
}


def header(first: int, width: int, n: int, ext_type: bool = False) -> bytes:
    return bytes([first]) + n.to_bytes(width, "big") + (b"\x05" if ext_type else b"")


# (name, header, the limit it is checked against, declared): over the limit.
OVER_THE_LIMIT = [
    ("bin32", header(0xC6, 4, 2**32 - 1), MAX_BIN_LEN),
    ("bin32 limit+1", header(0xC6, 4, MAX_BIN_LEN + 1), MAX_BIN_LEN),
    ("str32", header(0xDB, 4, 64 * 2**20), MAX_STR_LEN),
    ("str32 limit+1", header(0xDB, 4, MAX_STR_LEN + 1), MAX_STR_LEN),
    ("ext8", header(0xC7, 1, MAX_EXT_LEN + 1, ext_type=True), MAX_EXT_LEN),
    ("ext16", header(0xC8, 2, 65535, ext_type=True), MAX_EXT_LEN),
    ("ext32", header(0xC9, 4, 2**32 - 1, ext_type=True), MAX_EXT_LEN),
    ("array32", header(0xDD, 4, 2_000_000), MAX_ARRAY_LEN),
    ("array32 limit+1", header(0xDD, 4, MAX_ARRAY_LEN + 1), MAX_ARRAY_LEN),
    ("map16", header(0xDE, 2, 65535), MAX_MAP_LEN),
    ("map16 limit+1", header(0xDE, 2, MAX_MAP_LEN + 1), MAX_MAP_LEN),
    ("map32", header(0xDF, 4, 1_000_000), MAX_MAP_LEN),
]


def decode(data: bytes, *, piece: int | None = None) -> tuple[list[Message], MessageDecoder]:
    """Feed ``data`` (in pieces of ``piece`` bytes) and collect messages; a violation
    propagates."""
    decoder = MessageDecoder()
    out: list[Message] = []
    for i in range(0, len(data), piece or len(data) or 1):
        decoder.receive_data(data[i : i + (piece or len(data))])
        while (msg := decoder.next_message()) is not None:
            out.append(msg)
    return out, decoder


@pytest.mark.parametrize("where", [p for p in PREFIXES if p != "top level"])
@pytest.mark.parametrize(
    ("name", "bomb", "limit"), OVER_THE_LIMIT, ids=[b[0] for b in OVER_THE_LIMIT]
)
@pytest.mark.parametrize("piece", [None, 1, 4096])
def test_a_header_over_its_limit_breaks_the_stream_at_once(
    where: str, name: str, bomb: bytes, limit: int, piece: int | None
) -> None:
    prefix = PREFIXES[where]
    decoder = MessageDecoder()
    decoder.receive_data(prefix + bomb)  # the header alone: nothing of its payload yet
    with pytest.raises(ProtocolViolation) as info:
        while decoder.next_message() is not None:
            pass
    assert info.value.kind == "too_large"
    assert info.value.offset == len(prefix)
    assert f"{limit:,}" in str(info.value)
    assert decoder.buffered_bytes == 0
    assert info.value.msgid == (7 if prefix.startswith(b"\x94\x00\x07") else None)
    # The same however the bytes arrive, and the pings after it are never read.
    with pytest.raises(ProtocolViolation) as again:
        decode(prefix + bomb + PINGS, piece=piece)
    assert (again.value.kind, again.value.offset) == ("too_large", len(prefix))


@pytest.mark.parametrize(
    "bomb",
    [
        header(0xDB, 4, 64 * 2**20),  # str32
        header(0xC6, 4, 2**32 - 1),  # bin32
        header(0xDC, 2, 65535),  # array16
        header(0xDD, 4, 2_000_000),  # array32
        header(0xDE, 2, 1),  # map16
        b"\x05",  # a fixint
        b"\xc0",  # nil
    ],
)
def test_a_message_is_an_array_of_at_most_four_values(bomb: bytes) -> None:
    with pytest.raises(ProtocolViolation) as info:
        decode(bomb + PINGS, piece=3)
    assert (info.value.kind, info.value.offset) == ("not_a_message", 0)


@pytest.mark.parametrize(
    ("name", "bomb", "declared"),
    [
        ("bin32", header(0xC6, 4, MAX_BIN_LEN), MAX_BIN_LEN),
        ("str32", header(0xDB, 4, MAX_STR_LEN), MAX_STR_LEN),
        ("array32", header(0xDD, 4, MAX_ARRAY_LEN), MAX_ARRAY_LEN),
        ("map16", header(0xDE, 2, MAX_MAP_LEN), 2 * MAX_MAP_LEN),
    ],
)
def test_a_value_at_its_limit_that_cannot_fit_in_the_message_breaks_it(
    name: str, bomb: bytes, declared: int
) -> None:
    # Sixteen strs fill the message but for 1,000 bytes: the value after them (the last
    # of the array) would be legal on its own, but cannot fit.
    head = b"\x94\x00\x07\xa4send\x91\x81\xa6frames\xdc\x00\x11"
    filler = header(0xDB, 4, MAX_STR_LEN) + b"s" * MAX_STR_LEN
    rest = MAX_MESSAGE_BYTES - 1000 - len(head) - 15 * len(filler) - 5
    prefix = head + filler * 15 + header(0xDB, 4, rest) + b"s" * rest
    with pytest.raises(ProtocolViolation) as info:
        decode(prefix + bomb + PINGS, piece=65536)
    assert (info.value.kind, info.value.offset) == ("too_large", len(prefix))
    assert f"{MAX_MESSAGE_BYTES:,}" in str(info.value)


def test_a_count_the_rest_of_the_message_cannot_hold_breaks_it_at_its_header() -> None:
    # Each array is within MAX_ARRAY_LEN, but 128 of them nested wait for more than
    # 16 MiB of elements (one byte each at least) besides their headers: the 128th
    # header cannot fit.
    nested = header(0xDD, 4, MAX_ARRAY_LEN) * 128
    prefix = b"\x94\x00\x07\xa4send\x91"
    with pytest.raises(ProtocolViolation) as info:
        decode(prefix + nested + PINGS)
    assert info.value.kind == "too_large"
    assert info.value.offset == len(prefix) + 5 * 127


def test_many_small_values_past_the_message_size_break_it_where_it_overflows() -> None:
    frame = b"\xc4\xff" + b"f" * 255
    count = MAX_MESSAGE_BYTES // len(frame) + 10
    prefix = b"\x94\x00\x07\xa4send\x91\x81\xa6frames" + header(0xDD, 4, count)
    data = prefix + frame * count
    with pytest.raises(ProtocolViolation) as info:
        decode(data, piece=2**20)
    # The first frame that does not fit, with room for one byte per frame still to come.
    first_bad = next(
        k
        for k in range(count)
        if len(prefix) + (k + 1) * len(frame) + (count - k - 1) > MAX_MESSAGE_BYTES
    )
    assert (info.value.kind, info.value.offset) == (
        "too_large",
        len(prefix) + first_bad * len(frame),
    )


def test_nesting_deeper_than_msgpack_allows_breaks_the_stream() -> None:
    # The message, its params and the map are the first three containers of 1,024.
    prefix = PREFIXES["a param"]
    deep = prefix + b"\x91" * (MAX_DEPTH - 2) + b"\x01"
    with pytest.raises(ProtocolViolation) as info:
        decode(deep + PINGS, piece=100)
    assert (info.value.kind, info.value.msgid) == ("too_deep", 7)
    assert info.value.offset == len(prefix) + MAX_DEPTH - 3


def test_msgpacks_deepest_nesting_is_a_message() -> None:
    deepest = PREFIXES["a param"] + b"\x91" * (MAX_DEPTH - 3) + b"\x01"
    out, _ = decode(deepest + PING, piece=100)
    assert [m.msgid for m in out if isinstance(m, Request)] == [7, 99]


def test_the_reserved_byte_breaks_the_stream() -> None:
    with pytest.raises(ProtocolViolation) as info:
        decode(b"\x94\x00\x07\xc1" + PINGS)
    assert (info.value.kind, info.value.offset, info.value.msgid) == ("malformed", 3, 7)


@pytest.mark.parametrize(
    ("name", "bomb", "payload"),
    [
        ("str8", header(0xD9, 1, 255), 255),
        ("str16", header(0xDA, 2, 65535), 65535),
        ("str32 at the limit", header(0xDB, 4, MAX_STR_LEN), MAX_STR_LEN),
        ("bin8", header(0xC4, 1, 255), 255),
        ("bin16", header(0xC5, 2, 65535), 65535),
        ("bin32", header(0xC6, 4, 3 * 2**20), 3 * 2**20),
        ("ext16 at the limit", header(0xC8, 2, MAX_EXT_LEN, ext_type=True), MAX_EXT_LEN),
        ("fixext16", b"\xd8\x05", 16),
    ],
)
def test_a_size_within_the_limits_takes_exactly_its_bytes(
    name: str, bomb: bytes, payload: int
) -> None:
    # The bytes right after the header are the value's (pings, or text for a str: it
    # must be UTF-8); the stream goes on after them.
    prefix = PREFIXES["a param"]
    body = (
        b"p" * payload if name.startswith("str") else (PING * (payload // len(PING) + 1))[:payload]
    )
    decoder = MessageDecoder()
    decoder.receive_data(prefix + bomb + body[:10])
    assert decoder.next_message() is None  # waits for its payload: legal so far
    decoder.receive_data(body[10:] + PING)
    first = decoder.next_message()  # the ping it swallowed: a message with a bad token
    assert isinstance(first, Request) and first.msgid == 7
    assert decoder.next_message() == Request(99, "ping", {"token": 99})


@pytest.mark.parametrize(
    ("bomb", "count"),
    [(header(0xDC, 2, 65535), 65535), (header(0xDD, 4, MAX_ARRAY_LEN), MAX_ARRAY_LEN)],
)
def test_a_count_within_the_limits_takes_exactly_its_values(bomb: bytes, count: int) -> None:
    prefix = b"\x94\x00\x07\xa4send\x91\x81\xa6frames"
    out, decoder = decode(prefix + bomb + b"\xc4\x00" * count + PING, piece=65536)
    assert [type(m) for m in out] == [Request, Request]
    assert isinstance(out[0], Request) and out[0].params["frames"] == [b""] * count
    assert out[1] == Request(99, "ping", {"token": 99})
    assert decoder.buffered_bytes == 0


def test_a_bomb_costs_no_memory_for_what_it_declares() -> None:
    tracemalloc.start()
    try:
        decoder = MessageDecoder()
        decoder.receive_data(PREFIXES["a param"] + header(0xC6, 4, MAX_BIN_LEN))
        with pytest.raises(ProtocolViolation):
            decoder.next_message()
        for _ in range(64):  # 8 MB more: dropped, never buffered
            decoder.receive_data(PING * 6000)
            with pytest.raises(ProtocolViolation):
                decoder.next_message()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    assert decoder.buffered_bytes == 0


def test_the_guard_resumes_across_any_split_and_skips_payloads() -> None:
    data = encode_request(1, "send", {"session_id": 1, "frames": [b"x" * 70000, b"y" * 300]})
    guard = HeaderGuard(0)
    for end in range(1, len(data)):
        assert guard.advance(data[:end], 0) is None
        assert guard.pos <= end
    assert guard.advance(data, 0) == len(data)


# -- hypothesis over the header space

#: first byte -> (bytes of the count or length, what its limit is, type byte after it)
SIZED = {
    0xC4: (1, MAX_BIN_LEN, False), 0xC5: (2, MAX_BIN_LEN, False), 0xC6: (4, MAX_BIN_LEN, False),
    0xC7: (1, MAX_EXT_LEN, True), 0xC8: (2, MAX_EXT_LEN, True), 0xC9: (4, MAX_EXT_LEN, True),
    0xD9: (1, MAX_STR_LEN, False), 0xDA: (2, MAX_STR_LEN, False), 0xDB: (4, MAX_STR_LEN, False),
}  # fmt: skip
#: first byte -> (bytes of the count, its limit)
CONTAINERS = {0xDC: (2, MAX_ARRAY_LEN), 0xDD: (4, MAX_ARRAY_LEN)}
CONTAINERS |= {0xDE: (2, MAX_MAP_LEN), 0xDF: (4, MAX_MAP_LEN)}


def declared_sizes(width: int, limit: int) -> st.SearchStrategy[int]:
    top = 2 ** (8 * width) - 1
    near = [n for n in (limit - 1, limit, limit + 1, top) if 0 <= n <= top]
    return st.integers(0, min(top, 300)) | st.sampled_from(near) | st.integers(0, top)


@st.composite
def bombs(draw: st.DrawFn) -> tuple[bytes, bytes, int, bool]:
    """(prefix, header, declared size or count, whether it must be refused) for any sized
    or counted header at any of the positions."""
    where = draw(st.sampled_from([p for p in PREFIXES if p != "top level"]))
    prefix = PREFIXES[where]
    first = draw(st.sampled_from(sorted(SIZED | CONTAINERS)))
    if first in SIZED:
        width, limit, ext = SIZED[first]
        n = draw(declared_sizes(width, limit))
        raw = header(first, width, n, ext_type=ext)
        # Room: the message must fit its bytes so far, this value and a byte for each
        # value still expected around it (at most 2 here: a prefix's open containers).
        refuse = n > limit or len(prefix) + len(raw) + n > MAX_MESSAGE_BYTES
    else:
        width, limit = CONTAINERS[first]
        n = draw(declared_sizes(width, limit))
        raw = header(first, width, n)
        refuse = n > limit
    return prefix, raw, n, refuse


@settings(max_examples=400, deadline=None)
@given(bomb=bombs(), piece=st.sampled_from([None, 1, 2, 3, 5, 64]))
def test_any_header_is_refused_exactly_when_it_breaks_a_limit(
    bomb: tuple[bytes, bytes, int, bool], piece: int | None
) -> None:
    prefix, raw, declared, refuse = bomb
    try:
        out, decoder = decode(prefix + raw, piece=piece)
    except ProtocolViolation as exc:
        assert refuse, exc
        assert (exc.kind, exc.offset) == ("too_large", len(prefix))
    else:
        assert not refuse
        assert decoder.broken is None
        # A value waits for its bytes; an empty one ends the message.
        assert len(out) == (0 if declared else 1)


def outcomes(data: bytes, piece: int, *, pending: bool = False) -> list[object]:
    """What the decoder makes of ``data`` fed in pieces (each but the last said to have
    more pending, if ``pending``): messages, bad messages (their msgid) and the violation
    (kind and offset) that ends the stream."""
    decoder = MessageDecoder()
    seen: list[object] = []
    for i in range(0, len(data), piece):
        decoder.receive_data(data[i : i + piece], more_pending=pending and i + piece < len(data))
        while True:
            try:
                msg = decoder.next_message()
            except BadMessage as exc:
                seen.append(("bad", exc.msgid))
                continue
            except ProtocolViolation as exc:
                seen.append(("broken", exc.kind, exc.offset))
                return seen
            if msg is None:
                break
            seen.append(msg)
    return seen


pieces_of_messages = st.lists(
    st.sampled_from(
        [
            PING,
            encode_request(5, "send", {"session_id": 1, "frames": [b"z" * 300] * 3}),
            b"\x94\x00\x08\xa4ping\x91\x81\xa5token\xa2\xff\xfe",  # invalid UTF-8: bad
            b"\x94\x00\x09\xa4ping\x91\x81\x01\x02",  # an int map key: bad
            b"\x93\x05",  # [5, ...: a bad message once two more values came
            header(0xC6, 4, 2**31),
            header(0xDF, 4, 5000),
            b"\xc1",
            b"\x91" * 3,
        ]
    )
    | st.binary(max_size=40),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(parts=pieces_of_messages, piece=st.integers(1, 200), pending=st.booleans())
def test_the_verdict_does_not_depend_on_how_the_bytes_arrive(
    parts: list[bytes], piece: int, pending: bool
) -> None:
    # msgpack parses what fits in one piece; the guard checks what does not (at once, or
    # when the reader runs out of pending bytes). Both must judge every byte the same
    # way, whatever the reads were.
    data = b"".join(parts)
    assert outcomes(data, piece, pending=pending) == outcomes(data, len(data) or 1)


def test_a_reader_with_more_pending_lets_the_check_wait_but_not_forever() -> None:
    bomb = PREFIXES["a param"] + header(0xC6, 4, 2**32 - 1)
    decoder = MessageDecoder()
    decoder.receive_data(bomb + PINGS, more_pending=True)
    assert decoder.next_message() is None  # the next read may complete the message
    decoder.receive_data(b"")  # the reader ran out: now it is checked
    with pytest.raises(ProtocolViolation):
        decoder.next_message()
    # However much is said to be pending, no more than DEFERRED_CHECK_BYTES goes unchecked.
    decoder = MessageDecoder()
    decoder.receive_data(bomb, more_pending=True)
    with pytest.raises(ProtocolViolation):
        for _ in range(DEFERRED_CHECK_BYTES // len(PINGS) + 2):
            assert decoder.next_message() is None
            decoder.receive_data(PINGS, more_pending=True)
    assert decoder.buffered_bytes == 0
