"""EngineSupervisor: starts, watches, restarts and stops the engine process.

Theory of operation. The supervisor owns one ``QProcess`` at a time running
``python -m engine --stdio``; its stdin/stdout carry MessagePack-RPC (an ``EngineChannel``
attached to the shared ``EngineClient``), its stderr carries log lines, of which the last
``STDERR_TAIL_LINES`` are kept to explain a crash. The engine's stdin is its lifeline: the
engine exits on EOF, so if this process dies the engine follows.

States (``EngineState``): STARTING until the ``hello`` handshake; READY while pings (every
``PING_INTERVAL_SECONDS``) or any other message come back; NOT_RESPONDING after
``HANG_THRESHOLD_SECONDS`` of silence (the window shows Wait / Restart; "Wait" only hides
the banner for another threshold); CRASHED when the process ended on its own -- a new one
is started after ``RESTART_DELAY_MS`` unless the ``RestartBudget`` is spent, in which case
the supervisor waits for ``restart()``; STOPPING / STOPPED on ``shutdown()``, which asks the
engine to shut down, closes its stdin, then terminates and finally kills it on deadlines.

Attached (``attach(path)``, ``framewire-gui --attach``): the engine is a long-lived one
(``framewire-engine --serve-ipc``) that this window did not start, reached over a
``QLocalSocket`` instead of a process's pipes. The same hello, pings and hang detection
apply, and after the hello the supervisor sends ``attach``: ``attached(generation,
snapshot)`` hands its result to the window, then the history and the live events arrive
as events. Such an engine is never restarted, stopped or killed from here: closing the
window (``shutdown()``) only detaches, and when the engine goes away (it exited, or it
disconnected this window, saying why) the state is GONE and nothing happens until the
user chooses ``reattach()`` or ``start_local()`` (an engine of our own, supervised as
usual).

Nothing here waits: every step is a signal or a ``QTimer``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Protocol

from PySide6.QtCore import QObject, QProcess, QTimer, Signal
from PySide6.QtNetwork import QLocalSocket

from ipc import schema
from ipc.qt_channel import EngineChannel
from ipc.rpc import ENGINE_ARGS, CommandFailed
from ui.engine_client import EngineClient
from ui.formatting import describe_exit
from ui.hang_monitor import HANG_THRESHOLD_SECONDS, PING_INTERVAL_SECONDS, HangMonitor
from ui.restart_budget import RestartBudget

__all__ = ["EngineState", "EngineStatus", "EngineSupervisor"]

STDERR_TAIL_LINES = 20
#: A longer stderr line is cut (every buffer has a bound).
MAX_STDERR_LINE = 1000
#: How long a new engine may take to send ``hello`` before it counts as failed.
HANDSHAKE_TIMEOUT_MS = 15_000
RESTART_DELAY_MS = 300
#: How much nicer than the GUI the engine runs (see ``_lower_priority``).
ENGINE_NICENESS = 10
#: Decoding per event-loop turn. The animation ticks every 25 ms and a user notices a
#: tick late by more than a few ms, so a turn stays well under that (ipc's default is 8).
TURN_BUDGET_SECONDS = 0.002
#: Pause between decoding turns while a flood lasts. With 2 ms turns the GUI thread spends
#: at most ~30% of a core on decoding (about 1 M frames/s, 4x the target): the rest of the
#: machine (engine, local servers) then leaves a free core for the animation's ticks, whose
#: worst delays were waits for a CPU (measured: tools/bench/gui.py).
TURN_YIELD_MS = 5
#: ``shutdown()``: close stdin and ask politely, SIGTERM after this, SIGKILL after that.
TERMINATE_AFTER_MS = 1500
KILL_AFTER_MS = 3000


def _lower_priority(pid: int) -> None:
    """Make the engine yield the CPU to the GUI when both want it.

    Strategy: on a machine with fewer free cores than busy processes (GUI, engine, a local
    server), the scheduler preempts the GUI thread for whole time slices and the animation
    stutters. The GUI's smoothness matters more than the engine's last frames per second,
    so the engine runs ``ENGINE_NICENESS`` steps nicer (POSIX only; best effort).
    """
    if pid <= 0 or not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):
        current = os.getpriority(os.PRIO_PROCESS, pid)
        os.setpriority(os.PRIO_PROCESS, pid, min(19, current + ENGINE_NICENESS))


class EngineState(Enum):
    STARTING = "starting"  #: process started, waiting for the handshake
    READY = "ready"  #: handshake done and answering
    NOT_RESPONDING = "not responding"  #: silent for the hang threshold
    CRASHED = "crashed"  #: ended on its own; restarting unless the budget is spent
    STOPPING = "stopping"  #: shutdown() in progress
    STOPPED = "stopped"  #: no engine, none coming (after shutdown)
    GONE = "gone"  #: the engine this window attached to went away; never restarted from here


class TextSink(Protocol):
    """Where the engine's stderr lines are copied (a text file, ``ui.log_file.LogFile``)."""

    def write(self, text: str, /) -> int: ...


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """Everything the status bar shows; a new value on every change."""

    state: EngineState = EngineState.STOPPED
    generation: int = 0
    pid: int | None = None
    detail: str = ""  # why it crashed, last stderr lines
    silent_for: float = 0.0
    rtt: float | None = None
    banner: bool = False  # show the hang banner (not dismissed by "Wait")
    waiting_for_user: bool = False  # crash loop: restart budget spent
    attached_to: str = ""  # the long-lived engine's socket, when attached to one


