"""The connect mode as a user runs it: a real ``python -m engine`` subprocess against tiny
in-test servers on 127.0.0.1; every way a run ends, with its exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import trio

from ipc.framing import PRESETS, encode_frame, encode_frames
from tests.engine.cli.helpers import DEADLINE_SECONDS, ROOT, lines, payload, run_cli
from tests.engine.helpers import (
    echo,
    echo_with,
    refused_port,
    reply_then_close,
    sleep_forever,
    start_server,
    until_client_leaves,
)


async def test_classic_exchange_prints_the_reply_with_a_timestamp(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo)
    result = await run_cli(f"127.0.0.1:{port}", "--send", "hello")
    assert result.returncode == 0, result.stderr
    (line,) = lines(result.stdout)
    assert payload(line) == "re:hello"
    assert result.stderr == b""


async def test_file_lines_with_a_big_endian_preset(nursery: trio.Nursery, tmp_path: Path) -> None:
    port = await start_server(nursery, echo_with(PRESETS["be16"]))
    path = tmp_path / "frames.txt"
    path.write_bytes(b"one\r\ntwo\n")
    result = await run_cli(f"127.0.0.1:{port}", "--framing", "be16", "--file", str(path))
    assert result.returncode == 0, result.stderr
    assert [payload(line) for line in lines(result.stdout)] == ["re:one", "re:two"]


async def test_count_stops_after_n_frames_and_text_escapes_control_bytes(
    nursery: trio.Nursery,
) -> None:
    @until_client_leaves
    async def stream_forever(stream: trio.SocketStream) -> None:
        while True:
            await stream.send_all(encode_frames([b"line\n", b"\xff"]))

    port = await start_server(nursery, stream_forever)
    result = await run_cli(f"127.0.0.1:{port}", "--count", "3")
    assert result.returncode == 0, result.stderr
    assert [payload(line) for line in lines(result.stdout)] == [
        "line\\n",
        "\\xff",
        "line\\n",
    ]


async def test_listening_until_the_peer_closes(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, reply_then_close(encode_frames([b"a", b"b"])))
    result = await run_cli(f"127.0.0.1:{port}")
    assert result.returncode == 0, result.stderr
    assert len(lines(result.stdout)) == 2


async def test_refused_exits_3_with_one_line_on_stderr() -> None:
    sock, port = refused_port()
    with sock:
        result = await run_cli(f"127.0.0.1:{port}", "--send", "x")
    assert result.returncode == 3
    assert lines(result.stderr) == [
        f"framewire-engine: connection to 127.0.0.1:{port} refused (is the server running?)"
    ]


async def test_peer_closing_before_the_replies_exits_3(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, reply_then_close(b""))
    result = await run_cli(f"127.0.0.1:{port}", "--send", "x")
    assert result.returncode == 3
    assert lines(result.stderr) == [
        "framewire-engine: the peer closed the connection early: received 0 of 1 expected "
        "frames: the peer closed without sending anything (does the server speak le32? see "
        "--framing); or it speaks TLS: try --tls"
    ]


async def test_oversize_frame_exits_4(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, reply_then_close(encode_frame(b"x" * 100)))
    result = await run_cli(f"127.0.0.1:{port}", "--send", "x", "--max-frame", "10")
    assert result.returncode == 4
    assert lines(result.stderr) == ["framewire-engine: frame length 100 > max 10"]


async def test_no_reply_within_timeout_exits_5(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, sleep_forever)
    result = await run_cli(f"127.0.0.1:{port}", "--send", "x", "--timeout", "0.3")
    assert result.returncode == 5
    assert lines(result.stderr) == [
        "framewire-engine: timed out after 0.3 s: received 0 of 1 expected frames: nothing "
        "came back (does the server speak le32? see --framing)"
    ]


async def test_a_custom_spec_is_spelled_out_in_the_early_close_hint(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, reply_then_close(b""))
    result = await run_cli(
        f"127.0.0.1:{port}", "--send", "x", "--length-size", "2", "--length-includes-header"
    )
    assert result.returncode == 3
    assert (
        "the peer closed without sending anything (does the server speak "
        "le16,includes_header? see --framing)"
    ) in result.stderr.decode()


async def test_an_oversized_or_cut_frame_names_no_framing_its_few_bytes_do_not_show(
    nursery: trio.Nursery,
) -> None:
    """The demo server's !oversize and !truncate: the error says what happened, without a
    "try --framing le16" (or mqtt) that some framing's reading of 4 bytes suggested."""
    oversize = await start_server(nursery, reply_then_close((8 * 2**20 + 1).to_bytes(4, "little")))
    result = await run_cli(f"127.0.0.1:{oversize}", "--send", "x")
    assert result.returncode == 4
    assert lines(result.stderr) == ["framewire-engine: frame length 8388609 > max 8388608"]
    cut = await start_server(nursery, reply_then_close((100).to_bytes(4, "little") + b"x" * 48))
    result = await run_cli(f"127.0.0.1:{cut}", "--send", "x")
    assert result.returncode == 4
    assert lines(result.stderr) == [
        "framewire-engine: peer closed mid-frame: 48 of 100 payload bytes received"
    ]


async def test_a_reader_that_stops_reading_ends_the_run_quietly_with_0(
    nursery: trio.Nursery,
) -> None:
    """``framewire-engine ... | head -1``: once stdout's reader has gone the run ends,
    exit 0, nothing on stderr (it was "unexpected error: BrokenPipeError", exit 1)."""
    frames = 20_000  # 2 MB of output: far more than a pipe holds
    port = await start_server(
        nursery, reply_then_close(encode_frames([b"x" * 100] * frames, PRESETS["le32"]))
    )
    with trio.fail_after(DEADLINE_SECONDS):
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "engine", f"127.0.0.1:{port}", "--count", str(frames)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        try:
            assert process.stdout is not None and process.stderr is not None
            assert await process.stdout.receive_some(100)  # the first line has come
            await process.stdout.aclose()  # as head does once it has its line
            stderr = b"".join([chunk async for chunk in process.stderr])
            assert await process.wait() == 0
        finally:
            process.kill()
    assert stderr == b""


async def test_count_0_sends_and_leaves_without_a_word(nursery: trio.Nursery) -> None:
    """--count 0 does not wait for replies: that none came is not worth a warning (it
    said "warning: nothing came back; a be32 peer reads your le32 header ...")."""
    port = await start_server(nursery, sleep_forever)
    result = await run_cli(f"127.0.0.1:{port}", "--send", "x", "--count", "0")
    assert result.returncode == 0
    assert (result.stdout, result.stderr) == (b"", b"")
