"""Qt controller client: MessagePack-RPC to the engine over a QIODevice (the GUI's QProcess).

The only Qt import in ``ipc/``. It never blocks the GUI thread: on ``readyRead`` it
reads the device in chunks of ``READ_CHUNK_BYTES``, only as the decoder runs out (so the
decoder's buffer stays small and appending to it never copies megabytes), and decodes with
a per-turn time budget that also covers the slots handling the events (they are emitted
in lists of about ``EMIT_COST_BYTES`` of credit). The rest continues after a precise
``YIELD_MS`` timer, which leaves the event loop an idle gap for timers and painting, so a
flood of frames costs the event loop a bounded slice per turn.

Flow control: ``QProcess`` reads its pipe eagerly into an unbounded buffer, so pipe
back-pressure alone cannot protect the GUI. After ``hello`` the channel asks the engine
for credit mode (``flow_control(window_bytes)``) and acknowledges data events as it emits
them; the engine never has more than ``window_bytes`` of frames in flight towards us.

Writes are bounded too: ``QProcess`` also buffers what we write without limit, so while
more than ``max_unwritten_bytes`` wait for the engine to read them (it is stopped, or
busy), a new request fails with ``EngineBusy`` instead of growing the GUI's memory. Small
requests (up to ``SMALL_REQUEST_BYTES``: pings, close, abort) always go, so the supervisor
keeps pinging and the user can still abort the session whose sends piled up.

One channel per engine process: when the process ends, call ``close()`` (pending
requests get their callback with a ``CommandFailed("EngineGone", ...)``) and build a new
channel for the next process. Bytes from the engine that break the stream (a size over
its limit, checked as each header arrives: ``ipc.codec``) end the channel's reading and
emit ``broken``: the owner treats the engine as failed (the supervisor kills and
restarts it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QIODevice, QObject, Qt, QTimer, Signal

from ipc.codec import ErrorInfo
from ipc.rpc import (
    DEFAULT_WINDOW_BYTES,
    Broken,
    ClientConnection,
    CommandFailed,
    Completed,
    EventReceived,
    Failed,
    Malformed,
    Unmatched,
)
from ipc.schema import Command, Event, FlowControl, Hello

__all__ = [
    "EMIT_COST_BYTES",
    "MAX_UNWRITTEN_BYTES",
    "READ_CHUNK_BYTES",
    "SMALL_REQUEST_BYTES",
    "TURN_BUDGET_SECONDS",
    "YIELD_MS",
    "EngineChannel",
    "ResultCallback",
]

#: Decoding work per event-loop turn. Half of a 60 Hz frame, so an animation keeps its
#: frame rate while a flood is decoded in the remaining turns.
TURN_BUDGET_SECONDS = 0.008

#: Bytes read from the device at a time, when the decoder needs more.
READ_CHUNK_BYTES = 256 * 1024
#: Events are emitted once they carry this much flow-control credit, so the time spent in
#: the slots is inside the turn's budget check (one 8,192-frame batch is about 1 MB).
EMIT_COST_BYTES = 64 * 1024
#: The default pause between turns while bytes are left (``yield_ms``): a zero-delay timer
#: would run the next turn right after any due timer, leaving no idle gap. A longer pause
#: trades throughput for a less busy GUI thread.
YIELD_MS = 1

#: Bytes written but not yet taken by the engine past which requests fail with
#: ``EngineBusy``: several maximum-size frames, so a user's burst of large sends still fits.
MAX_UNWRITTEN_BYTES = 64 * 1024 * 1024
#: Requests up to this size are exempt from ``MAX_UNWRITTEN_BYTES``.
SMALL_REQUEST_BYTES = 4096

#: ``callback(result, error)``: exactly one of them is not None (result may be ``{}``).
ResultCallback = Callable[[Any, CommandFailed | None], None]


class EngineChannel(QObject):
    """Talks MessagePack-RPC to the engine over ``device``; never blocks the GUI thread.

    Signals:
        hello_received(Hello): the engine's handshake; credit flow control is requested
            right after it.
        events_received(list[Event]): decoded events, in order (a turn emits one list
            per ``EMIT_COST_BYTES`` of data events, and before each response callback).
        protocol_error(str): the engine sent a message that is not valid protocol (the
            channel keeps going; the supervisor may choose to restart the engine).
        broken(str): the engine's bytes broke the stream; nothing more is read (pending
            requests wait for ``close()``). Emitted once.
    """

    hello_received = Signal(object)
    events_received = Signal(list)
    protocol_error = Signal(str)
    broken = Signal(str)

    def __init__(
        self,
        device: QIODevice,
        *,
        window_bytes: int | None = DEFAULT_WINDOW_BYTES,
        turn_budget_seconds: float = TURN_BUDGET_SECONDS,
        yield_ms: int = YIELD_MS,
        max_unwritten_bytes: int = MAX_UNWRITTEN_BYTES,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._device = device
        self._window_bytes = window_bytes
        self._budget = turn_budget_seconds
        self._yield_ms = yield_ms
        self._max_unwritten = max_unwritten_bytes
        self._conn = ClientConnection[ResultCallback | None]()
        self._hello: Hello | None = None
        self._drain_scheduled = False
        self._closed = False
        self._reading = True
        self._yield_timer = QTimer(self)
        self._yield_timer.setSingleShot(True)
        self._yield_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._yield_timer.timeout.connect(self._drain)
        device.readyRead.connect(self._on_ready_read)

    @property
    def hello(self) -> Hello | None:
        """The engine's handshake, once received."""
        return self._hello

    @property
    def pending(self) -> int:
        """Requests still waiting for their response."""
        return self._conn.pending

    def request(self, command: Command, callback: ResultCallback | None = None) -> int:
        """Send ``command``; ``callback(result, error)`` runs when the response arrives.

        Returns the msgid (pass it to ``forget`` if you stop waiting, e.g. on a QTimer
        timeout). Responses are delivered in stream order relative to events: every event
        the engine sent before the response has been emitted when the callback runs.
        While more than ``max_unwritten_bytes`` wait for the engine to read them, a request
        larger than ``SMALL_REQUEST_BYTES`` is not sent and the callback gets an
        ``EngineBusy`` error, from the event loop (never from inside this call).

        Raises:
            LocalProtocolError: the command cannot be encoded (too large, bad value).
        """
        msgid, data = self._conn.start_request(command, callback)
        unwritten = self._device.bytesToWrite()
        if (
            not self._closed
            and len(data) > SMALL_REQUEST_BYTES
            and unwritten + len(data) > self._max_unwritten
        ):
            self._conn.forget(msgid)
            error = CommandFailed(
                ErrorInfo(
                    "EngineBusy",
                    f"{command.METHOD}: the engine has not yet read {unwritten:,} bytes of "
                    "earlier requests; try again once it catches up",
                )
            )
            if callback is not None:
                QTimer.singleShot(0, self, lambda: callback(None, error))
            return msgid
        self._write(data)
        return msgid

    def forget(self, msgid: int) -> None:
        """Stop waiting for ``msgid``; its callback will not run."""
        self._conn.forget(msgid)

    def read_remaining(self) -> None:
        """Decode and emit, now and without a turn budget, what the device still holds.

        For the owner when the device has ended (the engine exited, or closed its
        socket): a turn deferred by its budget would otherwise never come, and what the
        engine said last (a goodbye, its sessions closed) would be lost. What is left is
        bounded by what the engine may send before an ack (the credit window).
        """
        self._read(math.inf)

    def close(self) -> None:
        """Detach from the device; pending callbacks get an ``EngineGone`` error."""
        if self._closed:
            return
        self._closed = True
        self._stop_reading()
        error = CommandFailed(ErrorInfo("EngineGone", "the engine process ended"))
        for callback in self._conn.forget_all():
            if callback is not None:
                callback(None, error)

    # -- internals

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._yield_timer.stop()
            self._device.readyRead.disconnect(self._on_ready_read)

    def _write(self, data: bytes) -> None:
        if not self._closed:
            self._device.write(data)

    def _on_ready_read(self) -> None:
        # At once, not from a timer: when the process ends, QProcess emits its last
        # readyRead and then finished in the same call, and the owner closes the channel.
        if not self._drain_scheduled:
            self._drain()

    def _schedule_drain(self) -> None:
        if not self._drain_scheduled and self._reading:
            self._drain_scheduled = True
            self._yield_timer.start(self._yield_ms)

    def _drain(self) -> None:
        """Read, decode and emit for about one turn's budget; defer the rest."""
        self._read(self._budget)

    def _read(self, budget: float) -> None:
        self._drain_scheduled = False
        if not self._reading:
            return
        deadline = time.perf_counter() + budget
        events: list[Event] = []
        cost = 0
        finished = False
        try:
            while time.perf_counter() < deadline:
                outcome = self._conn.next_outcome()
                if outcome is None:
                    if self._device.bytesAvailable() > 0:
                        data = bytes(self._device.read(READ_CHUNK_BYTES).data())
                        more = self._device.bytesAvailable() > 0
                        self._conn.receive_data(data, more_pending=more)
                        continue
                    finished = True
                    break
                if isinstance(outcome, EventReceived):
                    if isinstance(outcome.event, Hello):
                        events, cost = self._flush(events, cost)
                        self._on_hello(outcome.event)
                    else:
                        events.append(outcome.event)
                        cost += outcome.cost
                        if cost >= EMIT_COST_BYTES:
                            events, cost = self._flush(events, cost)
                elif isinstance(outcome, Completed | Failed):
                    events, cost = self._flush(events, cost)
                    self._complete(outcome)
                elif isinstance(outcome, Malformed):
                    self.protocol_error.emit(f"bad message from the engine: {outcome.error}")
                elif isinstance(outcome, Broken):
                    events, cost = self._flush(events, cost)
                    finished = True
                    self._stop_reading()
                    self.broken.emit(f"its output broke the IPC stream: {outcome.error}")
                    break
                elif isinstance(outcome, Unmatched):
                    pass  # a late response to a forgotten request
            self._flush(events, cost)
        finally:
            # Also when a slot raised: the remaining bytes are decoded on the next turn.
            if not finished:
                self._schedule_drain()

    def _flush(self, events: list[Event], cost: int) -> tuple[list[Event], int]:
        if events:
            self.events_received.emit(events)
            ack = self._conn.consumed(cost)
            if ack is not None:
                self._write(ack)
        return [], 0

    def _on_hello(self, hello: Hello) -> None:
        self._hello = hello
        if self._window_bytes:
            self.request(FlowControl(window_bytes=self._window_bytes))
        self.hello_received.emit(hello)

    def _complete(
        self, outcome: Completed[ResultCallback | None] | Failed[ResultCallback | None]
    ) -> None:
        callback = outcome.waiter
        if callback is None:
            return
        if isinstance(outcome, Completed):
            callback(outcome.result, None)
        else:
            callback(None, outcome.error)