class EngineSupervisor(QObject):
    """The engine's parent. Signals (past tense, STYLE 4.7):

    - ``status_changed(EngineStatus)``: any change, including counters (a few per second).
    - ``engine_started(int generation, Hello)``: a new engine completed the handshake.
    - ``engine_crashed(int generation, str why)``: the engine ended on its own.
    - ``engine_lost(int generation, str why)``: an engine is gone for any reason (crash,
      user restart, shutdown): whatever sessions it still had are lost.
    - ``engine_unresponsive(float seconds)`` / ``engine_responsive()``: hang detected/over.
    - ``restart_budget_exhausted()``: too many crashes; waiting for ``restart()``.
    - ``events_received(int generation, list[Event])``: engine events, in order.
    - ``protocol_error(str)``: the engine sent something invalid.
    - ``stopped()``: after ``shutdown()``, the process is gone (or, attached, detached).
    - ``attached(int generation, dict snapshot)``: attached to a long-lived engine; the
      snapshot is ``attach``'s result (sessions, controllers, history counts).
    """

    status_changed = Signal(object)
    engine_started = Signal(int, object)
    engine_crashed = Signal(int, str)
    engine_lost = Signal(int, str)
    engine_unresponsive = Signal(float)
    engine_responsive = Signal()
    restart_budget_exhausted = Signal()
    events_received = Signal(int, list)
    protocol_error = Signal(str)
    stopped = Signal()
    attached = Signal(int, dict)

    def __init__(
        self,
        client: EngineClient | None = None,
        *,
        program: str = sys.executable,
        args: tuple[str, ...] = ENGINE_ARGS,
        budget: RestartBudget | None = None,
        hang_threshold: float = HANG_THRESHOLD_SECONDS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client if client is not None else EngineClient(self)
        self._program = program
        self._args = list(args)
        self._budget = budget if budget is not None else RestartBudget()
        self._monitor = HangMonitor(hang_threshold)
        self._status = EngineStatus()
        self._process: QProcess | None = None
        self._socket: QLocalSocket | None = None
        self._old_socket: QLocalSocket | None = None
        self._attach_path: str | None = None  # attached mode: the engine's socket
        self._goodbye = ""  # what the attached engine said as it closed our channel
        self._channel: EngineChannel | None = None
        self._generation = 0
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_partial = b""
        self._banner_hidden_until = 0.0
        self._kill_reason: str | None = None  # why the supervisor killed the engine
        self.stderr_sink: TextSink | None = None  # where the engine's stderr is copied to

        self._tick = QTimer(self)
        self._tick.setInterval(int(PING_INTERVAL_SECONDS * 1000))
        self._tick.timeout.connect(self._on_tick)
        self._handshake_timer = self._single_shot(HANDSHAKE_TIMEOUT_MS, self._on_handshake_timeout)
        self._restart_timer = self._single_shot(RESTART_DELAY_MS, self._spawn)
        self._terminate_timer = self._single_shot(TERMINATE_AFTER_MS, self._on_terminate_deadline)
        self._kill_timer = self._single_shot(KILL_AFTER_MS, self._on_kill_deadline)

    def _single_shot(self, ms: int, slot: Any) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        return timer

    # ------------------------------------------------------------------ public API

    @property
    def status(self) -> EngineStatus:
        return self._status

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def pid(self) -> int | None:
        return self._status.pid

    def start(self) -> None:
        """Start the first engine (no-op if one is running or starting)."""
        if self._process is None and not self._restart_timer.isActive():
            self._spawn()

    def attach(self, path: str) -> None:
        """Attach to the long-lived engine listening at ``path`` instead of starting one
        (see the module docstring)."""
        self._attach_path = path
        self._connect()

    def reattach(self) -> None:
        """The user asked to attach again to the same engine (after it went away)."""
        if self._attach_path is not None and self._socket is None:
            self._connect()

    def start_local(self) -> None:
        """The user gave up on the attached engine: start and supervise one of our own."""
        socket = self._socket
        if socket is not None:
            self._retire(socket)
            socket.abort()
            self._old_socket = None
        self._attach_path = None
        self._budget.reset()
        self._spawn()

    def restart(self) -> None:
        """The user asked for a restart: kill the current engine (if any), start afresh.

        Resets the restart budget: an explicit request is not part of a crash loop. An
        engine this window attached to is never restarted (``start_local`` instead).
        """
        if self._attach_path is not None:
            return
        self._budget.reset()
        process = self._process
        if process is not None:
            self._retire(process)
            process.kill()
            self.engine_lost.emit(self._generation, "engine restarted by the user")
        self._restart_timer.stop()
        self._spawn()

    def wait(self) -> None:
        """The user chose "Wait" on the hang banner: hide it for another threshold."""
        self._banner_hidden_until = time.monotonic() + self._monitor.threshold
        self._set(banner=False)

    def shutdown(self) -> None:
        """Stop the engine for good: ask, close stdin, then SIGTERM and SIGKILL on deadlines.

        Emits ``stopped`` once the process is gone (at once if there is none).
        """
        self._restart_timer.stop()
        self._handshake_timer.stop()
        self._tick.stop()
        socket = self._socket
        if socket is not None:  # attached: detach, and the engine carries on
            self._retire(socket)
            socket.abort()
            self._old_socket = None
            self.engine_lost.emit(self._generation, "detached from the engine")
        process = self._process
        if process is None:
            self._set(state=EngineState.STOPPED, pid=None, banner=False)
            QTimer.singleShot(0, self, self.stopped.emit)
            return
        if self._status.state is EngineState.STOPPING:
            return
        self._set(state=EngineState.STOPPING, banner=False)
        self.client.request(schema.Shutdown(), timeout_s=None)
        process.closeWriteChannel()
        self._terminate_timer.start()
        self._kill_timer.start()

    # ------------------------------------------------------------------ process lifecycle

    def _spawn(self) -> None:
        self._generation += 1
        self._monitor.reset()
        self._stderr_tail.clear()
        self._stderr_partial = b""
        self._kill_reason = None
        process = QProcess(self)
        process.setProgram(self._program)
        process.setArguments(self._args)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        process.readyReadStandardError.connect(lambda: self._on_stderr(process))
        process.finished.connect(
            lambda code, status: self._on_finished(process, code, status)
        )  # fmt: skip
        process.errorOccurred.connect(lambda error: self._on_process_error(process, error))
        channel = EngineChannel(
            process, turn_budget_seconds=TURN_BUDGET_SECONDS, yield_ms=TURN_YIELD_MS, parent=process
        )
        generation = self._generation
        channel.hello_received.connect(lambda hello: self._on_hello(generation, hello))
        channel.events_received.connect(lambda events: self._on_events(generation, events))
        channel.protocol_error.connect(self.protocol_error)
        channel.broken.connect(lambda why: self._on_channel_broken(process, why))
        self._process, self._channel = process, channel
        self.client.attach(channel, generation)
        self._set(
            state=EngineState.STARTING, generation=generation, pid=None, silent_for=0.0,
            rtt=None, banner=False, waiting_for_user=False, attached_to="",
        )  # fmt: skip
        process.started.connect(lambda: _lower_priority(process.processId()))
        process.start()
        self._handshake_timer.start()

    def _connect(self) -> None:
        """Connect to the attached engine's socket (a new generation, like a spawn)."""
        path = self._attach_path
        assert path is not None
        self._generation += 1
        self._monitor.reset()
        self._goodbye = ""
        self._old_socket = None  # the previous one goes now (see `_retire`)
        socket = QLocalSocket()
        socket.disconnected.connect(lambda: self._on_socket_gone(socket, ""))
        socket.errorOccurred.connect(lambda error: self._on_socket_error(socket, error))
        channel = EngineChannel(
            socket, turn_budget_seconds=TURN_BUDGET_SECONDS, yield_ms=TURN_YIELD_MS
        )
        generation = self._generation
        channel.hello_received.connect(lambda hello: self._on_hello(generation, hello))
        channel.events_received.connect(lambda events: self._on_events(generation, events))
        channel.protocol_error.connect(self.protocol_error)
        channel.broken.connect(lambda why: self._on_socket_broken(socket, why))
        self._socket, self._channel = socket, channel
        self.client.attach(channel, generation)
        self._set(
            state=EngineState.STARTING, generation=generation, pid=None, silent_for=0.0,
            rtt=None, banner=False, waiting_for_user=False, detail="",
            attached_to=path,
        )  # fmt: skip
        socket.connectToServer(path)
        self._handshake_timer.start()

    def _on_socket_error(self, socket: QLocalSocket, error: QLocalSocket.LocalSocketError) -> None:
        if socket is not self._socket or error == QLocalSocket.LocalSocketError.PeerClosedError:
            return  # not ours any more; or `disconnected` follows
        if error in (
            QLocalSocket.LocalSocketError.ServerNotFoundError,
            QLocalSocket.LocalSocketError.ConnectionRefusedError,
        ):
            why = (
                f"no engine is serving at {self._attach_path} (start one with: "
                "framewire-engine --serve-ipc)"
            )
        else:
            why = socket.errorString()
        self._on_socket_gone(socket, why)

    def _on_socket_gone(self, socket: QLocalSocket, why: str) -> None:
        """The attached engine's connection ended: the engine exited, or closed it."""
        if socket is not self._socket:
            return
        if self._channel is not None:
            self._channel.read_remaining()  # its goodbye and last events first
            if socket is not self._socket:
                return  # what it said gave up on it already (a broken stream)
        self._retire(socket)
        why = self._goodbye or why or "the engine closed the connection (it exited or was killed)"
        self._set(state=EngineState.GONE, pid=None, detail=why, banner=False)
        self.engine_lost.emit(self._generation, why)

    def _on_socket_broken(self, socket: QLocalSocket, why: str) -> None:
        """The attached engine's output broke the IPC stream: give up on the connection
        (GONE, saying why); the engine is not ours to restart."""
        if socket is self._socket:
            self._goodbye = why
            self._drop_socket()

    def _drop_socket(self) -> None:
        """Give up on the attached engine's connection (GONE, with ``_goodbye``)."""
        socket = self._socket
        assert socket is not None
        self._on_socket_gone(socket, "")
        socket.abort()

    def _on_attached(self, generation: int, result: Any, error: CommandFailed | None) -> None:
        if generation != self._generation or self._socket is None:
            return
        if error is not None:
            self._goodbye = f"attach failed: {error.message or error.type}"
            self._drop_socket()
            return
        self.attached.emit(generation, result)

    def _retire(self, process: QProcess | QLocalSocket) -> None:
        """Forget ``process`` (or the attached engine's socket): its late signals are
        ignored; pending requests fail."""
        if process is self._socket:
            # Kept until the next one (or an explicit detach), then freed by Python: not
            # from inside its own signal, and not with deleteLater, which crashed
            # PySide6 6.11.3 in the deferred delete (tests/ui/test_attach.py).
            self._old_socket = process
            self._socket, self._channel = None, None
            self._handshake_timer.stop()
            self._tick.stop()
            self.client.detach()
            self._monitor.reset()
            return
        if process is not self._process:
            return
        self._process, self._channel = None, None
        self._handshake_timer.stop()
        self._tick.stop()
        self.client.detach()
        self._monitor.reset()

    def _on_hello(self, generation: int, hello: schema.Hello) -> None:
        if generation != self._generation or self._channel is None:
            return
        if self._status.state is EngineState.STOPPING:
            return  # shutdown() came first: its exit must read as stopped, not crashed
        self._handshake_timer.stop()
        self._monitor.alive(time.monotonic())
        self._set(state=EngineState.READY, pid=hello.pid, detail="")
        self._tick.start()
        self.engine_started.emit(generation, hello)
        if self._socket is not None:
            self.client.request(
                schema.Attach(),
                lambda result, error: self._on_attached(generation, result, error),
                timeout_s=None,
            )

    def _on_events(self, generation: int, events: list[schema.Event]) -> None:
        if generation != self._generation:
            return
        self._monitor.alive(time.monotonic())
        for event in events:
            if isinstance(event, schema.ChannelClosed):
                self._goodbye = f"the engine closed this window's connection: {event.message}"
        self.events_received.emit(generation, events)

    def _on_stderr(self, process: QProcess) -> None:
        data = self._stderr_partial + bytes(process.readAllStandardError().data())
        *lines, partial = data.split(b"\n")
        self._stderr_partial = partial[-MAX_STDERR_LINE:]
        for raw in lines:
            line = raw[:MAX_STDERR_LINE].decode("utf-8", "replace").rstrip()
            if process is self._process or not self._stderr_tail:
                self._stderr_tail.append(line)
            if self.stderr_sink is not None:
                self.stderr_sink.write(f"engine[{process.processId()}]: {line}\n")

    def _on_finished(
        self, process: QProcess, exit_code: int, exit_status: QProcess.ExitStatus
    ) -> None:
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        self._on_stderr(process)
        if self._stderr_partial:
            self._stderr_tail.append(self._stderr_partial.decode("utf-8", "replace"))
            self._stderr_partial = b""
        process.deleteLater()
        if process is not self._process:
            return
        if self._channel is not None:
            self._channel.read_remaining()  # what it said before it ended, in order
            if process is not self._process:
                return
        stopping = self._status.state is EngineState.STOPPING
        self._retire(process)
        if stopping:
            self._terminate_timer.stop()
            self._kill_timer.stop()
            self._set(state=EngineState.STOPPED, pid=None)
            self.engine_lost.emit(self._generation, "engine stopped")
            self.stopped.emit()
            return
        how = describe_exit(exit_code, crashed)
        if self._kill_reason is not None:
            how, self._kill_reason = f"{self._kill_reason} (killed)", None
        self._crashed(how)

    def _on_process_error(self, process: QProcess, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and process is self._process:
            self._retire(process)
            process.deleteLater()
            self._crashed(f"failed to start: {process.errorString()}")

    def _on_channel_broken(self, process: QProcess, why: str) -> None:
        """The engine's output broke the IPC stream: nothing more can be read from it, so
        it counts as failed (restarted within the budget), with ``why`` as the reason."""
        if process is self._process:
            self._kill_reason = why
            process.kill()  # finished() reports it as a crash, with the reason

    def _on_handshake_timeout(self) -> None:
        if self._socket is not None:
            self._goodbye = f"no handshake within {HANDSHAKE_TIMEOUT_MS / 1000:g} s"
            self._drop_socket()
            return
        process = self._process
        if process is not None:
            self._stderr_tail.append(
                f"[no handshake within {HANDSHAKE_TIMEOUT_MS / 1000:g} s; killed]"
            )
            process.kill()  # finished() reports it as a crash

    def _crashed(self, how: str) -> None:
        generation = self._generation
        tail = "\n".join(self._stderr_tail)
        why = how + (f"\nlast engine output:\n{tail}" if tail else "")
        now = time.monotonic()
        allowed = self._budget.try_spend(now)
        self._set(
            state=EngineState.CRASHED, pid=None, detail=why, banner=False,
            waiting_for_user=not allowed,
        )  # fmt: skip
        self.engine_crashed.emit(generation, why)
        self.engine_lost.emit(generation, how)
        if allowed:
            self._restart_timer.start()
        else:
            self.restart_budget_exhausted.emit()

    def _on_terminate_deadline(self) -> None:
        if self._process is not None:
            self._process.terminate()

    def _on_kill_deadline(self) -> None:
        if self._process is not None:
            self._process.kill()

    # ------------------------------------------------------------------ liveness

    def _on_tick(self) -> None:
        now = time.monotonic()
        if self._channel is None or self._status.state not in (
            EngineState.READY,
            EngineState.NOT_RESPONDING,
        ):
            return
        if not self._monitor.ping_outstanding:
            self._monitor.pinged(now)
            generation = self._generation
            self.client.request(
                schema.Ping(token=generation),
                lambda r, e: self._on_pong(generation, r, e),
                timeout_s=None,
            )
        if self._monitor.is_hung(now):
            silent = self._monitor.silent_for(now)
            banner = now >= self._banner_hidden_until
            if self._status.state is EngineState.READY:
                self._set(state=EngineState.NOT_RESPONDING, silent_for=silent, banner=banner)
                self.engine_unresponsive.emit(silent)
            else:
                self._set(silent_for=silent, banner=banner)
        elif self._status.state is EngineState.NOT_RESPONDING:
            self._set(state=EngineState.READY, silent_for=0.0, banner=False)
            self.engine_responsive.emit()
        else:
            self._set(rtt=self._monitor.last_rtt)

    def _on_pong(self, generation: int, _result: Any, error: CommandFailed | None) -> None:
        if generation != self._generation or error is not None:
            return
        self._monitor.answered(time.monotonic())

    def _set(self, **changes: Any) -> None:
        status = replace(self._status, **changes)
        if status != self._status:
            self._status = status
            self.status_changed.emit(status)
