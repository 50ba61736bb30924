"""--script, --replay, --listen --script and --send-saved: in-process runs against real
sockets (the demo server and tiny in-test servers), and real ``python -m engine``
processes for the exit codes and stderr."""

from __future__ import annotations

import functools
import io
import json
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal

import msgpack
import pytest
import trio

from engine.cli.connect import run_client
from engine.cli.exits import ExpectationFailed
from engine.cli.listen import run_scripted_server
from engine.cli.parse import build_parser
from engine.cli.plan import make_plan
from engine.cli.script_plan import ScriptPlan, make_script_plan
from engine.cli.script_run import run_scripts
from ipc.framing import DEFAULT, FrameDecoder, encode_frame
from tests.engine.cli.helpers import DEADLINE_SECONDS, run_cli
from tests.engine.cli.test_listen import Stderr
from tests.engine.helpers import start_server, until_client_leaves
from tools.demo_server import serve_demo

CLASSIC = "hello, client! you said: "

CHECK = """\
name = "classic hello"

[[steps]]
send.text = "hello"

[[steps]]
expect.text = "hello, client! you said: hello"

[[steps]]
send.text = "!samples 1 msgpack"

[[steps]]
expect.where = 'decoder == "msgpack" and op == "login"'
capture.user = "user"

[[steps]]
send.text = "I am {{user}}"

[[steps]]
expect.text = "hello, client! you said: I am {{user}}"
"""


def script_plan(*argv: str) -> ScriptPlan:
    return make_script_plan(build_parser().parse_args(list(argv)))


def leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def demo(nursery: trio.Nursery, mode: Literal["echo", "classic"] = "classic") -> int:
    port: int = await nursery.start(functools.partial(serve_demo, mode=mode))
    return port


async def recorded(port: int, *sends: str) -> bytes:
    """What ``--send ... --output json --show-sent`` prints: a recording."""
    argv = [f"127.0.0.1:{port}", "--output", "json", "--show-sent"]
    for text in sends:
        argv += ["--send", text]
    out = io.BytesIO()
    with trio.fail_after(DEADLINE_SECONDS):
        await run_client(make_plan(build_parser().parse_args(argv)), out)
    return out.getvalue()


async def run(plan: ScriptPlan) -> tuple[str, str]:
    out, err = io.BytesIO(), io.StringIO()
    with trio.fail_after(DEADLINE_SECONDS):
        await run_scripts(plan, out, err)
    return out.getvalue().decode(), err.getvalue()


