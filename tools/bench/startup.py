"""Start-up of a one-shot CLI run, side by side with a bare Python script doing the same.

Scripts call ``framewire-engine HOST:PORT --send hello`` in loops, so a one-shot run's
whole-process time matters more than its throughput (issue 15, part 3). Each contender
is a fresh process of the same interpreter making the same exchange with the same
server (a thread of this process answering ``hello`` with a frame): connect, send one
le32 frame, read the reply, print it, exit. Time is the whole process, from spawn to
exit (wall, and the CPU time of the child); runs are interleaved, in a rotating order,
and the median of each is kept.

Contenders:

- **python**: ``python -c pass``, the interpreter's own start and exit (with this venv's
  site-packages): what every contender pays;
- **bare socket**: the exchange in a blocking socket script (the reference);
- **bare trio**: the exchange with ``trio.open_tcp_stream``, the least any trio program
  doing it pays (importing trio is most of it): what bounds the engine's CLI;
- **framewire**: ``framewire-engine HOST:PORT --send hello``, the console script.

One run of each comes first, unmeasured, with bytecode writing on (as a user's first
run writes the ``.pyc`` files). Targets (wall): framewire / bare socket <= 4 (the issue's),
and framewire / bare trio <= 1.1 (what the engine adds to the floor of any trio program).

Run: ``python -m tools.bench --only startup`` (or ``python -m tools.bench.startup``).
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.bench.suite import (
    Benchmark,
    BenchOptions,
    BenchResult,
    Target,
    markdown_table,
    run_alone,
)

__all__ = ["BENCHMARK", "StartupResult", "commands", "measure", "reply_server", "run", "run_once"]

#: The issue's target: a one-shot run within this many times the bare script (wall).
GOAL_RATIO = 4.0
#: What framewire adds to the floor of any trio program (the bare trio script): importing
#: trio alone costs ~4.5x the bare socket script, so the issue's 4x is out of reach of a
#: trio client; this one says the engine's own part stays small.
FLOOR_GOAL_RATIO = 1.1
REQUEST = b"hello"
REPLY = b"hello, client! you said: hello"

BARE_SOCKET = """
import socket, struct, sys
host, port = sys.argv[1].rsplit(":", 1)
with socket.create_connection((host, int(port))) as sock:
    sock.sendall(struct.pack("<I", 5) + b"hello")
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack_from("<I", data)[0]:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit(3)
        data += chunk
    print(data[4:4 + struct.unpack_from("<I", data)[0]].decode())
"""

BARE_TRIO = """
import struct, sys
import trio

async def main():
    host, port = sys.argv[1].rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(struct.pack("<I", 5) + b"hello")
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack_from("<I", data)[0]:
            chunk = await stream.receive_some(65536)
            if not chunk:
                sys.exit(3)
            data += chunk
    print(data[4:4 + struct.unpack_from("<I", data)[0]].decode())

trio.run(main)
"""


@dataclass(frozen=True, slots=True)
class StartupResult:
    contender: str
    runs: int
    wall_ms: float
    cpu_ms: float


def commands(address: str) -> dict[str, list[str]]:
    """Each contender's command line, for a server at ``address``."""
    python = sys.executable
    script = shutil.which("framewire-engine", path=str(Path(python).parent))
    framewire = [script] if script else [python, "-m", "engine"]
    return {
        "python": [python, "-c", "pass"],
        "bare socket": [python, "-c", BARE_SOCKET, address],
        "bare trio": [python, "-c", BARE_TRIO, address],
        "framewire": [*framewire, address, "--send", REQUEST.decode()],
    }


@contextmanager
def reply_server() -> Iterator[str]:
    """A loopback server (a thread) answering each le32 ``hello`` frame with ``REPLY``;
    yields its ``HOST:PORT``."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    reply = struct.pack("<I", len(REPLY)) + REPLY

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed: the benchmark is over
            with conn:
                data = b""
                while len(data) < 4 + len(REQUEST):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                else:
                    conn.sendall(reply)
                    conn.recv(1)  # until the client closes

    thread = threading.Thread(target=serve, name="startup-bench-server", daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=5)


def run_once(command: list[str], env: dict[str, str], *, exchange: bool) -> tuple[float, float]:
    """Wall and CPU seconds of one process running ``command``.

    Raises:
        RuntimeError: it failed, or (``exchange``) did not print the server's reply.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=env, timeout=60, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or (exchange and REPLY not in done.stdout):
        raise RuntimeError(
            f"{' '.join(command[:3])[:60]}... exited {done.returncode} without the reply: "
            f"{done.stderr[-500:]!r}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(runs: int) -> list[StartupResult]:
    """Every contender ``runs`` times, interleaved; the medians."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with reply_server() as address:
        lines = commands(address)
        names = list(lines)
        for name in names:  # unmeasured: writes the bytecode caches
            run_once(lines[name], env, exchange=name != "python")
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for number in range(runs):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(run_once(lines[name], env, exchange=name != "python"))
    return [
        StartupResult(
            contender=name,
            runs=runs,
            wall_ms=1000 * statistics.median(wall for wall, _ in samples[name]),
            cpu_ms=1000 * statistics.median(cpu for _, cpu in samples[name]),
        )
        for name in names
    ]


def run(options: BenchOptions) -> BenchResult:
    runs = options.runs_or(full=21, quick=5)
    load_before = os.getloadavg()
    results = measure(runs)
    load_after = os.getloadavg()
    by_name = {r.contender: r for r in results}
    bare = by_name["bare socket"]
    rows = [
        [
            r.contender,
            round(r.wall_ms, 1),
            f"{r.wall_ms / bare.wall_ms:.2f}x",
            round(r.cpu_ms, 1),
            f"{r.cpu_ms / bare.cpu_ms:.2f}x",
        ]
        for r in results
    ]
    framewire, floor = by_name["framewire"], by_name["bare trio"]
    note = (
        f"One `hello` exchange per process, median of {runs} interleaved runs; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after. framewire / bare trio: "
        f"{framewire.wall_ms / floor.wall_ms:.2f}x wall (bare trio is what importing trio "
        "and running it costs any trio program)."
    )
    return BenchResult(
        markdown=markdown_table(
            ["process", "wall ms", "vs bare socket", "CPU ms", "vs bare socket"], rows
        )
        + "\n\n"
        + note,
        data=[asdict(r) for r in results],
        targets=(
            Target(
                name="one-shot `--send hello`: framewire / bare socket script (wall)",
                measured=framewire.wall_ms / bare.wall_ms,
                goal=GOAL_RATIO,
                higher_is_better=False,
            ),
            Target(
                name="one-shot `--send hello`: framewire / bare trio script (wall)",
                measured=framewire.wall_ms / floor.wall_ms,
                goal=FLOOR_GOAL_RATIO,
                higher_is_better=False,
            ),
        ),
    )


BENCHMARK = Benchmark(
    name="startup",
    title="CLI start-up: a one-shot run vs a bare socket script",
    run=run,
    description=__doc__ or "",
)


if __name__ == "__main__":
    sys.exit(run_alone(BENCHMARK))
