"""The headless CLI as a user runs it: a real ``python -m engine`` subprocess against
tiny in-test servers on 127.0.0.1."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from engine.cli import GC_YOUNG_THRESHOLD
from engine.framing import PRESETS, encode_frame, encode_frames
from tests.engine.helpers import (
    echo,
    echo_with,
    refused_port,
    reply_then_close,
    sleep_forever,
    start_server,
    until_client_leaves,
)

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 20
TEXT_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} < (.*)$")


async def run_cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    with trio.fail_after(DEADLINE_SECONDS):
        return await trio.run_process(
            [sys.executable, "-m", "engine", *args],
            stdin=stdin,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            cwd=ROOT,
        )


def lines(output: bytes) -> list[str]:
    return output.decode().splitlines()


def payload(line: str) -> str:
    """The payload part of a text output line."""
    match = TEXT_LINE.match(line)
    assert match is not None, line
    return match.group(1)


async def test_classic_exchange_prints_the_reply_with_a_timestamp(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo)
    result = await run_cli(f"127.0.0.1:{port}", "--send", "hello")
    assert result.returncode == 0, result.stderr
    (line,) = lines(result.stdout)
    assert payload(line) == "re:hello"
    assert result.stderr == b""


async def test_json_output_with_sent_frames_and_hex_for_binary(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo)
    result = await run_cli(
        f"127.0.0.1:{port}", "--send", "hi", "--send-hex", "00ff", "--output", "json",
        "--show-sent",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in lines(result.stdout)]
    # "out" lines are printed once written; a reply may be printed before them.
    for direction, expected in [
        ("out", [(2, "hi", None), (2, None, "00ff")]),
        ("in", [(5, "re:hi", None), (5, None, "72653a00ff")]),
    ]:
        got = [(r["len"], r.get("text"), r.get("hex")) for r in records if r["dir"] == direction]
        assert got == expected
    assert len(records) == 4
    assert {r["session"] for r in records} == {1}
    assert all(isinstance(r["t"], float) for r in records)


async def test_stdin_lines_in_hex_and_hex_output(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo)
    result = await run_cli(
        f"127.0.0.1:{port}", "--stdin", "--input", "hex", "--output", "hex", stdin=b"61\n6262\n"
    )
    assert result.returncode == 0, result.stderr
    assert [payload(line) for line in lines(result.stdout)] == [
        "72653a61",
        "72653a6262",
    ]


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
    stderr = result.stderr.decode()
    assert "closed the connection early: received 0 of 1" in stderr
    assert "does the server speak le32? see --framing" in stderr


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
        "framewire-engine: timed out after 0.3 s: received 0 of 1 expected frames"
        " (does the server speak le32? see --framing)"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["127.0.0.1:9", "--send-hex", "zz"], "--send-hex 'zz' is not hexadecimal"),
        ([], "HOST:PORT is required"),
        (["localhost"], "expected HOST:PORT, got 'localhost'"),
        (["127.0.0.1:99999"], "port must be a number in 1..65535, got '99999'"),
        (["::1:9"], "write an IPv6 address in brackets, as [::1]:9"),
        (["127.0.0.1:9", "--timeout", "nan"], "expected a positive number of seconds"),
        (["127.0.0.1:9", "--connect-timeout", "0"], "expected a positive number of seconds"),
        (["127.0.0.1:9", "--framing", "le24"], "invalid choice"),
        (["127.0.0.1:9", "--max-frame", "-1"], "bad framing: max_frame_length"),
        (["127.0.0.1:9", "--file", "/nonexistent/x"], "cannot read --file"),
        (["127.0.0.1:9", "--send", "x" * 300, "--framing", "u8"], "over the framing's limit"),
        (["--stdio", "--stats-interval", "-1"], "--stats-interval must be >= 0"),
        (["--stdio", "--stats-interval", "nan"], "--stats-interval must be >= 0"),
    ],
)
async def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = await run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr.decode()
    assert result.stdout == b""


async def test_help_explains_framing_exit_codes_and_examples() -> None:
    result = await run_cli("--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    for needle in ("le32", "BIG-endian", "exit codes", "examples", "--stdio", "--count"):
        assert needle in text


async def test_a_custom_spec_is_spelled_out_in_the_early_close_hint(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, reply_then_close(b""))
    result = await run_cli(
        f"127.0.0.1:{port}", "--send", "x", "--length-size", "2", "--length-includes-header"
    )
    assert result.returncode == 3
    assert (
        "does the server speak a 2-byte little-endian length of the header and payload?"
        in result.stderr.decode()
    )


async def test_the_engine_process_runs_with_the_tuned_gc_threshold(tmp_path: Path) -> None:
    # A sitecustomize that reports the process's GC thresholds as it exits: what
    # `python -m engine` runs with, observed from outside the engine's code.
    (tmp_path / "sitecustomize.py").write_text(
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('gc', *gc.get_threshold(), file=sys.stderr))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    with trio.fail_after(DEADLINE_SECONDS):
        engine = await trio.run_process(
            [sys.executable, "-m", "engine", "--api-info"],
            env=env,
            cwd=ROOT,
            capture_stdout=True,
            capture_stderr=True,
        )
        library = await trio.run_process(
            [sys.executable, "-c", "import engine.cli, engine.rpc_server"],
            env=env,
            cwd=ROOT,
            capture_stderr=True,
        )
    assert lines(engine.stderr)[-1].split()[:2] == ["gc", str(GC_YOUNG_THRESHOLD)]
    # Importing the engine (as the tests and library users do) leaves the defaults alone.
    assert lines(library.stderr)[-1].split() == ["gc", *map(str, gc.get_threshold())]
    assert gc.get_threshold()[0] != GC_YOUNG_THRESHOLD
