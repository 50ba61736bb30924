"""Memory and set-up time of many idle sessions: one framewire engine vs Twisted vs asyncio.

Each client opens N connections (10,000; 1,000 with ``--quick``) to a trio listener that
accepts and idles, and keeps them open and idle. Reported per client: the seconds to set
all of them up, and its process's RSS growth per session (RSS after minus RSS before,
divided by N). Every measurement runs in fresh processes (listener and client apart), so
one contender's heap does not carry over to the next; the median of ``--runs`` is kept.

The contenders, each how a developer of that library keeps idle sessions:
- ``framewire``: one engine (``engine.open_engine``) in the measuring process, with the
  garbage collector tuned as the engine process tunes it (``engine.cli.main.tune_gc``),
  ``await engine.connect(...)`` per session; each session has its reader task;
- ``framewire-process``: the engine process as the GUI runs it (``python -m engine
  --stdio``), each session opened with an ``open`` request over its pipe; the RSS is
  the engine process's, so it includes the RPC server's per-session state;
- ``twisted``: the default reactor, ``TCP4ClientEndpoint.connect`` with a ``Protocol``;
- ``asyncio``: ``asyncio.open_connection`` with a reader task per session.

Connects are issued ``CONNECT_CONCURRENCY`` at a time by every contender, so the
listener's accept backlog never overflows into SYN retries (which would measure the
kernel's 1 s retransmission timer, not the client). The trio and asyncio clients do it
with that many workers taking the next connect in turn, not a task per session waiting
on a semaphore: 10,000 waiting tasks are the harness's, not the sessions', and the
memory they held during set-up stayed in the RSS as freed-but-kept pools (~2 KiB a
session). Twisted's ``DeferredSemaphore`` holds a small Deferred per waiting connect.

Targets (issue 15): framewire's set-up time and RSS per session at most Twisted's
(``make bench``'s ``sessions``; the report shows the same table).

Run: ``python -m tools.bench --only sessions`` or
``python -m tools.bench.sessions [--quick] [--sessions N] [--runs R] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from tools.bench.suite import Benchmark, BenchOptions, BenchResult, Target

CONTENDERS = ("framewire", "framewire-process", "twisted", "asyncio")
#: The issue's targets: framewire / Twisted, for set-up time and RSS per session.
GOAL_RATIO = 1.0
#: Connects in flight at once, below the default listen backlog (and somaxconn).
CONNECT_CONCURRENCY = 128
LOOPBACK = "127.0.0.1"
#: File descriptors each process needs beyond its sessions (stdio, epoll, pipes, ...).
SPARE_FDS = 256
#: One contender run is killed after this (10,000 sessions take seconds to set up; a
#: contender that needs minutes is reported as failed rather than stalling the report).
RUN_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionsResult:
    """One contender, median over runs."""

    contender: str
    sessions: int
    setup_seconds: float
    #: CPU time of the process holding the sessions during set-up (steadier than the wall
    #: time on a busy machine).
    setup_cpu_seconds: float
    rss_per_session_kib: float
    rss_total_mib: float  # RSS of the client process with every session open
    runs: int


def raise_fd_limit(needed: int) -> None:
    """Raise this process's soft RLIMIT_NOFILE to cover ``needed`` descriptors.

    Raises:
        RuntimeError: the hard limit is too low (raise it with ulimit -Hn, as root).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed + SPARE_FDS
    if hard != resource.RLIM_INFINITY and hard < want:
        raise RuntimeError(f"need {want} file descriptors, hard limit is {hard}")
    if soft == resource.RLIM_INFINITY or soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


# ----------------------------------------------------------------------------- the listener


def _serve_idle() -> None:
    """Accept every connection and hold it, idle, until stdin closes (our parent is gone)."""
    import trio

    async def hold(stream: trio.SocketStream) -> None:
        async with stream:
            await trio.sleep_forever()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            listeners = await trio.open_tcp_listeners(0, host=LOOPBACK, backlog=4096)
            print(listeners[0].socket.getsockname()[1], flush=True)
            nursery.start_soon(trio.serve_listeners, hold, listeners)
            await trio.to_thread.run_sync(sys.stdin.read)
            nursery.cancel_scope.cancel()

    trio.run(main)


# ----------------------------------------------------------------------------- the clients
# Each returns (setup_seconds, setup_cpu_seconds, rss_before, rss_after) with all
# sessions open and idle.

Measurement = tuple[float, float, int, int]


def _cpu_seconds(process: psutil.Process | None = None) -> float:
    """User + system CPU seconds of ``process`` (default: this one)."""
    times = (process or psutil.Process()).cpu_times()
    return float(times.user + times.system)


