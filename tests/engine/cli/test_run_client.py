"""The connect mode in-process (``run_client`` against tiny in-test servers): what is
printed and when a run ends, without a subprocess per case (issue 17, items 4, 6, 8, 9)."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
import trio

from engine.cli.connect import _hint_stalled_frame, run_client
from engine.cli.exits import ReplyTimeout
from engine.cli.parse import build_parser
from engine.cli.plan import Plan, make_plan
from engine.session import PartialFrame
from ipc.diagnosis import Diagnosis
from ipc.framing import DEFAULT, PRESETS, FrameDecoder, encode_frame, encode_frames
from tests.engine.helpers import echo, sleep_forever, start_server, until_client_leaves

DEADLINE = 10


def plan_of(*argv: str) -> Plan:
    return make_plan(build_parser().parse_args(list(argv)))


async def run(plan: Plan) -> bytes:
    out = io.BytesIO()
    with trio.fail_after(DEADLINE):
        await run_client(plan, out)
    return out.getvalue()


def leaf(group: BaseException) -> BaseException:
    while isinstance(group, BaseExceptionGroup):
        group = group.exceptions[0]
    return group


@until_client_leaves
async def three_per_frame(stream: trio.SocketStream) -> None:
    """Answer each frame with three frames, all in one write."""
    decoder = FrameDecoder(DEFAULT)
    async for data in stream:
        for frame in decoder.feed(data):
            await stream.send_all(encode_frames([frame + b"1", frame + b"2", frame + b"3"]))


async def test_without_count_one_frame_is_printed_per_frame_sent(nursery: trio.Nursery) -> None:
    """Item 6: 2 sent, 6 came (in one read or several): 2 printed, whatever the reads."""
    port = await start_server(nursery, three_per_frame)
    out = await run(plan_of(f"127.0.0.1:{port}", "--send", "a", "--send", "b", "--timestamps",
                            "none"))  # fmt: skip
    assert out == b"< a1\n< a2\n"


async def test_count_prints_exactly_that_many(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, three_per_frame)
    out = await run(plan_of(f"127.0.0.1:{port}", "--send", "a", "--count", "4",
                            "--send", "b", "--timestamps", "none"))  # fmt: skip
    assert out == b"< a1\n< a2\n< a3\n< b1\n"


async def test_a_silent_server_times_out_by_default_with_a_hint(nursery: trio.Nursery) -> None:
    """Item 4: a run that sent a frame gives up when no reply came (10 s by default; a
    shorter default here), saying how to wait longer."""
    port = await start_server(nursery, sleep_forever)
    plan = dataclasses.replace(plan_of(f"127.0.0.1:{port}", "--send", "x"), reply_timeout=0.2)
    with pytest.raises(BaseException) as raised:
        await run(plan)
    error = leaf(raised.value)
    assert isinstance(error, ReplyTimeout)
    assert str(error) == (
        "no reply within 0.2 s: received 0 of 1 expected frames: nothing came back (does the "
        "server speak le32? see --framing); wait longer with --timeout S, "
        "or --timeout 0 to wait forever"
    )


async def test_the_reply_timeout_restarts_with_every_frame(nursery: trio.Nursery) -> None:
    """Replies that keep coming, each within the timeout, never time out the run, however
    long it takes in all."""

    # 6 x 0.2 s outlasts the 1 s timeout, and each gap leaves it 0.8 s to spare, which a
    # loaded machine would have to stall this process most of a second to use up.
    @until_client_leaves
    async def slow_replies(stream: trio.SocketStream) -> None:
        await stream.receive_some()
        for i in range(6):
            await trio.sleep(0.2)
            await stream.send_all(encode_frame(b"%d" % i))

    port = await start_server(nursery, slow_replies)
    plan = plan_of(f"127.0.0.1:{port}", "--send", "go", "--count", "6", "--timestamps", "none")
    out = await run(dataclasses.replace(plan, reply_timeout=1.0))
    assert out == b"< 0\n< 1\n< 2\n< 3\n< 4\n< 5\n"


async def test_raw_output_is_the_payloads_alone(nursery: trio.Nursery, tmp_path: Path) -> None:
    """Items 8 and 9: a binary file with newlines goes as one frame; raw output is bytes."""
    blob = bytes(range(256)) + b"\n\r\n"
    path = tmp_path / "blob.bin"
    path.write_bytes(blob)
    port = await start_server(nursery, echo)
    out = await run(plan_of(f"127.0.0.1:{port}", "--file-frame", str(path), "--send", "x",
                            "--output", "raw"))  # fmt: skip
    assert out == b"re:" + blob + b"re:x"


async def test_text_escapes_binary_and_hexdump_shows_both(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo)
    out = await run(plan_of(f"127.0.0.1:{port}", "--send-hex", "de ad be ef", "--timestamps",
                            "none"))  # fmt: skip
    assert out == b"< re:\\xde\\xad\\xbe\\xef\n"
    out = await run(plan_of(f"127.0.0.1:{port}", "--send-hex", "de ad be ef", "--timestamps",
                            "none", "--output", "hexdump"))  # fmt: skip
    assert out.decode().splitlines() == [
        "< 7 bytes",
        "  00000000  72 65 3a de ad be ef" + " " * 28 + " re:....",
    ]


class StalledLink:
    """A ``SessionLink`` whose session holds ``partial``, with ``diagnosis`` to say."""

    def __init__(self, partial: PartialFrame | None, diagnosis: Diagnosis | None) -> None:
        self.partial = partial
        self.diagnosis = diagnosis

    def partial_frame(self, session_id: int) -> PartialFrame | None:
        return self.partial

    def diagnose(self, session_id: int) -> Diagnosis | None:
        return self.diagnosis


BE16_GUESS = Diagnosis(kind="framing", summary="as be16, these 66 bytes are 3 whole frames",
                       suggestion="be16")  # fmt: skip
STALL_HINT = (
    "framewire-engine: no byte for 3 s in the middle of a frame (66 bytes of it received, "
    "at least 5,058 more expected): as be16, these 66 bytes are 3 whole frames: try "
    "--framing be16\n"
)


async def watch(link: StalledLink, seconds: float) -> None:
    """Run the stalled-frame watcher on ``link`` for ``seconds`` (of the mock clock)."""
    with trio.move_on_after(seconds):
        await _hint_stalled_frame(link, 1, trio.CancelScope())  # type: ignore[arg-type]


async def test_a_frame_stalled_for_3_s_gets_one_hint_with_what_the_bytes_say(
    autojump_clock: trio.testing.MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    link = StalledLink(PartialFrame(66, 5058), BE16_GUESS)
    await watch(link, 3.0)
    assert capsys.readouterr().err == ""  # not yet: it is seen first at 0.5 s
    await watch(link, 60.0)
    assert capsys.readouterr().err == STALL_HINT  # once, and the watcher is done
    # bytes that keep coming are no stall; bytes that say nothing get no hint
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch, link, 60.0)
        for received in range(67, 127):
            link.partial = PartialFrame(received, 5058 - received)
            await trio.sleep(1.0)
    await watch(StalledLink(PartialFrame(66, 5058), None), 60.0)
    await watch(StalledLink(None, BE16_GUESS), 60.0)
    assert capsys.readouterr().err == ""


async def test_a_run_with_the_wrong_framing_that_waits_for_frames_is_told_which_reads_them(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A be16 server streams 3 frames to a le32 run that sends nothing: le32 takes
    ``00 14 00 00`` for 5,120 bytes and waits; after 3 s it says so, and waits on."""
    be16 = PRESETS["be16"]

    @until_client_leaves
    async def stream_be16(stream: trio.SocketStream) -> None:
        # as the demo server's --stream 3 --size 20: a big-endian count, then x's
        frames = [n.to_bytes(8, "big") + b"x" * 12 for n in range(3)]
        await stream.send_all(encode_frames(frames, be16))
        await trio.sleep_forever()

    port = await start_server(nursery, stream_be16)
    with pytest.raises(BaseException) as raised:
        await run(plan_of(f"127.0.0.1:{port}", "--count", "3", "--timeout", "8"))
    error = leaf(raised.value)
    assert isinstance(error, ReplyTimeout) and str(error).startswith("timed out after 8 s")
    assert capsys.readouterr().err == (
        "framewire-engine: no byte for 3 s in the middle of a frame (66 bytes of it received, "
        "at least 5,058 more expected): as be16, these 66 bytes are 3 whole frames (mqtt fits "
        "them too): try --framing be16\n"
    )