async def test_a_script_passes_against_the_demo_server_reusing_what_it_captured(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await demo(nursery)
    (tmp_path / "check.toml").write_text(CHECK)
    out, err = await run(
        script_plan(f"127.0.0.1:{port}", "--script", str(tmp_path / "check.toml"),
                    "--timestamps", "none", "--show-sent")
    )  # fmt: skip
    lines = out.splitlines()
    assert lines[:2] == ["> hello", f"< {CLASSIC}hello"]
    assert lines[-2:] == ["> I am ana", f"< {CLASSIC}I am ana"]
    assert re.fullmatch(
        rf"framewire-engine: {re.escape(str(tmp_path))}/check\.toml: passed \(6 steps, 3 frames "
        r"sent, 3 received, \d+\.\d{3} s\)\n",
        err,
    )


async def test_a_failing_script_says_the_step_and_the_diff_and_junit_names_it(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await demo(nursery)
    script = tmp_path / "check.toml"
    script.write_text(CHECK.replace('said: I am {{user}}"', 'said: I am bob"'))
    report = tmp_path / "report.xml"
    with pytest.raises(BaseException) as raised:
        await run(script_plan(f"127.0.0.1:{port}", "--script", str(script), "--junit", str(report)))
    error = leaf(raised.value)
    assert isinstance(error, ExpectationFailed)
    assert str(error) == (
        f"{script}:19: step 6 failed: expect text 'hello, client! you said: I am bob'\n"
        "  expected  text     hello, client! you said: I am bob\n"
        "            hex      68 65 6c 6c 6f 2c 20 63 6c 69 65 6e 74 21 20 79 6f 75 20 73 61 69 "
        "64 3a 20 49 20 61 6d 20 62 6f …  (33 bytes)\n"
        "  got       text     hello, client! you said: I am ana\n"
        "            hex      68 65 6c 6c 6f 2c 20 63 6c 69 65 6e 74 21 20 79 6f 75 20 73 61 69 "
        "64 3a 20 49 20 61 6d 20 61 6e …  (33 bytes)\n"
        "  first difference at byte 30: expected 62, got 61"
    )
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    case = suite.find("testcase")
    assert case is not None and case.get("name") == "classic hello"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "step 6: expect text 'hello, client! you said: I am bob': first difference at byte 30: "
        "expected 62, got 61"
    )
    assert (failure.text or "").startswith(f"{script}:19: step 6 failed")


async def test_a_scripted_server_answers_a_scripted_client(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    (tmp_path / "server.toml").write_text(
        """
[[steps]]
expect.where = 'op == "login"'
capture.user = "user"

[[steps]]
send.json = { op = "welcome", user = "{{user}}", token = "{{random_hex:8}}" }

[[on]]
when.text = "PING"
send.text = "PONG"
"""
    )
    (tmp_path / "client.toml").write_text(
        """
[[steps]]
send.json = '{"op": "login", "user": "ana"}'
[[steps]]
expect.where = 'op == "welcome" and user == "ana" and len > 40'
[[steps]]
send.text = "PING"
[[steps]]
expect.text = "PONG"
"""
    )
    server = script_plan("--listen", "0", "--script", str(tmp_path / "server.toml"),
                         "--clients", "1", "--junit", str(tmp_path / "server.xml"))  # fmt: skip
    server_out, server_err = io.BytesIO(), Stderr()
    finished = trio.Event()

    async def serve() -> None:
        await run_scripted_server(server, server_out, server_err)
        finished.set()

    nursery.start_soon(serve)
    with trio.fail_after(DEADLINE_SECONDS):
        await server_err.listening.wait()
        client = script_plan(f"127.0.0.1:{server_err.port}", "--script",
                             str(tmp_path / "client.toml"), "--timestamps", "none")  # fmt: skip
        out, _ = await run(client)
        await finished.wait()
    welcome = json.loads(out.splitlines()[0].removeprefix("< "))
    assert welcome["op"] == "welcome" and re.fullmatch("[0-9a-f]{8}", welcome["token"])
    assert out.splitlines()[1] == "< PONG"
    assert re.search(r"^#1 127\.0\.0\.1:\d+: .*server\.toml: passed$", server_err.getvalue(), re.M)
    case = ET.parse(tmp_path / "server.xml").getroot().find("testsuite/testcase")
    assert case is not None and case.find("failure") is None


@until_client_leaves
async def stamped(stream: trio.SocketStream) -> None:
    """Answer each frame with a MessagePack map holding it, a counter and the time."""
    decoder = FrameDecoder(DEFAULT)
    number = 0
    async for data in stream:
        for frame in decoder.feed(data):
            number += 1
            stamp = time.time()  # load-safe: sent along, never compared
            reply = {"echo": frame.decode(), "n": number, "ts": stamp}
            await stream.send_all(encode_frame(msgpack.packb(reply), DEFAULT))


async def test_a_recording_replays_fails_at_the_frame_that_differs_and_ignore_helps(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    classic = await demo(nursery)
    recording = tmp_path / "hello.jsonl"
    recording.write_bytes(await recorded(classic, "hello", "again"))
    directions = [json.loads(line)["dir"] for line in recording.read_text().splitlines()]
    assert sorted(directions) == ["in", "in", "out", "out"]
    _, err = await run(script_plan(f"127.0.0.1:{classic}", "--replay", str(recording)))
    assert "hello.jsonl: passed" in err

    echo = await demo(nursery, "echo")  # a changed server: the first reply differs
    with pytest.raises(BaseException) as raised:
        await run(script_plan(f"127.0.0.1:{echo}", "--replay", str(recording)))
    error = leaf(raised.value)
    assert isinstance(error, ExpectationFailed)
    first_in = 1 + directions.index("in")
    assert str(error).splitlines()[0] == (
        f"{recording}:{first_in}: frame {first_in} failed: expect the recorded frame (in, 30 bytes)"
    )
    # Replies that carry the time (and a counter per connection) differ at every run.
    port = await start_server(nursery, stamped)
    recording.write_bytes(await recorded(port, "a"))
    with pytest.raises(BaseException) as raised:
        await run(script_plan(f"127.0.0.1:{port}", "--replay", str(recording)))
    assert isinstance(leaf(raised.value), ExpectationFailed)
    _, err = await run(script_plan(f"127.0.0.1:{port}", "--replay", str(recording),
                                   "--ignore", "ts"))  # fmt: skip
    assert "passed" in err


async def test_saved_messages_are_sent_by_name_with_their_placeholders(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await demo(nursery)
    project = tmp_path / "project.toml"
    project.write_text(
        '[vars]\nwho = "ana"\n[messages.hi]\ntext = "hi {{who}} #{{seq}}"\n'
        '[messages.raw]\nhex = "00 ff"\n'
    )
    argv = [f"127.0.0.1:{port}", "--project", str(project), "--send-saved", "hi",
            "--send-saved", "raw", "--send-saved", "hi", "--var", "who=bob",
            "--timestamps", "none", "--show-sent"]  # fmt: skip
    out = io.BytesIO()
    with trio.fail_after(DEADLINE_SECONDS):
        await run_client(make_plan(build_parser().parse_args(argv)), out)
    sent = [line for line in out.getvalue().decode().splitlines() if line.startswith(">")]
    assert sent == ["> hi bob #1", "> \\x00\\xff", "> hi bob #3"]


async def test_bad_script_files_and_failures_exit_with_their_codes(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """Real processes: 2 and the line for a bad script, 6 with the report for a failed
    expectation, 5 for a step that times out."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[[steps]]\nsend.text = "a"\n\n[[steps]]\nexpect.regex = "(unclosed"\n')
    result = await run_cli("127.0.0.1:9", "--script", str(bad))
    assert result.returncode == 2
    assert result.stderr.decode() == (
        f"framewire-engine: error: {bad}:5: bad regex /(unclosed/: missing ), unterminated "
        "subpattern at position 0 (see framewire-engine --help)\n"
    )
    port = await demo(nursery)
    failing = tmp_path / "failing.toml"
    failing.write_text('[[steps]]\nsend.text = "x"\n[[steps]]\nexpect.text = "y"\n')
    result = await run_cli(f"127.0.0.1:{port}", "--script", str(failing))
    assert result.returncode == 6
    assert result.stderr.decode().startswith(
        f"framewire-engine: {failing}:3: step 2 failed: expect text 'y'\n  expected  text     y\n"
    )
    slow = tmp_path / "slow.toml"
    slow.write_text('[[steps]]\nexpect.text = "never"\ntimeout = 0.2\n')
    result = await run_cli(f"127.0.0.1:{port}", "--script", str(slow))
    assert result.returncode == 5
    assert result.stderr.decode().splitlines()[0] == (
        f"framewire-engine: {slow}:1: step 1 failed: expect text 'never'"
    )


async def test_listen_replay_plays_the_servers_side_to_a_client(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    classic = await demo(nursery)
    recording = tmp_path / "hello.jsonl"
    recording.write_bytes(await recorded(classic, "hello"))
    plan = script_plan("--listen", "0", "--replay", str(recording), "--clients", "1")
    err = Stderr()
    finished = trio.Event()

    async def serve() -> None:
        await run_scripted_server(plan, io.BytesIO(), err)
        finished.set()

    nursery.start_soon(serve)
    with trio.fail_after(DEADLINE_SECONDS):
        await err.listening.wait()
        client = await trio.open_tcp_stream("127.0.0.1", err.port)
        await client.send_all(encode_frame(b"hello", DEFAULT))
        decoder, got = FrameDecoder(DEFAULT), list[bytes]()
        while not got:
            got += decoder.feed(await client.receive_some(4096))
        await client.aclose()
        await finished.wait()
    assert got == [f"{CLASSIC}hello".encode()]
    assert "hello.jsonl: passed" in err.getvalue()
