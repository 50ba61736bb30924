"""Values encoded by the real libraries, decoded by ours: same value, and every leaf's
bytes (its span) decode on their own to that leaf's value, every key's to that key."""

from __future__ import annotations

import dataclasses
import json
import math

import cbor2
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from decoders import Kind, Node, decode
from decoders.tree import DEFAULT_LIMITS, SUMMARY_LIMITS

# Few examples of modest size: the round trips are cheap, the suite's time is not.
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_finite = st.floats(allow_nan=False)
_json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | _finite | st.text()
_msgpack_scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _finite | st.text() | st.binary()
)
_cbor_scalars = (
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | _finite | st.text() | st.binary()
)


def _values(
    scalars: st.SearchStrategy[object], keys: st.SearchStrategy[object]
) -> st.SearchStrategy[object]:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=6) | st.dictionaries(keys, inner, max_size=6),
        max_leaves=25,
    )


#: A clock that never moves: a decode given it never runs out of time, however loaded the
#: machine, so what a test checks is what the other limits let through.
UNTIMED = {"clock": lambda: 0.0}


JSON_VALUES = _values(_json_scalars, st.text(max_size=8))
MSGPACK_VALUES = _values(_msgpack_scalars, st.text(max_size=8) | st.integers(-1000, 1000))
CBOR_VALUES = _values(_cbor_scalars, st.text(max_size=8) | st.integers(-1000, 1000))


def rebuild(node: Node) -> object:
    """The Python value a tree stands for (maps keyed by their real keys)."""
    assert node.kind is not Kind.ERROR, node.value
    if node.kind is Kind.ARRAY:
        return [rebuild(c) for c in node.children]
    if node.kind is Kind.MAP:
        return {c.key: rebuild(c) for c in node.children}
    return node.value


def check_spans(root: Node, payload: bytes, loads) -> None:
    for node in root.walk():
        assert node.span is not None, node
        assert 0 <= node.span.offset <= node.span.end <= len(payload)
        if node.kind is Kind.SCALAR:
            assert same(loads(payload[node.span.offset : node.span.end]), node.value)
        if node.key_span is not None:
            assert same(loads(payload[node.key_span.offset : node.key_span.end]), node.key)
    assert (root.span.offset, root.span.end) == (0, len(payload)) or loads is json.loads


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


@FAST
@given(JSON_VALUES, st.booleans())
def test_json_round_trip_and_leaf_spans(value, pretty):
    payload = json.dumps(value, indent=2 if pretty else None, ensure_ascii=pretty).encode()
    decoded = decode(payload, "json")
    assert decoded.ok
    assert rebuild(decoded.root) == json.loads(payload)
    check_spans(decoded.root, payload, json.loads)


@FAST
@given(MSGPACK_VALUES)
def test_msgpack_round_trip_and_leaf_spans(value):
    payload = msgpack.packb(value, use_bin_type=True)
    decoded = decode(payload, "msgpack")
    assert rebuild(decoded.root) == value
    check_spans(decoded.root, payload, lambda b: msgpack.unpackb(b, strict_map_key=False))


@FAST
@given(CBOR_VALUES, st.booleans())
def test_cbor_round_trip_and_leaf_spans(value, canonical):
    payload = cbor2.dumps(value, canonical=canonical)
    decoded = decode(payload, "cbor")
    assert rebuild(decoded.root) == value
    check_spans(decoded.root, payload, cbor2.loads)


def test_cbor_indefinite_containers_and_tags():
    # [_ 1, {_ "a": 2}] wrapped in tag 55799 (self-described CBOR); a date (tag 1)
    payload = bytes.fromhex("d9d9f7") + bytes.fromhex("9f01bf616102ffff")
    decoded = decode(payload, "cbor")
    assert decoded.root.kind is Kind.TAGGED and decoded.root.value == 55799
    inner = decoded.root.children[0]
    assert rebuild(inner) == [1, {"a": 2}]
    assert (inner.span.offset, inner.span.length) == (3, 8)
    dated = decode(bytes.fromhex("c11a514b67b0"), "cbor").root
    assert dated.kind is Kind.SCALAR and dated.type == "tag 1" and dated.value.year == 2013