def _client_framewire(port: int, count: int) -> Measurement:
    import trio

    from engine import open_engine
    from engine.cli.main import tune_gc

    tune_gc()

    async def drain(events: trio.MemoryReceiveChannel[object]) -> None:
        # The engine's event channel is bounded: someone must read it (the RPC server
        # does in the engine process), or connects stop once it is full.
        async for _ in events:
            pass

    async def main() -> Measurement:
        async with trio.open_nursery() as outer, open_engine(max_sessions=count) as engine:
            outer.start_soon(drain, engine.events)
            left = iter(range(count))

            async def connect_some() -> None:
                for _ in left:
                    await engine.connect(LOOPBACK, port)

            before = _rss()
            start, cpu = time.perf_counter(), _cpu_seconds()
            async with trio.open_nursery() as nursery:
                for _ in range(CONNECT_CONCURRENCY):
                    nursery.start_soon(connect_some)
            elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
            await trio.sleep(0.2)  # let every session reach its idle wait
            return elapsed, cpu, before, _rss()

    return trio.run(main)


def _client_framewire_process(port: int, count: int) -> Measurement:
    """The engine as the GUI runs it: ``python -m engine --stdio``, sessions opened over
    its pipe; the RSS measured is the engine process's (it inherits our fd limit)."""
    import trio

    from ipc.schema import Open
    from ipc.trio_channel import open_engine_process

    async def main() -> Measurement:
        left = iter(range(count))
        async with open_engine_process() as client:
            assert client.process is not None
            engine = psutil.Process(client.process.pid)

            async def drain() -> None:
                async for _ in client.events():
                    pass

            async def open_some() -> None:
                for _ in left:
                    await client.call(Open(host=LOOPBACK, port=port))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(drain)
                before = engine.memory_info().rss
                start, cpu = time.perf_counter(), _cpu_seconds(engine)
                async with trio.open_nursery() as opening:
                    for _ in range(CONNECT_CONCURRENCY):
                        opening.start_soon(open_some)
                elapsed, cpu = time.perf_counter() - start, _cpu_seconds(engine) - cpu
                await trio.sleep(0.2)
                after = engine.memory_info().rss
                nursery.cancel_scope.cancel()
            return elapsed, cpu, before, after

    return trio.run(main)


def _client_twisted(port: int, count: int) -> Measurement:
    from twisted.internet import defer, endpoints, protocol, reactor, task

    class Idle(protocol.Protocol):
        pass

    factory = protocol.Factory.forProtocol(Idle)
    endpoint = endpoints.TCP4ClientEndpoint(reactor, LOOPBACK, port)
    semaphore = defer.DeferredSemaphore(CONNECT_CONCURRENCY)
    outcome: list[Measurement] = []
    failures: list[object] = []

    async def main() -> None:
        before = _rss()
        start, cpu = time.perf_counter(), _cpu_seconds()
        connections = await defer.gatherResults(
            [semaphore.run(endpoint.connect, factory) for _ in range(count)],
            consumeErrors=True,
        )
        elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
        await task.deferLater(reactor, 0.2, lambda: None)
        outcome.append((elapsed, cpu, before, _rss()))
        del connections  # held open until measured

    def run() -> None:
        done = defer.ensureDeferred(main())
        done.addErrback(failures.append)
        done.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(run)
    reactor.run()
    if not outcome:
        raise RuntimeError(f"twisted client failed before measuring: {failures}")
    return outcome[0]


def _client_asyncio(port: int, count: int) -> Measurement:
    import asyncio

    async def main() -> Measurement:
        readers: list[asyncio.Task[bytes]] = []
        writers: list[asyncio.StreamWriter] = []
        left = iter(range(count))

        async def connect_some() -> None:
            for _ in left:
                reader, writer = await asyncio.open_connection(LOOPBACK, port)
                writers.append(writer)
                readers.append(asyncio.ensure_future(reader.read(1)))

        before = _rss()
        start, cpu = time.perf_counter(), _cpu_seconds()
        await asyncio.gather(*(connect_some() for _ in range(CONNECT_CONCURRENCY)))
        elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
        await asyncio.sleep(0.2)
        after = _rss()
        for reading in readers:
            reading.cancel()
        for writer in writers:
            writer.close()
        return elapsed, cpu, before, after

    return asyncio.run(main())


CLIENTS: dict[str, Callable[[int, int], Measurement]] = {
    "framewire": _client_framewire,
    "framewire-process": _client_framewire_process,
    "twisted": _client_twisted,
    "asyncio": _client_asyncio,
}


# ----------------------------------------------------------------------------- the parent


