"""The launcher's process handling, with small Python children of known behaviour."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import time

import psutil

from tests.process_tree import wait_gone
from tools.supervision import (
    EXIT_FORCED,
    exit_code_of,
    run_supervised,
    stop_process,
    sweep_process_group,
)

#: How long a process may take to go once it was told.
EXIT_DEADLINE_SECONDS = 3.0
#: Generous: a cold interpreter start on a loaded 2-core machine.
START_TIMEOUT_SECONDS = 30.0


def test_exit_code_of_a_signalled_child_is_128_plus_the_signal() -> None:
    assert exit_code_of(3) == 3
    assert exit_code_of(-signal.SIGKILL) == 137


#: A child that says it is ready, then waits; ``IGNORE`` makes it deaf to SIGTERM.
_CHILD = """
import signal, sys, threading
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
if sys.argv[1] == "exit3":
    sys.exit(3)
threading.Event().wait()
"""


def _child(mode: str) -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", _CHILD, mode], stdout=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    return child


def test_supervised_child_exit_code_is_passed_on() -> None:
    child = _child("exit3")
    assert run_supervised(child, queue.SimpleQueue()) == 3
    stop_process(child, 0)


def test_stop_request_terminates_the_child_and_counts_as_a_clean_exit() -> None:
    child = _child("wait")
    events: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
    events.put(("signal", signal.SIGINT))
    assert run_supervised(child, events) == 0
    assert child.returncode == -signal.SIGTERM
    stop_process(child, 0)


def test_child_deaf_to_sigterm_is_killed_after_the_grace_period() -> None:
    child = _child("ignore")
    events: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
    events.put(("signal", signal.SIGTERM))
    start = time.monotonic()  # load-safe: a lower bound (load only adds)
    assert run_supervised(child, events, grace=0.2) == EXIT_FORCED
    assert time.monotonic() - start >= 0.2  # load-safe: a lower bound
    assert child.returncode == -signal.SIGKILL
    stop_process(child, 0)


def test_second_stop_request_kills_at_once() -> None:
    child = _child("ignore")
    events: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
    events.put(("signal", signal.SIGINT))
    events.put(("signal", signal.SIGINT))
    assert run_supervised(child, events, grace=START_TIMEOUT_SECONDS) == EXIT_FORCED
    assert child.returncode == -signal.SIGKILL
    stop_process(child, 0)


#: A group leader that starts a grandchild deaf to SIGTERM, prints its pid, and waits.
_LEADER = """
import subprocess, sys, threading
grandchild = subprocess.Popen([sys.executable, "-c", sys.argv[1], "ignore"], stdout=sys.stdout)
threading.Event().wait()
"""


def _group_leader() -> tuple[subprocess.Popen[bytes], int]:
    """A child in its own process group with a grandchild; returns both when both run."""
    leader = subprocess.Popen(
        [sys.executable, "-c", _LEADER, _CHILD],
        stdout=subprocess.PIPE,
        process_group=0,
    )
    assert leader.stdout is not None
    assert leader.stdout.readline() == b"ready\n"
    (grandchild,) = psutil.Process(leader.pid).children()
    return leader, grandchild.pid


def test_forced_stop_of_a_group_leader_kills_its_whole_group() -> None:
    leader, grandchild = _group_leader()
    events: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
    events.put(("signal", signal.SIGTERM))
    events.put(("signal", signal.SIGTERM))
    assert run_supervised(leader, events, group=True) == EXIT_FORCED
    stop_process(leader, 0)
    wait_gone([grandchild], timeout=EXIT_DEADLINE_SECONDS)


def test_sweep_kills_what_a_dead_leader_left_in_its_group() -> None:
    # The GUI died and its engine cannot see the EOF (here: it is stopped).
    leader, grandchild = _group_leader()
    os.kill(grandchild, signal.SIGSTOP)
    leader.kill()
    stop_process(leader, 0)
    start = time.monotonic()  # load-safe: a lower bound (load only adds)
    assert sweep_process_group(leader.pid, grace=0.2) is True
    assert time.monotonic() - start >= 0.2  # load-safe: a lower bound
    wait_gone([grandchild], timeout=EXIT_DEADLINE_SECONDS)


def test_sweep_of_an_empty_group_returns_at_once() -> None:
    leader = subprocess.Popen([sys.executable, "-c", "pass"], process_group=0)
    assert leader.wait() == 0
    assert sweep_process_group(leader.pid, grace=START_TIMEOUT_SECONDS) is False
