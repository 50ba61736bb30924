"""decode(): auto's choices, setting decoders up, never raising, and the time bound."""

from __future__ import annotations

import itertools
import json

import cbor2
import msgpack
import pytest

from decoders import (
    DECODER_NAMES,
    DecoderConfigError,
    Kind,
    Limits,
    decode,
    decoder_for,
    is_internal_error,
    summary,
)
from decoders.tree import Budget
from tools.bench.decoders import random_payloads
from tools.demo_messages import (
    DEMO_MESSAGE_NAME,
    descriptor_set_bytes,
    sample_payload,
)


@pytest.mark.parametrize(
    ("payload", "chosen"),
    [
        (b'{"op": "login"}', "json"),
        (b" [1, 2] ", "json"),
        (b"7", "json"),
        (msgpack.packb({"op": "login", "seq": 7}), "msgpack"),
        (msgpack.packb([1, 2, 3]), "msgpack"),
        (cbor2.dumps({"op": "login", "seq": 7}), "cbor"),  # a1 62 6f 70: also not msgpack
        (cbor2.dumps([b"\x00", 1.5]), "cbor"),
        (sample_payload("protobuf", 1), "protobuf"),
        (b"hello, client! you said: hello", "text"),
        (b"ab", "text"),  # valid CBOR (the string "b"), but a word
        (b"hi", "text"),  # a valid protobuf message (13: 105), but a word
        ("chloé\n".encode(), "text"),
        (b"", "text"),
        (b"\x00\xff\x10", "hex"),
        (b"\x92\x01", "hex"),  # a msgpack array that does not end
    ],
)
def test_auto_takes_the_first_format_that_fits_the_whole_payload(payload, chosen):
    decoded = decode(payload)
    assert decoded.decoder == chosen
    assert decoded.ok


def test_auto_names_the_decoder_it_chose_and_uses_a_protobuf_schema_when_given(tmp_path):
    schema = tmp_path / "demo.desc"
    schema.write_bytes(descriptor_set_bytes())
    auto = decoder_for("auto", proto_descriptor=schema, proto_message=DEMO_MESSAGE_NAME)
    decoded = decode(sample_payload("protobuf", 1), auto)
    assert decoded.decoder == "protobuf"
    assert summary(decoded).startswith('{op: "MOVE", user: "ben", seq: 1')


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"name": "yaml"}, "unknown decoder 'yaml'; choose one of auto, json"),
        ({"name": "layout"}, "needs a layout: --layout FILE.py:NAME"),
        ({"name": "json", "layout": "x.py:M"}, "a layout is a decoder of its own"),
        ({"name": "protobuf", "proto_message": "a.B"}, "needs both"),
        (
            {"name": "protobuf", "proto_descriptor": "nope.desc", "proto_message": "a.B"},
            "cannot read nope.desc",
        ),
        ({"layout": "no_colon.py"}, "expected FILE.py:NAME"),
        ({"layout": "missing.py:M"}, "does not exist"),
    ],
)
def test_decoder_set_up_errors_say_what_to_fix(kwargs, words):
    with pytest.raises(DecoderConfigError, match=None) as info:
        decoder_for(**kwargs)
    assert words in str(info.value)


def test_random_bytes_through_every_decoder_never_raise_nor_hit_a_decoder_bug(tmp_path):
    # 50,000 strings dealt round the nine decoders (~5,500 each) keeps this near 1.5 s;
    # `make bench` (decoders) sends 100,000 through every decoder and times each one.
    schema = tmp_path / "demo.desc"
    schema.write_bytes(descriptor_set_bytes())
    decoders = [decoder_for(name) for name in DECODER_NAMES] + [
        decoder_for("protobuf", proto_descriptor=schema, proto_message=DEMO_MESSAGE_NAME),
        decoder_for(layout="tools/demo_layout.py:MESSAGE"),
    ]
    decoded_ok = [0] * len(decoders)
    for index, payload in enumerate(random_payloads(50_000)):
        which = index % len(decoders)
        decoded = decode(payload, decoders[which])  # an exception here fails the test
        assert not is_internal_error(decoded), (
            decoders[which].name,
            payload.hex(),
            decoded.root.value,
        )
        decoded_ok[which] += decoded.ok
    # the sweep reaches every decoder's success paths too, not only its first-byte errors
    assert min(decoded_ok) > 100, decoded_ok


def test_a_decode_stops_when_its_time_is_up_and_says_where():
    ticks = itertools.count()
    clock = lambda: next(ticks) / 1000  # noqa: E731 (1 ms per clock read)
    for decoder, payload in (
        ("msgpack", msgpack.packb([{"k": i} for i in range(20_000)])),
        ("cbor", cbor2.dumps([{"k": i} for i in range(20_000)])),
        ("json", json.dumps([{"k": i} for i in range(20_000)]).encode()),
        ("protobuf", b"\x08\x01" * 20_000),
    ):
        root = decode(
            payload, decoder, Limits(max_seconds=0.05, max_children=50_000, clock=clock)
        ).root
        stopped = root.children[-1]
        assert stopped.kind is Kind.MORE and stopped.value.startswith("stopped after"), decoder
        assert sum(1 for _ in root.walk()) < 3 * 50 * Budget.CHECK_EVERY, decoder  # not 60,000
        assert stopped.span.end == len(payload)
