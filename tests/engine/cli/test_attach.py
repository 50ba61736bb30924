"""``framewire-engine --attach`` and ``--list-engines``: from the shell into a running
engine (real processes), and the rules of a run against it (in-process engine)."""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trio.testing

from engine.cli.attach import make_attach_plan, run_attach
from engine.cli.engines import format_uptime
from engine.cli.exits import UsageError
from engine.cli.parse import build_parser
from engine.errors import EngineError, SessionClosed
from ipc.schema import Attach, Close, Listen, Open, Received, Send
from ipc.trio_channel import connect_socket
from tests.engine.cli.helpers import DEADLINE_SECONDS, ROOT, lines, payload
from tests.engine.cli.long_lived import long_lived_engine
from tests.engine.rpc.socket_helpers import serving
from tools.demo_server import serve_demo

REPLY = "hello, client! you said: "


async def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    with trio.fail_after(DEADLINE_SECONDS):
        return await trio.run_process(
            [sys.executable, "-m", "engine", *args],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            cwd=ROOT,
            env=env,
        )


async def test_the_shell_opens_a_session_that_stays_sends_into_it_and_lists_engines(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await nursery.start(functools.partial(serve_demo, mode="classic"))
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    path = tmp_path / "framewire" / "engine.sock"
    async with long_lived_engine(path) as engine:
        listed = await _cli(env, "--list-engines")
        assert listed.returncode == 0, listed.stderr
        header, row = lines(listed.stdout)
        assert header.split() == ["SOCKET", "PID", "UPTIME", "SESSIONS"]
        assert row.split()[0:2] == [str(path), str(engine.process.pid)] and row.split()[3] == "0"

        # --attach HOST:PORT: the id alone on the first line, then the replies.
        opened = await _cli(env, "--attach", f"127.0.0.1:{port}", "--send", "hi", "--label", "x")
        assert opened.returncode == 0, opened.stderr
        first, reply = lines(opened.stdout)
        assert first == "1" and payload(reply) == REPLY + "hi"
        assert "it stays open" in opened.stderr.decode()

        sent = await _cli(env, "--attach", str(path), "--session", "1", "--send", "again")
        assert sent.returncode == 0, sent.stderr
        assert [payload(line) for line in lines(sent.stdout)] == [REPLY + "again"]

        table = await _cli(env, "--attach")
        assert table.returncode == 0, table.stderr
        header, row = lines(table.stdout)
        expected = ["1", "connect", "connected", f"127.0.0.1:{port}", "le32", "2", "2", "x"]
        assert row.split() == expected
        assert await engine.stop() == 0


def test_attach_reads_host_port_as_the_address_and_checks_its_arguments(tmp_path: Path) -> None:
    parser = build_parser()
    plan = make_attach_plan(parser.parse_args(["--attach", "127.0.0.1:9000", "--send", "a"]))
    assert plan.engine is None and plan.plan is not None
    assert (plan.plan.host, plan.plan.port, plan.plan.frames) == ("127.0.0.1", 9000, [b"a"])
    assert make_attach_plan(parser.parse_args(["--attach", "work"])).plan is None
    for args, message in (
        (["--attach", "--session", "1", "127.0.0.1:9000"], "not both"),
        (["--attach", "--send", "a"], "add HOST:PORT or --session ID"),
        (["--attach", "--label", "a"], "--label names a session"),
    ):
        with pytest.raises(UsageError, match=message):
            make_attach_plan(parser.parse_args(args))


async def _run(*args: str) -> bytes:
    out = io.BytesIO()
    await run_attach(make_attach_plan(build_parser().parse_args(["--attach", *args])), out)
    return out.getvalue()


async def test_following_a_session_prints_what_any_controller_makes_it_exchange(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await nursery.start(serve_demo)
    with trio.fail_after(20):
        async with serving(tmp_path) as path, connect_socket(path) as other:
            sid = (await other.call(Open(host="127.0.0.1", port=port)))["session_id"]
            follow = ("--session", str(sid), "--show-sent", "--timestamps", "none")
            followed: list[bytes] = []

            async def run_follower() -> None:
                followed.append(await _run(str(path), *follow))

            async with trio.open_nursery() as inner:
                inner.start_soon(run_follower)
                await trio.testing.wait_all_tasks_blocked()  # it is attached and waiting
                await other.call(Attach(history=False))
                await other.call(Send(session_id=sid, frames=[b"ping"]))
                async for event in other.events():  # the echo is in: end the session
                    if isinstance(event, Received):
                        break
                await other.call(Close(session_id=sid))  # another controller ends it
            assert followed == [b"> ping\n< ping\n"]


async def test_a_run_fails_clearly_when_its_session_or_engine_goes(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await nursery.start(functools.partial(serve_demo, stall=True))  # never answers
    with trio.fail_after(20):
        async with serving(tmp_path) as path, connect_socket(path) as other:
            sid = (await other.call(Open(host="127.0.0.1", port=port)))["session_id"]
            with pytest.RaisesGroup(
                pytest.RaisesExc(UsageError, match="no open session 99"), flatten_subgroups=True
            ):
                await _run(str(path), "--session", "99", "--send", "x")
            with pytest.RaisesGroup(
                pytest.RaisesExc(SessionClosed, match="closed"), flatten_subgroups=True
            ):
                async with trio.open_nursery() as inner:
                    inner.start_soon(_run, str(path), "--session", str(sid), "--send", "x")
                    await trio.testing.wait_all_tasks_blocked()
                    await other.call(Close(session_id=sid))
    with pytest.raises(EngineError, match="no engine at"):
        await _run(str(tmp_path / "gone.sock"))


async def test_the_engine_s_listeners_are_listed_after_its_sessions(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with serving(tmp_path) as path, connect_socket(path) as other:
            local = (await other.call(Listen(echo=True, label="srv")))["local"]
            table = (await _run(str(path))).decode().splitlines()
            # --output json: JSON lines a script reads (the table was printed instead)
            listed = (await _run(str(path), "--output", "json")).decode().splitlines()
    (record,) = [json.loads(line) for line in listed]
    picked = {k: record[k] for k in ("kind", "listener_id", "role", "local", "label")}
    assert picked == {
        "kind": "listener",
        "listener_id": 1,
        "role": "listen",
        "local": local,
        "label": "srv",
    }
    assert table[0].split() == ["ID", "ROLE", "STATE", "PEER", "FRAMING", "IN", "OUT", "LABEL"]
    assert table[-2].split()[0] == "LISTENER"
    assert table[-1].split() == ["1", "listen", local, "-", "0", "0", "srv"]


def test_uptimes_read_at_a_glance() -> None:
    assert [format_uptime(s) for s in (42, 307, 10_920, 187_200)] == [
        "42s",
        "5m07s",
        "3h02m",
        "2d04h",
    ]


async def test_listen_or_relay_with_attach_is_a_usage_error_not_a_listing(tmp_path: Path) -> None:
    """``--attach --listen 0`` listed the engine's sessions and exited 0, the --listen
    left out without a word."""
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    for args in (("--listen", "0"), ("127.0.0.1:9", "--relay", "0")):
        result = await _cli(env, "--attach", *args)
        assert result.returncode == 2
        assert result.stdout == b""
        (line,) = lines(result.stderr)
        assert f"{args[-2]} does not go with --attach" in line
