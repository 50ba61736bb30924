"""The connect mode in-process (``run_client`` against tiny in-test servers): what is
printed and when a run ends, without a subprocess per case (issue 17, items 4, 6, 8, 9)."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
import trio

from engine.cli.connect import run_client
from engine.cli.exits import ReplyTimeout
from engine.cli.parse import build_parser
from engine.cli.plan import Plan, make_plan
from ipc.framing import DEFAULT, FrameDecoder, encode_frame, encode_frames
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