def _measure_once(contender: str, count: int) -> Measurement:
    """Fresh listener and client processes; returns the client's measurement."""
    me = [sys.executable, "-m", "tools.bench.sessions"]
    listener = subprocess.Popen(
        [*me, "--role", "listener", "--sessions", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stdout is not None
        port = int(listener.stdout.readline())
        try:
            client = subprocess.run(
                [*me, "--role", contender, "--port", str(port), "--sessions", str(count)],
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{contender} client: no result after {exc.timeout:.0f} s") from exc
        if client.returncode != 0:
            raise RuntimeError(f"{contender} client failed:\n{client.stderr[-2000:]}")
        elapsed, cpu, before, after = json.loads(client.stdout.strip().splitlines()[-1])
        return elapsed, cpu, before, after
    finally:
        assert listener.stdin is not None
        listener.stdin.close()  # the listener's cue to stop
        try:
            listener.wait(timeout=10)
        except subprocess.TimeoutExpired:
            listener.kill()
            listener.wait()


def measure(contender: str, count: int, runs: int) -> SessionsResult:
    samples = [_measure_once(contender, count) for _ in range(runs)]
    return SessionsResult(
        contender=contender,
        sessions=count,
        setup_seconds=statistics.median(s[0] for s in samples),
        setup_cpu_seconds=statistics.median(s[1] for s in samples),
        rss_per_session_kib=statistics.median((s[3] - s[2]) / count / 1024 for s in samples),
        rss_total_mib=statistics.median(s[3] / 2**20 for s in samples),
        runs=runs,
    )


def run_all(*, sessions: int, runs: int, problems: list[str] | None = None) -> list[SessionsResult]:
    """Every contender; one that fails is left out, and said in ``problems`` if given.

    Raises:
        RuntimeError: a contender failed and no ``problems`` list was given.
    """
    results = []
    for contender in CONTENDERS:
        try:
            results.append(measure(contender, sessions, runs))
        except RuntimeError as exc:
            if problems is None:
                raise
            problems.append(f"idle sessions, {contender}: {exc}")
    return results


def format_table(results: list[SessionsResult]) -> str:
    """Markdown table; each ratio is the contender's figure over Twisted's (lower is
    better), or over the first contender's if Twisted was not measured."""
    base = next((r for r in results if r.contender == "twisted"), results[0])

    def ratio(value: float, reference: float) -> str:
        return f"{value / reference:.2f}x" if reference > 0 else "n/a"

    lines = [
        f"| client ({base.sessions:,} idle sessions) | set-up s | vs {base.contender} "
        f"| set-up CPU s | vs {base.contender} | RSS KiB/session | vs {base.contender} "
        "| RSS total MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.contender} | {r.setup_seconds:.2f} | "
            f"{ratio(r.setup_seconds, base.setup_seconds)} | {r.setup_cpu_seconds:.2f} | "
            f"{ratio(r.setup_cpu_seconds, base.setup_cpu_seconds)}"
            f" | {r.rss_per_session_kib:.1f} | "
            f"{ratio(r.rss_per_session_kib, base.rss_per_session_kib)} | {r.rss_total_mib:.0f} |"
        )
    return "\n".join(lines)


def targets(results: list[SessionsResult]) -> tuple[Target, ...]:
    """framewire / Twisted for set-up time and RSS per session (none if either is
    missing)."""
    by_name = {r.contender: r for r in results}
    framewire, twisted = by_name.get("framewire"), by_name.get("twisted")
    if framewire is None or twisted is None:
        return ()
    return (
        Target(
            name=f"{framewire.sessions:,} idle sessions: set-up time, framewire / Twisted",
            measured=framewire.setup_seconds / twisted.setup_seconds,
            goal=GOAL_RATIO,
            higher_is_better=False,
        ),
        Target(
            name=f"{framewire.sessions:,} idle sessions: RSS per session, framewire / Twisted",
            measured=framewire.rss_per_session_kib / twisted.rss_per_session_kib,
            goal=GOAL_RATIO,
            higher_is_better=False,
        ),
    )


def run(options: BenchOptions) -> BenchResult:
    """``tools.bench`` entry: every contender, 10,000 sessions (1,000 quick)."""
    problems: list[str] = []
    results = run_all(
        sessions=1_000 if options.quick else 10_000,
        runs=options.runs_or(3, 1),
        problems=problems,
    )
    if not results:
        raise RuntimeError("; ".join(problems) or "no contender ran")
    load = os.getloadavg()[0]
    markdown = "\n".join(
        [
            format_table(results),
            "",
            f"Median of {results[0].runs} run(s); load average {load:.2f} at the end. Set-up "
            "CPU: the process holding the sessions (for framewire-process, the engine's).",
            *[f"Not measured: {p.splitlines()[0]}" for p in problems],
        ]
    )
    return BenchResult(
        markdown=markdown, data=[asdict(r) for r in results], targets=targets(results)
    )


BENCHMARK = Benchmark(
    name="sessions",
    title="Many idle sessions: set-up time and memory, framewire vs Twisted and asyncio",
    run=run,
    description=__doc__ or "",
)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.sessions",
        description="Memory and set-up time of N idle loopback sessions per client library.",
    )
    parser.add_argument("--quick", action="store_true", help="1,000 sessions, one run")
    parser.add_argument("--sessions", type=int, help="sessions per client (default 10,000)")
    parser.add_argument("--runs", type=int, help="runs per client; the median is kept")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--role", choices=("listener", *CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sessions is None:
        args.sessions = 1_000 if args.quick else 10_000
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.sessions < 1 or args.runs < 1:
        parser.error("--sessions and --runs must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    if args.role == "listener":
        raise_fd_limit(args.sessions)
        _serve_idle()
    elif args.role is not None:
        raise_fd_limit(args.sessions)
        print(json.dumps(CLIENTS[args.role](args.port, args.sessions)))
    else:
        problems: list[str] = []
        results = run_all(sessions=args.sessions, runs=args.runs, problems=problems)
        if results:
            print(format_table(results))
        for problem in problems:
            print(f"not measured: {problem}", file=sys.stderr)
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
