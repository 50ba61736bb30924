"""The launcher: its command line, its process handling, and --headless end to end.

The GUI trees and their kill cases are in tests/test_lifecycle.py; here the processes are
the demo server, the engine CLI and tiny Python children with a known behaviour.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from tests.process_tree import describe, is_gone, open_fds, wait_gone, zombie_children
from tools.launch import (
    EXIT_USAGE,
    LaunchError,
    build_parser,
    display_problem,
    gui_command,
    headless_command,
    launch,
    main,
    parse_args,
    start_demo_server,
)
from tools.supervision import stop_process

REPO = Path(__file__).resolve().parents[2]
#: Generous: a cold interpreter start on a loaded 2-core machine.
START_TIMEOUT_SECONDS = 30.0
#: How long a process may take to go once it was told (or its lifeline cut).
EXIT_DEADLINE_SECONDS = 3.0
#: A reply line of the engine CLI's text output: ``HH:MM:SS.ffffff < payload``.
REPLY_LINE = re.compile(rb"^\d\d:\d\d:\d\d\.\d{6} < hello, client! you said: hello$", re.M)
SENT_LINE = re.compile(rb"^\d\d:\d\d:\d\d\.\d{6} > hello$", re.M)


# -- command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--server", "nowhere"], "argument --server: expected HOST:PORT, got 'nowhere'"),
        (["--framing", "le31"], "argument --framing: unknown framing 'le31'"),
        (["--server", "127.0.0.1:9", "--demo-mode", "echo"], "--demo-mode applies to"),
        (["--headless", "--quit-after", "1"], "--quit-after applies to the GUI"),
        (["--timeout", "1"], "--timeout applies to --headless"),
        (["--send", "x"], "--send/--send-hex applies to --headless"),
        (["--headless", "--timeout", "-1"], "expected 0 or a positive number of seconds"),
        (["--quit-after", "0"], "expected a positive number of seconds"),
        (["--quit-after", "nan"], "expected a positive number of seconds"),
        (["--quit-after", "soon"], "expected a positive number of seconds, got 'soon'"),
        # Checked before anything starts (the demo server included), on both paths.
        (["--headless", "--log-file", "."], "argument --log-file: '.' is a directory"),
        (["--offscreen", "--log-file", "."], "argument --log-file: '.' is a directory"),
        (["--log-file", "no/such/dir/x.log"], "needs the directory 'no/such/dir'"),
        (["--tick-log", "."], "argument --tick-log: '.' is a directory"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("framewire: error: ")
    assert message in err


def test_help_explains_every_option_with_examples() -> None:
    text = build_parser().format_help()
    for option in (
        "--server",
        "--framing",
        "--demo-mode",
        "--log-file",
        "--headless",
        "--timeout",
        "--offscreen",
        "--quit-after",
        "--tick-log",
    ):
        assert option in text
    assert "examples:" in text
    assert "framewire --headless" in text


@pytest.mark.parametrize(
    ("environ", "platform", "ok"),
    [
        ({}, "linux", False),
        ({"DISPLAY": ":0"}, "linux", True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", True),
        ({}, "darwin", True),
        ({}, "win32", True),
    ],
)
def test_display_problem(environ: dict[str, str], platform: str, ok: bool) -> None:
    assert (display_problem(environ, platform) is None) == ok


_DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")


def test_no_display_says_what_to_do_instead_and_starts_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in _DISPLAY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    children, zombies = _children(), zombie_children()  # other tests' fixtures may run
    # launch(), not main(): main() would make this test process a child subreaper.
    with pytest.raises(LaunchError) as failed:
        launch(parse_args([]))
    assert failed.value.exit_code == EXIT_USAGE
    err = str(failed.value) + "\n"
    assert "no display" in err and "--headless" in err and "--offscreen" in err
    assert err.count("\n") == 1
    assert (_children(), zombie_children()) == (children, zombies)


def test_no_display_through_the_real_script_exits_2_with_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k not in _DISPLAY_VARIABLES}
    done = subprocess.run(
        [sys.executable, "-m", "tools.launch"],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=START_TIMEOUT_SECONDS,
    )
    assert done.returncode == EXIT_USAGE
    assert done.stderr.startswith(b"framewire: no display") and done.stderr.count(b"\n") == 1
    assert done.stdout == b""


def test_commands_carry_the_options_to_the_gui_and_the_engine() -> None:
    args = parse_args(["--framing", "be16", "--log-file", "l.txt", "--quit-after", "2.5"])
    assert gui_command(args, "[::1]:7", python="py") == [
        *("py", "-m", "ui", "--server", "[::1]:7", "--framing", "be16"),
        *("--log-file", "l.txt", "--quit-after", "2.5"),
    ]
    args = parse_args(["--headless", "--framing", "u8", "--timeout", "4"])
    command = headless_command(args, "127.0.0.1:7", python="py")
    assert command[:6] == ["py", "-m", "engine", "127.0.0.1:7", "--send", "hello"]
    assert command[-4:] == ["--framing", "u8", "--timeout", "4.0"]


def test_headless_sends_the_frames_given_in_order_and_may_wait_forever() -> None:
    args = parse_args(
        ["--headless", "--send-hex", "de ad", "--send", "hi", "--send-hex", "00", "--timeout", "0"]
    )
    command = headless_command(args, "127.0.0.1:7", python="py")
    assert command[4:10] == ["--send-hex", "de ad", "--send", "hi", "--send-hex", "00"]
    assert "hello" not in command
    assert command[-2:] == ["--timeout", "0.0"]


# -- the demo server, started and killed -----------------------------------------------------


def _children() -> list[str]:
    """This process's live children, described (so a failure says what was left)."""
    return [
        f"{child.pid} {describe(child.pid)}"
        for child in psutil.Process().children()
        if not is_gone(child.pid)
    ]


