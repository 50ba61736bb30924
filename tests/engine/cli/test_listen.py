"""--listen and --relay: in-process runs (``run_server``) against real sockets, one real
``python -m engine --listen`` process (its first stderr line, SIGTERM), and usage errors."""

from __future__ import annotations

import functools
import io
import json
import signal
import socket
import subprocess
import sys

import pytest
import trio
import trio.testing

from engine.cli.exits import ReplyTimeout, run_mode
from engine.cli.listen import run_server
from engine.cli.main import main
from engine.cli.parse import build_parser
from engine.cli.plan import ServerPlan, make_server_plan
from ipc.framing import DEFAULT, PRESETS, FrameDecoder, encode_frames
from tests.engine.cli.helpers import DEADLINE_SECONDS, ROOT
from tests.engine.helpers import echo_with, start_server


def server_plan(*argv: str) -> ServerPlan:
    return make_server_plan(build_parser().parse_args(list(argv)))


class Stderr(io.StringIO):
    """stderr of an in-process run: ``port`` once it has said where it listens."""

    def __init__(self) -> None:
        super().__init__()
        self.listening = trio.Event()
        self.port = 0

    def write(self, text: str) -> int:
        if text.startswith("listening on ") and not self.listening.is_set():
            self.port = int(text.strip().rpartition(":")[2])
            self.listening.set()
        return super().write(text)


async def frames_from(stream: trio.SocketStream, count: int, spec: object = DEFAULT) -> list[bytes]:
    decoder, got = FrameDecoder(spec), list[bytes]()  # type: ignore[arg-type]
    with trio.fail_after(DEADLINE_SECONDS):
        while len(got) < count:
            data = await stream.receive_some(65536)
            assert data, f"closed after {got}"
            got += decoder.feed(data)
    return got


async def test_listen_greets_echoes_and_prints_each_clients_frames_with_its_peer(
    nursery: trio.Nursery,
) -> None:
    plan = server_plan(
        "--listen", "0", "--echo", "--send", "hi", "--count", "3", "--output", "json"
    )
    out, err = io.BytesIO(), Stderr()
    done = trio.Event()

    async def serve() -> None:
        await run_server(plan, out, err)
        done.set()

    nursery.start_soon(serve)
    with trio.fail_after(DEADLINE_SECONDS):
        await err.listening.wait()
        first = await trio.open_tcp_stream("127.0.0.1", err.port)
        second = await trio.open_tcp_stream("127.0.0.1", err.port)
        assert await frames_from(first, 1) == [b"hi"]  # the greeting
        await first.send_all(encode_frames([b"one", b"two"]))
        assert await frames_from(first, 2) == [b"one", b"two"]  # echoed
        await second.send_all(encode_frames([b"three"]))
        await done.wait()  # --count 3 reached: the run ends, and closes the clients
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["text"], r["dir"]) for r in records] == [
        ("one", "in"),
        ("two", "in"),
        ("three", "in"),
    ]
    assert records[0]["peer"] == f"127.0.0.1:{first.socket.getsockname()[1]}"
    assert records[2]["peer"] == f"127.0.0.1:{second.socket.getsockname()[1]}"
    assert records[0]["session"] != records[2]["session"]
    log = err.getvalue().splitlines()
    assert log[0] == f"listening on 127.0.0.1:{err.port}"
    assert f"#1 {records[0]['peer']} connected" in log


async def test_relay_prints_both_directions_and_translates(nursery: trio.Nursery) -> None:
    upstream = await start_server(nursery, echo_with(PRESETS["be32"]))
    plan = server_plan(
        f"127.0.0.1:{upstream}", "--relay", "0", "--upstream-framing", "be32", "--count", "4"
    )
    out, err = io.BytesIO(), Stderr()
    nursery.start_soon(run_server, plan, out, err)
    with trio.fail_after(DEADLINE_SECONDS):
        await err.listening.wait()
        client = await trio.open_tcp_stream("127.0.0.1", err.port)
        await client.send_all(encode_frames([b"ping", b"pong?"]))  # le32
        assert await frames_from(client, 2) == [b"re:ping", b"re:pong?"]
    me = f"127.0.0.1:{client.socket.getsockname()[1]}"
    printed = [line.split(" ", 1)[1] for line in out.getvalue().decode().splitlines()]
    assert printed == [
        f"#1 {me} > ping",
        f"#1 {me} > pong?",
        f"#1 {me} < re:ping",
        f"#1 {me} < re:pong?",
    ]
    log = err.getvalue().splitlines()
    assert log[1] == f"relaying each client to 127.0.0.1:{upstream} (le32 ⇄ be32)"
    assert log[2] == f"#1 {me} ⇄ 127.0.0.1:{upstream}"


async def test_relay_json_lines_carry_the_pair_and_direction(nursery: trio.Nursery) -> None:
    upstream = await start_server(nursery, echo_with(DEFAULT))
    plan = server_plan(f"127.0.0.1:{upstream}", "--relay", "0", "--count", "2", "--output", "json")
    out, err = io.BytesIO(), Stderr()
    nursery.start_soon(run_server, plan, out, err)
    with trio.fail_after(DEADLINE_SECONDS):
        await err.listening.wait()
        client = await trio.open_tcp_stream("127.0.0.1", err.port)
        await client.send_all(encode_frames([b"x"]))
        await frames_from(client, 1)
    c2s, s2c = (json.loads(line) for line in out.getvalue().splitlines())
    assert (c2s["dir"], c2s["pair"], c2s["text"]) == ("c2s", 1, "x")
    assert (s2c["dir"], s2c["pair"], s2c["text"]) == ("s2c", 1, "re:x")
    assert c2s["peer"] == f"127.0.0.1:{client.socket.getsockname()[1]}"
    assert s2c["peer"] == f"127.0.0.1:{upstream}"
    assert c2s["session"] != s2c["session"]


