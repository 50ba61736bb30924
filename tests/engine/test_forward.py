"""Passthrough forwarding: the bytes of the whole frames of each read, exactly as read."""

from __future__ import annotations

import itertools

from hypothesis import given, settings, strategies as st

from engine.forward import Forward
from ipc.errors import LocalProtocolError
from ipc.framing import PRESETS, FrameDecoder, encode_frame

# Payloads every preset can carry: long enough for any prefix or adjustment it has.
_payloads = st.lists(st.binary(min_size=12, max_size=300), min_size=1, max_size=20)


def _encodable(preset: str, payloads: list[bytes]) -> bytes | None:
    try:
        return b"".join(encode_frame(p, PRESETS[preset]) for p in payloads)
    except LocalProtocolError:  # a payload this preset cannot express (strip 0 and such)
        return None


@settings(max_examples=120, deadline=None)
@given(
    preset=st.sampled_from(sorted(PRESETS)),
    payloads=_payloads,
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    tail=st.integers(min_value=0, max_value=7),
)
def test_passthrough_forwards_exactly_the_bytes_of_whole_frames(
    preset: str, payloads: list[bytes], cuts: list[int], tail: int
) -> None:
    wire = _encodable(preset, payloads)
    if wire is None:
        return
    stream = wire + encode_frame(b"z" * 40, PRESETS[preset])[:tail]  # maybe a partial frame
    bounds = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    decoder = FrameDecoder(PRESETS[preset])
    forward = Forward(None, passthrough=True)
    forwarded, frames = b"", []
    for start, stop in itertools.pairwise(bounds):
        chunk = stream[start:stop]
        forward.tap(chunk)
        batch = decoder.feed(chunk)
        if batch:  # the reader delivers only reads that completed frames
            frames += batch
            forwarded += bytes(forward._take_wire(decoder))
    assert forwarded == wire  # nothing more (the partial frame waits), nothing less
    assert len(frames) == len(payloads)