def _exchange(host: str, port: int, payload: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=START_TIMEOUT_SECONDS) as conn:
        conn.sendall(struct.pack("<L", len(payload)) + payload)
        reader = conn.makefile("rb")
        (length,) = struct.unpack("<L", reader.read(4))
        return reader.read(length)


def test_demo_server_starts_on_a_free_loopback_port_in_classic_mode() -> None:
    server = start_demo_server()
    try:
        assert server.host == "127.0.0.1" and server.port > 0
        assert _exchange(server.host, server.port, b"hello") == b"hello, client! you said: hello"
    finally:
        assert stop_process(server.process, EXIT_DEADLINE_SECONDS) == 0


def test_demo_server_that_cannot_start_is_a_launch_error() -> None:
    zombies = zombie_children()
    with pytest.raises(LaunchError, match="the demo server exited with code 2"):
        start_demo_server(framing="not-a-preset")
    assert zombie_children() == zombies


def test_twenty_start_kill_cycles_leak_no_fds_and_leave_no_zombies() -> None:
    # Strategy: the leaks this guards against live in the launcher's own process handling
    # (pipes it opens, children it must reap), so each cycle runs the launcher's functions
    # in this process against a real demo server, and kills it one way or the other.
    # Twenty full GUI trees would take about 30 s; tests/test_lifecycle.py covers those.
    # Two cycles run at a time: a server spends most of its start importing, on one core.
    before = open_fds()

    def cycle(number: int) -> int:
        server = start_demo_server()
        if number % 2:
            server.process.send_signal(signal.SIGKILL)
            assert stop_process(server.process, EXIT_DEADLINE_SECONDS) == -signal.SIGKILL
        else:
            assert stop_process(server.process, EXIT_DEADLINE_SECONDS) == 0
        return server.process.pid

    with ThreadPoolExecutor(max_workers=2) as pool:
        pids = list(pool.map(cycle, range(20)))
    assert len(set(pids)) == 20
    wait_gone(pids, timeout=EXIT_DEADLINE_SECONDS)
    # Reaped, not zombies: none of them is a child of ours any more.
    assert not {child.pid for child in psutil.Process().children()} & set(pids)
    assert open_fds() == before


# -- --headless, end to end -----------------------------------------------------------------


def _launch(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "tools.launch", *args],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=START_TIMEOUT_SECONDS,
    )


def test_headless_does_the_classic_exchange_and_exits_0() -> None:
    done = _launch("--headless")
    assert done.returncode == 0, done.stderr
    sent, reply = done.stdout.rstrip(b"\n").split(b"\n")
    assert SENT_LINE.fullmatch(sent), done.stdout
    assert REPLY_LINE.fullmatch(reply), done.stdout