async def test_timeout_with_a_count_unmet_is_exit_5_and_without_a_count_a_clean_end(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with pytest.raises(ReplyTimeout, match="received 0 of 1 frames"):
        await run_server(
            server_plan("--listen", "0", "--count", "1", "--timeout", "5"), io.BytesIO(), Stderr()
        )
    start = trio.current_time()
    await run_server(server_plan("--listen", "0", "--timeout", "5"), io.BytesIO(), Stderr())
    assert trio.current_time() - start == pytest.approx(5.0)


def test_an_address_in_use_exits_3_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run_mode(run_server, server_plan("--listen", str(port))) == 3
    assert "already in use" in capsys.readouterr().err


async def test_a_real_process_says_where_it_listens_first_and_exits_0_on_sigterm() -> None:
    with trio.fail_after(DEADLINE_SECONDS):
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                functools.partial(
                    trio.run_process,
                    [sys.executable, "-m", "engine", "--listen", "0"],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    check=False,
                    cwd=ROOT,
                )
            )
            assert process.stderr is not None and process.stdout is not None
            first = b""
            while not first.endswith(b"\n"):
                first += await process.stderr.receive_some(1)
            line = first.decode()
            assert line.startswith("listening on 127.0.0.1:")
            port = int(line.rpartition(":")[2])
            client = await trio.open_tcp_stream("127.0.0.1", port)
            await client.send_all(encode_frames([b"hello"]))
            printed = b""
            while b"hello" not in printed:
                printed += await process.stdout.receive_some(1024)
            assert f" #1 127.0.0.1:{client.socket.getsockname()[1]} < hello".encode() in printed
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
            assert await client.receive_some(10) == b""  # closed on the way out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "0", "--relay", "0"], "--listen and --relay are two roles"),
        (["127.0.0.1:9", "--listen", "0"], "--listen takes no server address"),
        (["--relay", "0"], "--relay needs the server to relay to"),
        (["--listen", "0", "--stdin"], "--stdin is for the client mode"),
        (["127.0.0.1:9", "--relay", "0", "--send", "x"], "--relay passes the client's frames"),
        (["127.0.0.1:9", "--relay", "0", "--echo"], "--echo and --show-sent are for --listen"),
        (["--listen", "0", "--upstream-framing", "be32"], "--upstream-framing is for --relay"),
        (["127.0.0.1:9", "--max-clients", "3"], "--max-clients is for --listen or --relay"),
        (["127.0.0.1:9", "--echo"], "--echo is for --listen or --relay"),
        (["--listen", "70000"], "port must be a number in 0..65535"),
        (["--listen", "0", "--max-clients", "0"], "expected a positive number of clients"),
        (["--listen", "0", "--idle-timeout", "-1"], "expected 0 or a positive number"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_limits_default_and_can_be_set_or_turned_off() -> None:
    plan = server_plan("--listen", "0")
    assert (plan.host, plan.port, plan.role) == ("127.0.0.1", 0, "listen")
    assert plan.limits.to_wire() == {
        "max_clients": 1024,
        "idle_timeout": 600.0,
        "partial_frame_timeout": 30.0,
    }
    plan = server_plan(
        "--listen", "[::1]:7", "--max-clients", "5", "--idle-timeout", "0",
        "--partial-frame-timeout", "2.5",
    )  # fmt: skip
    assert (plan.host, plan.port) == ("::1", 7)
    assert (plan.limits.max_clients, plan.limits.idle_timeout) == (5, None)
    assert plan.limits.partial_frame_timeout == 2.5
    relay = server_plan("127.0.0.1:9000", "--relay", "9001")
    assert relay.upstream == ("127.0.0.1", 9000) and relay.upstream_spec == DEFAULT


async def test_the_stderr_line_says_who_closed_a_client(nursery: trio.Nursery) -> None:
    """'#1 closed by the client', '#2 closed here' (it said 'closed by peer', 'closed by
    local')."""

    class Log(Stderr):
        def __init__(self) -> None:
            super().__init__()
            self.client_left = trio.Event()

        def write(self, text: str) -> int:
            if "closed by the client" in text:
                self.client_left.set()
            return super().write(text)

    out, err, done = io.BytesIO(), Log(), trio.Event()

    async def serve() -> None:
        await run_server(server_plan("--listen", "0", "--echo", "--count", "2"), out, err)
        done.set()

    nursery.start_soon(serve)
    with trio.fail_after(DEADLINE_SECONDS):
        await err.listening.wait()
        leaving = await trio.open_tcp_stream("127.0.0.1", err.port)
        await leaving.send_all(encode_frames([b"bye"]))
        assert await frames_from(leaving, 1) == [b"bye"]
        await leaving.aclose()
        await err.client_left.wait()
        staying = await trio.open_tcp_stream("127.0.0.1", err.port)
        await staying.send_all(encode_frames([b"last"]))  # --count 2: the run closes it
        assert await staying.receive_some(65536) == encode_frames([b"last"])
        assert await staying.receive_some(65536) == b""
        await done.wait()
    log = err.getvalue().splitlines()
    assert "#1 closed by the client (1 frame in, 1 out)" in log
    assert "#2 closed here (1 frame in, 1 out)" in log