def test_json_spans_count_bytes_not_characters():
    payload = '{"name": "chloé ✓", "n": 7}'.encode()
    root = decode(payload, "json").root
    n = next(c for c in root.children if c.key == "n")
    assert payload[n.span.offset : n.span.end] == b"7"


@pytest.mark.parametrize(
    ("decoder", "payload", "offset", "words"),
    [
        ("json", b'{"a": [1, 2,]}', 12, "value"),
        ("json", b'{"a": "\xff"}', 7, "UTF-8"),
        ("msgpack", b"\x92\xa5ab", 1, "truncated"),
        ("msgpack", b"\x01\x02", 1, "after the value"),
        ("msgpack", b"\xdd\xff\xff\xff\xff\x01", 0, "4,294,967,295 items in 1 bytes"),
        ("msgpack", b"\xc1", 0, ""),
        ("cbor", b"\x82\x65ab", 1, "premature end"),
        ("cbor", b"\x9b" + b"\xff" * 8 + b"\x00", 0, "items in 1 bytes"),
        ("cbor", b"\x1c", 0, "invalid initial byte 0x1c"),
        ("protobuf", b"\x08", 1, "truncated varint"),
        ("protobuf", b"\x0f\x00", 0, "invalid wire type 7"),
        ("protobuf", b"\x12\x05ab", 0, "runs past the end"),
    ],
)
def test_a_payload_that_does_not_decode_is_an_error_node_with_offset_and_raw_bytes(
    decoder, payload, offset, words
):
    decoded = decode(payload, decoder)
    assert not decoded.ok
    assert decoded.root.span.offset == offset
    assert words in decoded.root.value
    assert decoded.root.children[0].value == payload


def test_limits_fold_long_containers_with_a_count_and_span():
    limits = dataclasses.replace(DEFAULT_LIMITS, **UNTIMED)
    payload = msgpack.packb(list(range(5000)))
    root = decode(payload, "msgpack", limits).root
    assert len(root.children) == DEFAULT_LIMITS.max_children + 1
    more = root.children[-1]
    assert more.kind is Kind.MORE and more.value == "4,000 more"
    assert more.span.end == len(payload) == root.span.end
    for decoder, encoded in (
        ("cbor", cbor2.dumps(list(range(5000)))),
        ("json", json.dumps(list(range(5000))).encode()),
    ):
        tail = decode(encoded, decoder, limits).root.children[-1]
        assert tail.value == "4,000 more", decoder


def test_limits_fold_deep_nesting_and_keep_going():
    deep: object = 1
    for _ in range(100):
        deep = [deep]
    for decoder, payload in (
        ("msgpack", msgpack.packb([deep, 2])),
        ("cbor", cbor2.dumps([deep, 2])),
        ("json", json.dumps([deep, 2]).encode()),
    ):
        root = decode(payload, decoder).root
        assert rebuild(root.children[1]) == 2, decoder  # the sibling after the fold is there
        folded = [n for n in root.walk() if n.kind is Kind.MORE]
        assert len(folded) == 1 and "nested deeper than 64 levels" in folded[0].value, decoder


def test_a_summary_decode_reads_only_what_it_shows():
    summary_limits = dataclasses.replace(SUMMARY_LIMITS, **UNTIMED)
    complete_limits = dataclasses.replace(DEFAULT_LIMITS, **UNTIMED)
    values = [{"seq": i, "op": "move"} for i in range(2_000)]
    for decoder, payload in (
        ("msgpack", msgpack.packb(values)),
        ("cbor", cbor2.dumps(values)),
        ("json", json.dumps(values).encode()),
        ("protobuf", b"\x08\x01" * 2_000),
    ):
        root = decode(payload, decoder, summary_limits).root
        assert root.kind is not Kind.ERROR, decoder
        assert sum(1 for _ in root.walk()) < 100, decoder
        assert root.children[-1].kind is Kind.MORE, decoder
        # bytes past what is shown are not read, so their problems go unnoticed there
        if decoder != "json":  # (json checks the whole text first, at C speed)
            assert decode(payload + b"\xc1", decoder, summary_limits).ok, decoder
        assert not decode(payload + b"\xc1", decoder, complete_limits).ok, decoder
