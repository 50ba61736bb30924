"""The sans-IO MessagePack-RPC codec: exact bytes, incremental feeding, every bad input."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings, strategies as st

from ipc.codec import (
    MAX_MESSAGE_BYTES,
    BadMessage,
    ErrorInfo,
    Message,
    MessageDecoder,
    Notification,
    ProtocolViolation,
    Request,
    Response,
    UnknownMethod,
    decode_command,
    decode_event,
    encode,
    encode_notification,
    encode_request,
    encode_response,
    from_wire,
    to_wire,
)
from ipc.errors import LocalProtocolError, SchemaError
from ipc.schema import Ping, Received, Send

# (message, exact bytes): the wire format other languages must produce.
SIMPLE_CASES: list[tuple[Message, bytes]] = [
    (Request(1, "ping", {"token": 7}), b"\x94\x00\x01\xa4ping\x91\x81\xa5token\x07"),
    (Response(1, None, {}), b"\x94\x01\x01\xc0\x80"),
    (
        Response(2, ErrorInfo("UnknownSession", "no"), None),
        b"\x94\x01\x02\x92\xaeUnknownSession\xa2no\xc0",
    ),
    (
        Notification("received", {"frames": [b"hi"]}),
        b"\x93\x02\xa8received\x91\x81\xa6frames\x91\xc4\x02hi",
    ),
]


def decode_all(decoder: MessageDecoder) -> list[Message | BadMessage]:
    """Every message and BadMessage the buffered bytes produce, in order."""
    out: list[Message | BadMessage] = []
    while True:
        try:
            msg = decoder.next_message()
        except BadMessage as exc:
            out.append(exc)
            continue
        if msg is None:
            return out
        out.append(msg)


@pytest.mark.parametrize(("msg", "wire"), SIMPLE_CASES)
def test_encode_gives_exact_bytes(msg: Message, wire: bytes) -> None:
    assert encode(msg) == wire


@pytest.mark.parametrize(("msg", "wire"), SIMPLE_CASES)
def test_decoder_fed_byte_by_byte_yields_the_message_once(msg: Message, wire: bytes) -> None:
    decoder = MessageDecoder()
    seen: list[Message | BadMessage] = []
    for i in range(len(wire)):
        decoder.receive_data(wire[i : i + 1])
        seen += decode_all(decoder)
        if i < len(wire) - 1:
            assert seen == []
    assert seen == [msg]
    assert decoder.buffered_bytes == 0


def test_to_wire_and_from_wire_are_inverse() -> None:
    for msg, _ in SIMPLE_CASES:
        assert from_wire(to_wire(msg)) == msg


def test_decode_command_and_event_give_schema_values() -> None:
    assert decode_command(Request(3, "ping", {"token": 4})) == Ping(token=4)
    event = decode_event(Notification("received", {"session_id": 1, "frames": [b"a"], "at": 1}))
    assert event == Received(session_id=1, frames=[b"a"], at=1)


def test_unknown_event_decodes_to_none_and_unknown_method_raises() -> None:
    assert decode_event(Notification("from_the_future", {})) is None
    with pytest.raises(UnknownMethod):
        decode_command(Request(1, "no_such_method", {}))


def test_extra_params_keys_are_ignored() -> None:
    assert decode_command(Request(1, "ping", {"token": 1, "new_field": "x"})) == Ping(token=1)


@pytest.mark.parametrize(
    ("obj", "msgid"),
    [
        (5, None),
        ([], None),
        ([9, 1, "x", []], None),
        ([0, -1, "ping", []], None),
        ([0, 2**32, "ping", []], None),
        ([0, 4, 5, []], 4),
        ([0, 4, "ping", "params"], 4),
        ([0, 4, "ping", [5]], 4),
        ([0, 4, "ping"], 4),
        ([1, 4, "not an error pair", None], 4),
        ([2, 3, []], None),
        ([True, 4, "ping", []], None),
    ],
)
def test_wrong_shapes_raise_bad_message_with_the_msgid_when_known(
    obj: object, msgid: int | None
) -> None:
    with pytest.raises(BadMessage) as info:
        from_wire(obj)
    assert info.value.msgid == msgid
    assert isinstance(info.value, SchemaError)


def test_wrong_param_types_raise_schema_error() -> None:
    with pytest.raises(SchemaError, match="session_id"):
        decode_command(Request(1, "send", {"session_id": "one", "frames": []}))
    with pytest.raises(SchemaError, match="frames"):
        decode_command(Request(1, "send", {"session_id": 1, "frames": ["text, not bytes"]}))


def test_a_wrong_value_in_code_is_a_local_error_with_a_bounded_message() -> None:
    with pytest.raises(LocalProtocolError) as info:
        Send(session_id=1, frames=["text, not bytes"] * 100_000)  # type: ignore[list-item]
    assert not isinstance(info.value, SchemaError)
    assert str(info.value).startswith("Send.frames: ['text, not bytes'")
    assert len(str(info.value)) < 200  # a repr of the whole list would be 1.7 MB


def test_garbage_breaks_the_stream_and_the_decoder_stays_broken() -> None:
    decoder = MessageDecoder()
    good = encode_request(10, "ping", {"token": 10})
    decoder.receive_data(good + b"hello, engine\n" + good)
    assert decoder.next_message() == Request(10, "ping", {"token": 10})
    with pytest.raises(ProtocolViolation) as info:
        decoder.next_message()
    assert (info.value.kind, info.value.offset) == ("not_a_message", len(good))
    assert "an integer" in str(info.value)  # 'h' is a positive fixint
    assert decoder.broken is not None and decoder.buffered_bytes == 0
    decoder.receive_data(good)  # dropped: nothing after a violation is read
    with pytest.raises(ProtocolViolation) as again:
        decoder.next_message()
    assert (again.value.kind, again.value.offset) == ("not_a_message", len(good))
    assert decoder.buffered_bytes == 0


@pytest.mark.parametrize(
    ("what", "raw", "msgid"),
    [
        ("invalid UTF-8", b"\x94\x00\x08\xa4ping\x91\x81\xa5token\xa2\xff\xfe", 8),
        ("an int map key", b"\x94\x00\x09\xa4ping\x91\x81\x01\x02", 9),
        ("a bad timestamp", b"\x94\x00\x0c\xa4ping\x91\x81\xa5token\xd5\xff\x00\x00", 12),
        ("nested bad UTF-8", b"\x91\x91\xa1\xff", None),
    ],
)
@pytest.mark.parametrize("piece", [1, 3, 1000])
def test_a_value_msgpack_cannot_decode_costs_only_its_message(
    what: str, raw: bytes, msgid: int | None, piece: int
) -> None:
    data = raw + encode_request(14, "ping", {"token": 14})
    decoder = MessageDecoder()
    out: list[Message | BadMessage] = []
    for i in range(0, len(data), piece):
        decoder.receive_data(data[i : i + piece])
        out += decode_all(decoder)
    assert len(out) == 2
    assert isinstance(out[0], BadMessage) and out[0].msgid == msgid
    assert "undecodable" in str(out[0])
    assert out[1] == Request(14, "ping", {"token": 14})
    assert decoder.buffered_bytes == 0


def test_encoding_too_large_a_message_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        encode_request(1, "send", Send(session_id=1, frames=[b"x" * MAX_MESSAGE_BYTES]).to_params())
    with pytest.raises(LocalProtocolError):
        encode_response(2**32, None, {})
    with pytest.raises(LocalProtocolError):
        encode_notification("x", {"bad": object()})


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2000), cut=st.integers(min_value=1, max_value=64))
def test_fuzz_decoder_yields_messages_bad_messages_or_one_violation(data: bytes, cut: int) -> None:
    decoder = MessageDecoder()
    for i in range(0, len(data), cut):
        decoder.receive_data(data[i : i + cut])
        try:
            for item in decode_all(decoder):  # anything else propagates and fails the test
                assert isinstance(item, Request | Response | Notification | BadMessage)
        except ProtocolViolation as exc:
            assert 0 <= exc.offset < len(data)
            assert decoder.broken is not None and decoder.buffered_bytes == 0
            return


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text()
    | st.binary(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=msgpack_values, prefix=st.sampled_from([[], [0, 1], [1, 1], [2], [0, 1, "ping"]]))
def test_fuzz_structured_values_yield_messages_or_bad_message(
    value: object, prefix: list[object]
) -> None:
    decoder = MessageDecoder()
    decoder.receive_data(msgpack.packb([*prefix, value]) + encode_request(99, "ping", {}))
    out = decode_all(decoder)
    assert out[-1] == Request(99, "ping", {})
    assert all(isinstance(x, Request | Response | Notification | BadMessage) for x in out)


@settings(max_examples=100, deadline=None)
@given(
    frames=st.lists(st.binary(max_size=300), max_size=50),
    splits=st.lists(st.integers(min_value=0, max_value=20000), max_size=8),
)
def test_round_trip_for_any_split_of_the_bytes(frames: list[bytes], splits: list[int]) -> None:
    msgs: list[Message] = [
        Request(1, "send", {"session_id": 1, "frames": frames}),
        Notification("received", {"session_id": 2, "frames": frames, "at": 1.5}),
        Response(1, None, {"frames": len(frames)}),
    ]
    data = b"".join(encode(m) for m in msgs)
    decoder = MessageDecoder()
    out: list[Message | BadMessage] = []
    last = 0
    for cut in sorted({min(s, len(data)) for s in splits} | {len(data)}):
        decoder.receive_data(data[last:cut])
        last = cut
        out += decode_all(decoder)
    assert out == msgs
