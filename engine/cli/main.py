"""The command line's main function (``framewire-engine`` / ``python -m engine`` start in
``engine.cli.start``, which calls it): parse the command line, tune the process, run the
chosen mode, exit with its documented code."""

from __future__ import annotations

import argparse
import gc
import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from engine.allocator import tune_allocator
from engine.cli.connect import run_client
from engine.cli.exits import EXIT_OK, EXIT_PROTOCOL, UsageError, run_mode, stdout_gone
from engine.cli.parse import PROG, build_parser
from engine.cli.plan import Plan, ServerPlan, make_plan, make_server_plan

if TYPE_CHECKING:
    from engine.cli.script_plan import ScriptPlan

__all__ = ["GC_YOUNG_THRESHOLD", "main", "tune_gc"]

#: New container objects (net of those freed) between two young collections of the
#: cyclic GC in the engine process; CPython's default is 700. See ``tune_gc``.
GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Make the cyclic garbage collector of the engine process run less often.

    Why: every session holds ~30 long-lived container objects (its task, nursery, cancel
    scope, coroutine frames, socket objects). With CPython's default threshold the
    collector starts every 700 of them and keeps re-scanning the older generations as
    they grow: opening 10,000 idle sessions spent ~0.74 s of its ~3.3 s of CPU in the
    GC; with ``GC_YOUNG_THRESHOLD`` ~0.17 s (``tools/bench/sessions.py``). Only objects
    that stay alive count towards the threshold (reference counting frees the rest at
    once), so a busy session's traffic does not set off collections; cyclic garbage waits
    for at most that many new objects (a few MB). ``gc.freeze()`` after the imports was
    measured too and gave nothing clear, so it is not done.

    Called by ``main`` only: the GUI, the tests and programs that import the engine as a
    library keep Python's defaults.
    """
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point: parse, run, exit with a documented code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    plan: Plan | ServerPlan | None = None
    other_mode = args.api_info or args.stdio or args.serve_ipc is not None
    other_mode = other_mode or bool(args.to_pcapng) or args.guess_framing
    other_mode = other_mode or args.list_engines or args.attach is not None
    scripted = bool(args.scripts) or args.replay is not None
    if args.session is not None and args.attach is None and not scripted:
        parser.error(
            "--session ID names a session of a running engine (with --attach) or of a "
            "recording (with --replay)"
        )
    if not scripted:
        _check_script_options(parser, args)
    if scripted and not other_mode:
        from engine.cli.script_plan import make_script_plan

        try:
            script_plan = make_script_plan(args)
        except UsageError as exc:
            parser.error(str(exc))
        tune_allocator()
        tune_gc()
        sys.exit(_run_scripted(script_plan))
    if not (other_mode or args.guess_from is not None):
        server = args.listen is not None or args.relay is not None
        try:
            # A bad command line is reported before anything else.
            plan = make_server_plan(args) if server else make_plan(args)
        except UsageError as exc:
            parser.error(str(exc))  # exits 2 with one line
    tune_allocator()
    tune_gc()
    if args.api_info:
        import json

        from engine.rpc.handshake import api_info  # lazily: client mode needs no IPC layer

        try:
            print(json.dumps(api_info(), indent=2, default=str), flush=True)
        except BrokenPipeError:
            stdout_gone()
        sys.exit(EXIT_OK)
    if args.stdio:
        from engine.rpc.stdio import run_stdio

        interval = args.stats_interval
        if not (interval >= 0 and math.isfinite(interval)):
            parser.error(f"--stats-interval must be >= 0 (0: no stats events), not {interval}")
        # 4 (protocol error): the controller's bytes broke the IPC stream.
        sys.exit(EXIT_OK if run_stdio(interval) is None else EXIT_PROTOCOL)
    if args.serve_ipc is not None:
        from engine.cli.serve import run_serve

        sys.exit(run_serve(args))
    if args.to_pcapng:
        from engine.cli.export import to_pcapng

        try:
            packets = to_pcapng(*args.to_pcapng)
        except UsageError as exc:
            parser.error(str(exc))
        print(f"{PROG}: wrote {packets} packets to {args.to_pcapng[1]}", file=sys.stderr)
        sys.exit(EXIT_OK)
    if args.guess_framing or args.guess_from is not None:
        from engine.cli.guess import make_guess_plan, run_guess

        try:
            guess = make_guess_plan(args)
        except UsageError as exc:
            parser.error(str(exc))
        sys.exit(run_mode(run_guess, guess))
    if args.list_engines:
        from engine.cli.engines import run_list_engines

        sys.exit(run_mode(run_list_engines, args.output))
    if args.attach is not None:
        from engine.cli.attach import make_attach_plan, run_attach

        try:
            attach = make_attach_plan(args)
        except UsageError as exc:
            parser.error(str(exc))
        sys.exit(run_mode(run_attach, attach))
    if isinstance(plan, ServerPlan):
        from engine.cli.listen import run_server  # --listen, --relay

        sys.exit(run_mode(run_server, plan))
    assert plan is not None
    sys.exit(run_mode(run_client, plan))


def _check_script_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Options of --script and --replay given without either: say so (exit 2)."""
    for option, given in (
        ("--junit", args.junit is not None),
        ("--keep-timing", args.keep_timing),
        ("--ignore", bool(args.ignores)),
        ("--clients", args.clients is not None),
    ):
        if given:
            parser.error(f"{option} goes with --script or --replay")
    saved = any(tag == "saved" for tag, _ in args.sends)
    if args.variables and not saved:
        parser.error("--var sets variables of --send-saved messages or of --script")
    if args.project is not None and not saved:
        parser.error("--project FILE goes with --send-saved NAME or --script")


def _run_scripted(plan: ScriptPlan) -> int:
    if plan.role == "server":
        from engine.cli.listen import run_scripted_server

        return run_mode(run_scripted_server, plan)
    from engine.cli.script_run import run_scripts

    return run_mode(run_scripts, plan)