def test_headless_with_a_framing_preset_and_a_log_file(tmp_path: Path) -> None:
    log = tmp_path / "exchange.log"
    done = _launch("--headless", "--framing", "be16", "--log-file", str(log))
    assert done.returncode == 0, done.stderr
    assert REPLY_LINE.search(done.stdout)
    assert REPLY_LINE.search(log.read_bytes())


def test_headless_against_a_closed_port_exits_3_with_the_engine_cli() -> None:
    # A port bound but not listening: refused, and no other test can take it meanwhile.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        done = _launch("--headless", "--server", f"127.0.0.1:{probe.getsockname()[1]}")
    assert done.returncode == 3
    assert b"refused" in done.stderr


def test_headless_engine_dies_with_a_sigkilled_launcher() -> None:
    # A server that accepts (the kernel's backlog) but never answers keeps the engine
    # CLI waiting for the reply; the launcher's only lifeline to it is PR_SET_PDEATHSIG.
    with socket.socket() as silent:
        silent.settimeout(START_TIMEOUT_SECONDS)
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        launcher = subprocess.Popen(
            [sys.executable, "-m", "tools.launch", "--headless", "--server", f"127.0.0.1:{port}"],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            conn, _ = silent.accept()  # the engine connected: it now waits for a reply
            with conn:
                engines = [child.pid for child in psutil.Process(launcher.pid).children()]
                assert len(engines) == 1
                launcher.kill()
                assert launcher.wait() == -signal.SIGKILL
                wait_gone(engines, timeout=EXIT_DEADLINE_SECONDS)
        finally:
            launcher.kill()
            launcher.wait()


def test_launch_in_process_restores_signal_handlers_and_leaks_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # The whole --headless path (signal handlers, demo server, engine CLI, log tee) run by
    # this process, so its fds, children and handlers can be checked afterwards.
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    before = open_fds()
    children, zombies = _children(), zombie_children()  # other tests' fixtures may run
    log = tmp_path / "exchange.log"
    for _ in range(3):
        assert launch(parse_args(["--headless", "--log-file", str(log)])) == 0
    assert open_fds() == before
    assert (_children(), zombie_children()) == (children, zombies)
    assert {signum: signal.getsignal(signum) for signum in handlers} == handlers
    assert len(REPLY_LINE.findall(log.read_bytes())) == 3
    assert len(REPLY_LINE.findall(capfd.readouterr().out.encode())) == 3


def test_attach_hands_the_engine_to_the_gui_and_starts_no_demo_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert gui_command(parse_args(["--attach"]), None, python="py") == [
        *("py", "-m", "ui", "--attach"),
    ]
    args = parse_args(["--attach", "work", "--server", "127.0.0.1:7"])
    assert gui_command(args, "127.0.0.1:7", python="py") == [
        *("py", "-m", "ui", "--server", "127.0.0.1:7", "--attach", "work"),
    ]
    for bad, why in (
        (["--attach", "--headless"], "--attach applies to the GUI"),
        (["--attach", "--demo-mode", "echo"], "--attach starts no demo server"),
    ):
        with pytest.raises(SystemExit) as exited:
            parse_args(bad)
        assert exited.value.code == EXIT_USAGE and why in capsys.readouterr().err


def test_headless_tls_starts_the_demo_server_with_tls_and_trusts_it() -> None:
    done = _launch("--headless", "--tls")
    assert done.returncode == 0, done.stderr
    assert REPLY_LINE.search(done.stdout), done.stdout
    err = done.stderr.decode()
    assert "(classic mode, TLS)" in err  # the demo server speaks TLS...
    assert "TLS: TLSv1.3" in err and ", verified;" in err  # ...and the client verified it
    ca = re.search(r"trust it with --cafile (\S+)", err)
    assert ca is not None and not os.path.exists(ca.group(1))  # the throwaway CA is gone


def test_tls_carries_the_demo_servers_ca_or_the_given_one_to_the_gui() -> None:
    args = parse_args(["--tls"])
    args.demo_cafile = "/tmp/demo/ca.pem"  # set by main() once the demo server made it
    assert gui_command(args, "127.0.0.1:7", python="py")[-3:] == [
        "--tls", "--cafile", "/tmp/demo/ca.pem"
    ]  # fmt: skip
    args = parse_args(["--server", "127.0.0.1:7", "--cafile", "ca.pem"])
    assert gui_command(args, "127.0.0.1:7", python="py")[-3:] == ["--tls", "--cafile", "ca.pem"]
