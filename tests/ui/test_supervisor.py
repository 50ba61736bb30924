"""EngineSupervisor and EngineClient against real processes (a real engine, or a stand-in
program that crashes at once to exercise the restart budget)."""

import os
import signal

from ipc import schema
from ui.engine_client import EngineClient
from ui.restart_budget import RestartBudget
from ui.supervisor import EngineState, EngineSupervisor

from .conftest import ENGINE_START_TIMEOUT_MS, stop_supervisor

CRASHING_ENGINE = ("-c", "import sys; sys.stderr.write('boom: no config\\n'); sys.exit(3)")


def test_crash_loop_stops_at_the_budget_then_waits_for_the_user(qtbot):
    supervisor = EngineSupervisor(args=CRASHING_ENGINE, budget=RestartBudget(max_restarts=2))
    crashes = []
    supervisor.engine_crashed.connect(lambda generation, why: crashes.append((generation, why)))
    with qtbot.waitSignal(supervisor.restart_budget_exhausted, timeout=10_000):
        supervisor.start()
    assert [g for g, _ in crashes] == [1, 2, 3]
    assert "exited with code 3" in crashes[0][1] and "boom: no config" in crashes[0][1]
    status = supervisor.status
    assert status.state is EngineState.CRASHED and status.waiting_for_user
    with qtbot.waitSignal(supervisor.engine_crashed, timeout=10_000):
        supervisor.restart()  # the user's restart is not limited by the budget
    assert supervisor.generation == 4
    stop_supervisor(qtbot, supervisor)
    assert supervisor.status.state is EngineState.STOPPED


def test_client_fails_cleanly_without_an_engine_and_for_lost_sessions(qtbot):
    client = EngineClient()
    results = []
    client.request(schema.Ping(token=0), lambda r, e: results.append(e.type))
    assert results == []  # never called from inside the call
    qtbot.waitUntil(lambda: results == ["NoEngine"], timeout=1000)
    client.send(3, 1, [b"x"], lambda r, e: results.append(e.type))
    qtbot.waitUntil(lambda: results[-1] == "SessionLost", timeout=1000)


def test_requests_time_out_and_pending_ones_fail_when_the_engine_dies(qtbot):
    supervisor = EngineSupervisor()
    with qtbot.waitSignal(supervisor.engine_started, timeout=ENGINE_START_TIMEOUT_MS):
        supervisor.start()
    client = supervisor.client
    results = []
    client.request(schema.Ping(token=7), lambda r, e: results.append((r, e)), timeout_s=5)
    qtbot.waitUntil(lambda: len(results) == 1, timeout=5000)
    assert results[0][1] is None and results[0][0]["token"] == 7
    pid = supervisor.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        client.request(schema.Ping(token=0), lambda r, e: results.append((r, e)), timeout_s=0.2)
        qtbot.waitUntil(lambda: len(results) == 2, timeout=5000)
        assert results[1][1].type == "Timeout"
        client.request(schema.Ping(token=0), lambda r, e: results.append((r, e)), timeout_s=None)
        with qtbot.waitSignal(supervisor.engine_crashed, timeout=10_000):
            os.kill(pid, signal.SIGKILL)
    finally:
        if supervisor.pid == pid:  # the kill did not happen: do not leave it stopped
            os.kill(pid, signal.SIGCONT)
    qtbot.waitUntil(lambda: len(results) == 3, timeout=5000)
    assert results[2][1].type == "EngineGone"
    stop_supervisor(qtbot, supervisor)
    client.request(schema.Ping(token=0), lambda r, e: results.append((r, e)))
    qtbot.waitUntil(lambda: len(results) == 4, timeout=1000)
    assert results[3][1].type == "NoEngine"


def test_an_engine_whose_output_breaks_the_stream_is_killed_and_restarted(qtbot):
    # A stand-in engine: a real hello, then a frame that declares 4 GiB, then it stays
    # quiet (alive). The GUI must not wait for the 4 GiB: it counts the engine as failed
    # at the header, says why, kills it, and restarts it within the budget.
    from engine.rpc.handshake import hello
    from ipc.codec import encode_notification

    greeting = encode_notification("hello", hello(clock_offset=0.0).to_params())
    bomb = b"\x93\x02\xa8received\x91\x81\xa6frames\x91\xc6\xff\xff\xff\xff"
    script = (
        "import sys, time\n"
        f"sys.stdout.buffer.write({greeting + bomb!r})\n"
        "sys.stdout.flush()\n"
        "time.sleep(60)\n"
    )
    supervisor = EngineSupervisor(args=("-c", script), budget=RestartBudget(max_restarts=1))
    crashes = []
    supervisor.engine_crashed.connect(lambda generation, why: crashes.append((generation, why)))
    with qtbot.waitSignal(supervisor.restart_budget_exhausted, timeout=10_000):
        supervisor.start()
    assert [g for g, _ in crashes] == [1, 2]
    why = crashes[0][1]
    assert why.startswith("its output broke the IPC stream: bin32 declares 4,294,967,295")
    assert "(killed)" in why
    assert supervisor.status.state is EngineState.CRASHED
    stop_supervisor(qtbot, supervisor)
