"""``--serve-ipc [PATH]``: claim the socket, then run the long-lived engine on it
(``engine.rpc.unix``) until ``shutdown`` or SIGTERM."""

from __future__ import annotations

import argparse
import sys

from engine.cli.exits import EXIT_USAGE
from engine.cli.parse import PROG
from engine.rpc.history import History
from engine.rpc.socket_file import SocketInUse, claim_socket
from engine.rpc.unix import run_socket
from ipc.socket_path import SocketPathError, socket_path

__all__ = ["run_serve"]


def run_serve(args: argparse.Namespace) -> int:
    """Serve at ``--serve-ipc``'s PATH; the exit code (2 if the path cannot be used or a
    live engine serves there already)."""
    try:
        path = socket_path(args.serve_ipc or None)
        claimed = claim_socket(path)
    except SocketInUse as exc:
        hint = "attach to it with --attach, or choose another PATH"
        print(f"{PROG}: {exc} ({hint})", file=sys.stderr)
        return EXIT_USAGE
    except SocketPathError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    history = History(frames_per_session=args.history_frames, total_bytes=args.history_mib * 2**20)
    interval = args.stats_interval
    return run_socket(claimed, history=history, stats_interval=interval or None)
