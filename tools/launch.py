"""framewire's launcher: the demo server (unless ``--server``) and the GUI, or ``--headless``.

``make run`` and the console script ``framewire`` run this. The process tree::

    launcher ─┬─ demo server   (python -m tools.demo_server, when no --server is given)
              └─ GUI           (python -m ui)  ── QProcess ──>  engine (python -m engine --stdio)
    launcher ─┬─ demo server   (--headless)
              └─ engine CLI    (python -m engine HOST:PORT --send hello)

Lifecycle (docs/lifecycle.md has the whole table):

* The launcher waits for its main child (GUI, or the engine CLI with ``--headless``) and
  exits with its exit code, after stopping the demo server (SIGTERM, then SIGKILL after
  ``tools.demo_server.STOP_GRACE_SECONDS``).
* Ctrl-C, SIGTERM or SIGHUP on the launcher: it forwards SIGTERM to the main child, waits
  ``CHILD_STOP_GRACE_SECONDS``, kills its process group if it is still there (and, after
  any exit, sweeps that group for leftovers), stops the demo server and
  exits 0 (1 if something had to be killed). A second Ctrl-C kills at once. Children run
  in their own process group, so a terminal's Ctrl-C reaches the launcher alone and the
  shutdown happens in this order rather than as a race between four processes.
* The launcher killed with SIGKILL: every child dies with it. The demo server and the
  engine CLI get PR_SET_PDEATHSIG armed between fork and exec (``tools.supervision``),
  so even a launcher killed while they are still importing is noticed (the demo server
  also arms it itself, via ``tools.lifecycle``); the GUI arms it and watches a stdin
  pipe whose write end only the launcher holds (``ui.lifeline``); the GUI's engine reads
  EOF on its stdin.

How children are started, stopped and swept lives in ``tools.supervision``; this module
is the command line and the wiring. Everything but ``main`` is an importable function so
the tests can drive it in-process (``launch`` does not make the caller a subreaper).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from typing import IO, Any

from ipc.cli_args import (
    EXIT_USAGE,
    HelpFormatter,
    OneLineErrorParser,
    format_address,
    framing_words,
    host_port,
    non_negative,
    positive,
    writable_file,
)
from ipc.framing import PRESETS
from tools import demo_server
from tools.demo_server import STOP_GRACE_SECONDS, DemoServer, DemoServerError
from tools.supervision import (
    StopRequested,
    StopSignals,
    become_subreaper,
    run_supervised,
    spawn_kwargs,
    stop_process,
    sweep_process_group,
    warn,
)

__all__ = [
    "EXIT_USAGE",
    "LaunchError",
    "build_parser",
    "child_environment",
    "display_problem",
    "gui_command",
    "headless_command",
    "launch",
    "main",
    "parse_args",
    "start_demo_server",
]

#: The environment variable ``ui.lifeline`` reads (not imported: tools must not load ui).
ENV_PARENT_PID = "FRAMEWIRE_PARENT_PID"

_EPILOG = """\
examples:
  framewire                              GUI against the built-in demo server (classic replies)
  framewire --server 127.0.0.1:9000      GUI against your server
  framewire --framing be32 --log-file session.log
  framewire --headless                   the classic exchange in the terminal (SSH, CI)
  framewire --tls                        the same over TLS: a demo server with a throwaway CA
  framewire --headless --server 127.0.0.1:9000 --framing be16
  framewire --headless --server 127.0.0.1:9000 --send-hex '00 01' --timeout 30
  framewire --offscreen --quit-after 2   GUI without a display, quits after 2 s (CI smoke test)
  framewire --attach                     GUI on the running engine (framewire-engine --serve-ipc)
  make run ARGS="--framing be32"         the same through make

