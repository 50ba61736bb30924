"""The stdio transport: ``framewire-engine --stdio``, the engine a GUI starts.

The real stdin/stdout carry MessagePack-RPC and nothing else; ``server.serve_engine``
serves them until EOF (the GUI's process is gone), ``shutdown``, or bytes from the
controller that break the stream (then the engine exits too: its only channel died).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import sys
from collections.abc import Iterator

import trio

from engine.rpc.server import serve_engine
from ipc.errors import ProtocolViolation

__all__ = ["run_stdio"]

#: Linux lets a pipe grow from 64 KiB; a bigger pipe means fewer wake-ups per MiB.
PIPE_BYTES = 1024 * 1024
_F_SETPIPE_SZ = 1031


def _take_stdio() -> tuple[int, int]:
    """Keep the real stdin/stdout for IPC only; point fds 0/1 and sys.stdout elsewhere.

    A stray ``print`` (ours or a library's) then lands on stderr instead of corrupting
    the stream, and nothing else can read our requests.
    """
    sys.stdout.flush()
    ipc_in, ipc_out = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    with contextlib.suppress(OSError):  # Linux only, and only for pipes: best effort
        fcntl.fcntl(ipc_out, _F_SETPIPE_SZ, PIPE_BYTES)
    return ipc_in, ipc_out


@contextlib.contextmanager
def _blocking_restored(*fds: int) -> Iterator[None]:
    """Undo FdStream's O_NONBLOCK on the way out.

    The flag lives on the file description, which we share with whoever handed us the
    fd (with an interactive shell, the terminal); leaving it set would break them.
    """
    kept = [(os.dup(fd), os.get_blocking(fd)) for fd in fds]
    try:
        yield
    finally:
        for fd, blocking in kept:
            with contextlib.suppress(OSError):
                os.set_blocking(fd, blocking)
            os.close(fd)


async def _serve_stdio(
    ipc_in: int, ipc_out: int, stats_interval: float | None
) -> ProtocolViolation | None:
    async with (
        trio.lowlevel.FdStream(ipc_in) as receive_stream,
        trio.lowlevel.FdStream(ipc_out) as send_stream,
    ):
        return await serve_engine(receive_stream, send_stream, stats_interval=stats_interval)


def run_stdio(stats_interval: float | None) -> ProtocolViolation | None:
    """Serve the controller on stdin/stdout until EOF, ``shutdown`` or a protocol
    violation, with a ``stats`` event every ``stats_interval`` seconds (None or 0: none).

    Returns the violation that closed the channel (the CLI exits 4), or None (exit 0).
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(
            stream=sys.stderr, level=logging.INFO, format="framewire-engine: %(message)s"
        )
    ipc_in, ipc_out = _take_stdio()
    with _blocking_restored(ipc_in, ipc_out):
        return trio.run(functools.partial(_serve_stdio, ipc_in, ipc_out, stats_interval or None))
