"""framewire's benchmarks (``make bench``), kept apart from the tools a user runs.

- ``suite``: what a benchmark is (``Benchmark``, ``BenchOptions``, ``BenchResult``,
  ``Target``), the ``REGISTRY`` of them, and running them into one report
  (``python -m tools.bench``).
- ``receive``: one session's receive throughput against Twisted, asyncio and a
  blocking socket.
- ``ipc``: frames through the engine process and its pipe to a trio controller.
- ``gui``: frames into the GUI's log model while the animation is measured.
- ``sessions``: the cost of many idle sessions.
- ``report``: runs all of them plus the design comparison and writes
  ``docs/benchmarks.md`` and its chart.
- ``designs/``: the classic sample built four ways (Twisted in Qt, qtrio, qasync,
  framewire), run through one timeline for the report.
"""