exit status: the GUI's exit code (or, with --headless, the engine CLI's: 0 ok, 3 connection
failure, 4 protocol error, 5 timeout); 2 for bad usage or no display; 0 after Ctrl-C or
SIGTERM once everything stopped, 1 if something had to be killed.
"""


class LaunchError(Exception):
    """The launcher cannot start what was asked for; the message is one line for the user."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def display_problem(environ: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Say why Qt would find no display here, or None if it may.

    Only X11/Wayland systems are checked: macOS and Windows always have their platform
    plugin, and an explicit ``QT_QPA_PLATFORM`` is the user's choice.
    """
    if platform in ("darwin", "win32", "cygwin") or environ.get("QT_QPA_PLATFORM"):
        return None
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "no display: DISPLAY and WAYLAND_DISPLAY are unset, so the GUI cannot open a window; "
        "use --headless for the classic exchange in this terminal, or --offscreen to run "
        "the GUI without a screen"
    )


class _KeepOrder(argparse.Action):
    """Append ``(option, value)``, so --send and --send-hex keep their command-line order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        items = [*getattr(namespace, self.dest, []), (option_string, values)]
        setattr(namespace, self.dest, items)


def build_parser() -> argparse.ArgumentParser:
    """The launcher's command line (``framewire --help``)."""
    parser = OneLineErrorParser(
        prog="framewire",
        description=(
            "Start framewire: the GUI (which runs its own network engine) against --server,\n"
            "or against a demo server started on a free loopback port when none is given."
        ),
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    target = parser.add_argument_group("what to talk to")
    window = parser.add_argument_group("the window (--capture and --log-file: --headless too)")
    headless = parser.add_argument_group("--headless: no window, the exchange in the terminal")
    target.add_argument(
        "--server",
        type=host_port,
        metavar="HOST:PORT",
        help="the server to talk to (default: start the demo server on 127.0.0.1, free port)",
    )
    target.add_argument(
        "--framing",
        type=framing_words,
        metavar="SPEC",
        help=f"length-prefix framing: a preset ({', '.join(PRESETS)}) or framing words "
        "such as 'be32,offset=1,adjust=-4' (default: le32, 4-byte little-endian)",
    )
    window.add_argument(
        "--capture",
        metavar="FILE",
        help="append every frame and session event to FILE (JSON lines, rotated by size; "
        "see docs/recording.md); the GUI's Capture toggle starts on",
    )
    target.add_argument(
        "--demo-mode",
        choices=("classic", "echo"),
        metavar="MODE",
        help="how the demo server answers: classic ('hello, client! you said: hello', the "
        "default) or echo; not with --server",
    )
    window.add_argument(
        "--log-file",
        type=writable_file,
        metavar="PATH",
        help="also write the log to PATH (the GUI's log; with --headless, the terminal output)",
    )
    headless.add_argument(
        "--headless",
        action="store_true",
        help="no GUI: connect, send 'hello' (or the frames of --send/--send-hex), print what "
        "was sent and the replies with timestamps, disconnect; exits with the engine CLI's "
        "code (for SSH sessions and CI)",
    )
    headless.add_argument(
        "--send",
        dest="sends",
        action=_KeepOrder,
        default=[],
        metavar="TEXT",
        help="--headless only: send TEXT as one frame instead of 'hello'; repeatable",
    )
    headless.add_argument(
        "--send-hex",
        dest="sends",
        action=_KeepOrder,
        metavar="HEX",
        help="--headless only: send these bytes (e.g. 'de ad be ef') as one frame; repeatable "
        "(more: framewire-engine --help)",
    )
    headless.add_argument(
        "--timeout",
        type=non_negative(float, "number of seconds"),
        metavar="SECONDS",
        help="--headless only: give up (exit 5) if the replies have not come SECONDS after "
        "connecting (default: 10 s without a reply; 0: wait forever)",
    )
    target.add_argument(
        "--tls",
        action="store_true",
        help="TLS: the built-in demo server serves TLS with a throwaway CA made at start, which "
        "the window (or --headless) trusts; with --server, speak TLS to it (system CAs, or "
        "--cafile)",
    )
    target.add_argument(
        "--cafile",
        metavar="PATH",
        help="with --server: trust the CAs in PATH (implies --tls)",
    )
    target.add_argument(
        "--attach",
        nargs="?",
        const="",
        metavar="PATH",
        help="the GUI attaches to a running engine (framewire-engine --serve-ipc [PATH]) "
        "instead of starting its own, and no demo server is started; closing the window "
        "detaches and leaves that engine and its sessions running",
    )
    window.add_argument(
        "--offscreen",
        action="store_true",
        help="run the GUI without a display (QT_QPA_PLATFORM=offscreen), e.g. in CI",
    )
    window.add_argument(
        "--quit-after",
        type=positive(float, "number of seconds"),
        metavar="SECONDS",
        help="close the window after SECONDS, as a user would (scripted quit for CI)",
    )
    window.add_argument(
        "--tick-log",
        type=writable_file,
        metavar="PATH",
        help="record the animation's tick intervals to PATH (the GUI's responsiveness probe)",
    )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and cross-check the command line; exits 2 with one line on bad usage."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.server is not None and args.demo_mode is not None:
        parser.error("--demo-mode applies to the built-in demo server, not to --server")
    if args.cafile is not None:
        if args.server is None:
            parser.error("--cafile is for --server (the demo server's CA is trusted by itself)")
        args.tls = True
    if args.attach is not None:
        if args.tls:
            parser.error("--attach uses the engine's sessions: --tls does not apply")
        if args.headless:
            parser.error("--attach applies to the GUI (from a terminal: framewire-engine --attach)")
        if args.demo_mode is not None:
            parser.error("--attach starts no demo server, so --demo-mode does not apply")
    if args.headless:
        for name in ("quit_after", "tick_log"):
            if getattr(args, name) is not None:
                parser.error(f"--{name.replace('_', '-')} applies to the GUI, not to --headless")
    else:
        for option, value in (("--timeout", args.timeout), ("--send/--send-hex", args.sends)):
            if value:
                parser.error(f"{option} applies to --headless")
    return args


def start_demo_server(
    *, framing: str | None = None, mode: str = "classic", tls_dir: str | None = None
) -> DemoServer:
    """Start the demo server on a free loopback port, as the launcher's child: in its own
    process group, dying with us; its stderr (its log) is inherited.

    Raises:
        LaunchError: it did not start (``tools.demo_server.start_demo_server``).
    """
    args = ["--mode", mode] if framing is None else ["--mode", mode, "--framing", framing]
    if tls_dir is not None:
        args += ["--tls", "--tls-dir", tls_dir]
    try:
        return demo_server.start_demo_server(
            *args, stdin=subprocess.DEVNULL, **spawn_kwargs(pdeathsig=True)
        )
    except DemoServerError as exc:
        raise LaunchError(str(exc)) from None


def child_environment(args: argparse.Namespace) -> dict[str, str]:
    """The GUI's environment: ours, plus the lifeline promise and the Qt platform."""
    env = dict(os.environ)
    env[ENV_PARENT_PID] = str(os.getpid())
    if args.offscreen:
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def gui_command(
    args: argparse.Namespace, server: str | None, python: str = sys.executable
) -> list[str]:
    """``python -m ui`` with the options that concern it."""
    cmd = [python, "-m", "ui"]
    if server is not None:
        cmd += ["--server", server]
    cmd += _tls_options(args)
    if args.attach is not None:
        cmd += ["--attach", args.attach] if args.attach else ["--attach"]
    for option, value in (
        ("--framing", args.framing),
        ("--capture", args.capture),
        ("--log-file", args.log_file),
        ("--quit-after", args.quit_after),
        ("--tick-log", args.tick_log),
    ):
        if value is not None:
            cmd += [option, str(value)]
    return cmd


def headless_command(
    args: argparse.Namespace, server: str, python: str = sys.executable
) -> list[str]:
    """The engine CLI doing the classic exchange: send ``hello`` (or ``--send``/``--send-hex``
    frames, in order), print what was sent and the replies."""
    sends = [arg for pair in args.sends for arg in pair] or ["--send", "hello"]
    cmd = [python, "-m", "engine", server, *sends, "--output", "text", "--show-sent"]
    cmd += _tls_options(args)
    if args.framing is not None:
        cmd += ["--framing", args.framing]
    if args.timeout is not None:
        cmd += ["--timeout", str(args.timeout)]
    if args.capture is not None:
        cmd += ["--capture", args.capture]
    return cmd


def _tls_options(args: argparse.Namespace) -> list[str]:
    """``--tls`` and the CA file to trust (the demo server's, or ``--cafile``)."""
    if not args.tls:
        return []
    cafile = getattr(args, "demo_cafile", None) or args.cafile
    return ["--tls"] + (["--cafile", cafile] if cafile else [])


def _tee(source: IO[bytes], sinks: Sequence[IO[bytes]]) -> threading.Thread:
    def copy() -> None:
        for line in source:
            for sink in sinks:
                sink.write(line)
                sink.flush()

    thread = threading.Thread(target=copy, name="tee", daemon=True)
    thread.start()
    return thread


def _run_headless(args: argparse.Namespace, server: str, signals: StopSignals) -> int:
    log_file = open(args.log_file, "ab") if args.log_file else None  # noqa: SIM115
    pipe = subprocess.PIPE if log_file else None
    signals.supervising = True  # from here a stop signal is queued for run_supervised
    # The engine may not import tools, so the launcher arms its PR_SET_PDEATHSIG.
    process = subprocess.Popen(
        headless_command(args, server),
        stdin=subprocess.DEVNULL,
        stdout=pipe,
        stderr=pipe,
        **spawn_kwargs(pdeathsig=True),
    )
    tees: list[threading.Thread] = []
    if log_file is not None:
        assert process.stdout is not None and process.stderr is not None
        tees = [
            _tee(process.stdout, [sys.stdout.buffer, log_file]),
            _tee(process.stderr, [sys.stderr.buffer, log_file]),
        ]
    try:
        code = run_supervised(process, signals.events, group=True)
        for tee in tees:
            tee.join()
        return code
    finally:
        _stop_group(process)
        if log_file is not None:
            log_file.close()


def _run_gui(args: argparse.Namespace, server: str | None, signals: StopSignals) -> int:
    signals.supervising = True  # from here a stop signal is queued for run_supervised
    process = subprocess.Popen(
        gui_command(args, server),
        stdin=subprocess.PIPE,  # the lifeline: only we hold the write end (ui.lifeline)
        env=child_environment(args),
        **spawn_kwargs(),
    )
    try:
        return run_supervised(process, signals.events, group=True)
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Reap the main child (killing it if an error brought us here), then its group."""
    stop_process(process, 0)
    if sys.platform != "win32" and sweep_process_group(process.pid):
        warn(f"killed processes left behind by pid {process.pid}")


def launch(args: argparse.Namespace) -> int:
    """Start what ``args`` asks for, wait for it, stop everything; return the exit code."""
    if not args.headless and not args.offscreen:
        problem = display_problem(os.environ)
        if problem is not None:
            raise LaunchError(problem, exit_code=EXIT_USAGE)
    demo: DemoServer | None = None
    with StopSignals() as signals, contextlib.ExitStack() as cleanup:
        try:
            server: str | None = None
            if args.server is not None:
                server = format_address(*args.server)
            elif args.attach is None:  # an attached window uses the engine's sessions
                tls_dir = None
                if args.tls:  # the demo server's throwaway CA, trusted by our client
                    tls_dir = cleanup.enter_context(
                        tempfile.TemporaryDirectory(prefix="framewire-tls-")
                    )
                    args.demo_cafile = os.path.join(tls_dir, "ca.pem")
                demo = start_demo_server(
                    framing=args.framing, mode=args.demo_mode or "classic", tls_dir=tls_dir
                )
                server = format_address(demo.host, demo.port)
            if args.headless:
                assert server is not None
                return _run_headless(args, server, signals)
            return _run_gui(args, server, signals)
        except StopRequested:
            return 0
        finally:
            # A signal from here on is queued and ignored: the demo server is stopped anyway.
            signals.supervising = True
            if demo is not None and stop_process(demo.process, STOP_GRACE_SECONDS) is None:
                warn(f"the demo server did not stop within {STOP_GRACE_SECONDS} s")


def main(argv: Sequence[str] | None = None) -> int:
    """The ``framewire`` console script and ``python -m tools.launch``."""
    args = parse_args(argv)
    become_subreaper()
    try:
        return launch(args)
    except LaunchError as exc:
        warn(str(exc))
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
