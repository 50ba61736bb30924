"""Running a script, sans-IO: events in, actions out (the h11/wsproto way).

``Runner`` knows nothing of sockets, trio or Qt. Its driver tells it what happens
(``start``, ``frame_received``, ``send_done``, ``connection_ended``, ``tick`` at its
``deadline``) and does what each call returns: ``SendFrame`` (send it, then call
``send_done``) or ``CloseConnection``. When the script has passed or failed, ``outcome``
says so; a failure carries the report ``exchanges.report`` words. The CLI drives it
with trio (``engine/cli/scripting.py``) for both roles, and the window could with Qt.

Rules:

- Steps run in order. A send step renders its message (``{{seq}}`` counts sends) and
  waits until the driver says it was written; an expect step takes the next frame that
  no rule answered (frames that came earlier wait their turn, up to ``MAX_PENDING``);
  ``skip_others`` passes over frames that do not match.
- Rules (``[[on]]``) see every frame first: the first whose ``when`` matches answers it
  (its sends queue behind any send under way), and the steps never see that frame.
- Timeouts: an expect or send step fails after its ``timeout`` (the script's
  ``step_timeout`` unless it says; 0: none) counted from when it started; the whole
  script fails after the script's ``timeout``.
- When the steps are done the script has passed. Rules go on answering while the driver
  keeps the connection (a scripted server keeps it until the client leaves).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from decoders import Decoded, Decoder, decode
from exchanges.errors import ExpansionError
from exchanges.matching import (
    Expectation,
    FrameView,
    Match,
    Mismatch,
    check,
    expected_payload,
)
from exchanges.report import (
    difference_offset,
    frame_lines,
    heading,
    indent_block,
    window_start,
)
from exchanges.script import Rule, Script, Step
from exchanges.variables import Variables
from ipc.payload_text import escape_text

__all__ = [
    "KINDS",
    "MAX_PENDING",
    "Action",
    "CloseConnection",
    "Outcome",
    "Runner",
    "SendFrame",
]

#: Frames that came before a step expected them, kept for the steps to come.
MAX_PENDING = 10_000
MAX_PENDING_BYTES = 16 * 1024 * 1024
#: Lines of the exchange kept for the report (JUnit's system-out), the last ones.
TRANSCRIPT_LINES = 500
#: Characters of a frame the transcript shows.
TRANSCRIPT_WIDTH = 200


@dataclass(frozen=True, slots=True)
class SendFrame:
    payload: bytes


@dataclass(frozen=True, slots=True)
class CloseConnection:
    pass


Action = SendFrame | CloseConnection

#: What a failure means; the engine CLI's exit code for each: expectation 6, timeout 5,
#: script 2 (a placeholder without a value at run time), protocol 4, connection 3.
KINDS = ("expectation", "timeout", "script", "protocol", "connection")


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended. ``kind`` is "" when it passed; ``message`` is the one-line
    version of ``report`` (JUnit's failure message); ``where`` the failing step's place
    in the file (``check.toml:17``) and ``step`` its name (``step 4``)."""

    passed: bool
    kind: str = ""
    message: str = ""
    report: str = ""
    where: str = ""
    step: str = ""


@dataclass(slots=True)
class _Level:
    steps: tuple[Step, ...]
    position: int = 0
    iteration: int = 0
    count: int = 1
    #: The repeat step this level runs (None: the script's top level).
    repeat: Step | None = None


@dataclass(slots=True)
class _Outgoing:
    payload: bytes
    origin: Step | Rule
    timeout: float | None


class Runner:
    """One run of ``script`` over one connection (see the module docstring).

    ``decoder`` decodes frames for ``fields``/``where``/``capture`` unless a step names
    another; ``encoding`` is the text encoding of text messages and expectations. Every
    ``now`` is the driver's monotonic clock, in seconds.
    """

    def __init__(
        self,
        script: Script,
        *,
        variables: Variables,
        decoder: Decoder,
        encoding: str = "utf-8",
        decode_payload: Callable[[bytes, Decoder], Decoded] = decode,
    ) -> None:
        self.script = script
        self.variables = variables
        self.decoder = decoder
        self.encoding = encoding
        self._decode = decode_payload
        self.outcome: Outcome | None = None
        #: The exchange as lines (``< frame``, ``> frame``, notes), the last ones.
        self.transcript: deque[str] = deque(maxlen=TRANSCRIPT_LINES)
        self.frames_in = 0
        self.frames_out = 0
        self._levels: list[_Level] = [_Level(script.steps)]
        self._pending: deque[bytes] = deque()
        self._pending_bytes = 0
        self._outgoing: deque[_Outgoing] = deque()
        self._in_flight: _Outgoing | None = None
        self._send_deadline: float | None = None
        self._close_after_sends = False
        self._closing = False
        self._ended: str | None = None
        self._ended_kind = "expectation"
        self._current: Step | None = None
        self._step_started = 0.0
        self._started = 0.0

    # ------------------------------------------------------------------ driver's calls

    def start(self, now: float) -> list[Action]:
        self._started = now
        self._note(now, f"script {self.script.name!r} started")
        return self._advance(now)

    def frame_received(self, payload: bytes, now: float) -> list[Action]:
        self.frames_in += 1
        self._note(now, f"< {escape_text(payload[:TRANSCRIPT_WIDTH], self.encoding)}")
        if self._closing or self._failed():
            return []
        if self.script.rules and self._answer_by_rule(payload, now):
            return self._advance(now)
        if self.outcome is not None:
            return []  # the steps are over: nobody expects it
        self._pending.append(payload)
        self._pending_bytes += len(payload)
        if len(self._pending) > MAX_PENDING or self._pending_bytes > MAX_PENDING_BYTES:
            message = f"more than {MAX_PENDING:,} frames (or 16 MiB) came that no step expected yet"
            self._fail("expectation", message, [f"  {message}"])
            return []
        return self._advance(now)

    def send_done(self, now: float) -> list[Action]:
        self._in_flight = None
        self._send_deadline = None
        return self._advance(now)

    def send_failed(self, why: str, now: float) -> list[Action]:
        """The frame in flight cannot be sent (too large for the framing, say): a
        mistake of the script, not of the peer."""
        flight = self._in_flight
        self._in_flight = None
        self._send_deadline = None
        self._fail("script", f"cannot send: {why}", [], flight.origin if flight else None)
        return []

    def connection_ended(self, why: str, now: float, *, kind: str = "expectation") -> list[Action]:
        """The connection is over (``why``: "the peer closed the connection", ...);
        ``kind`` is what a step still waiting fails as ("protocol": a framing error)."""
        self._note(now, f"connection ended: {why}")
        self._ended = why
        self._ended_kind = kind
        self._in_flight = None
        self._send_deadline = None
        self._outgoing.clear()
        return self._advance(now)

    def tick(self, now: float) -> list[Action]:
        """Call at ``deadline`` (or later)."""
        if self.outcome is not None:
            return []
        limit = self.script.timeout
        if limit is not None and now >= self._started + limit:
            self._timeout(f"the script's timeout of {limit:g} s passed", now)
            return []
        flight = self._in_flight
        if flight is not None and self._send_deadline is not None and now >= self._send_deadline:
            self._fail(
                "timeout",
                f"the peer did not take the frame within {flight.timeout:g} s",
                [],
                flight.origin,
            )
            return []
        return self._advance(now)

    @property
    def deadline(self) -> float | None:
        """When ``tick`` must be called next (None: only on an event)."""
        if self.outcome is not None:
            return None
        found = []
        if self.script.timeout is not None:
            found.append(self._started + self.script.timeout)
        if self._send_deadline is not None:
            found.append(self._send_deadline)
        step = self._current
        if self._in_flight is None and step is not None:
            timeout = self._step_timeout(step)
            if timeout is not None:
                found.append(self._step_started + timeout)
        return min(found) if found else None

    # ------------------------------------------------------------------ the steps

    def _failed(self) -> bool:
        return self.outcome is not None and not self.outcome.passed

    def _advance(self, now: float) -> list[Action]:
        actions: list[Action] = []
        while not self._failed() and self._in_flight is None:
            if self._outgoing:
                self._emit(self._outgoing.popleft(), now, actions)
                return actions
            if self._close_after_sends and not self._closing:
                self._closing = True
                actions.append(CloseConnection())
            if self.outcome is not None:
                break
            step = self._step()
            if step is None:
                self.outcome = Outcome(True)
                self._note(now, f"script {self.script.name!r} passed")
                continue
            if self._current is not step:
                self._current = step
                self._step_started = now
            if not self._run(step, now):
                self._check_step_deadline(step, now)
                break
            self._levels[-1].position += 1
            self._current = None
        return actions

    def _emit(self, outgoing: _Outgoing, now: float, actions: list[Action]) -> None:
        if self._ended is not None:
            self._outgoing.clear()
            return
        self._in_flight = outgoing
        self._send_deadline = None if outgoing.timeout is None else now + outgoing.timeout
        self.frames_out += 1
        self._note(now, f"> {escape_text(outgoing.payload[:TRANSCRIPT_WIDTH], self.encoding)}")
        actions.append(SendFrame(outgoing.payload))

    def _step(self) -> Step | None:
        """The current step, entering and leaving repeats as needed."""
        while True:
            level = self._levels[-1]
            if level.position < len(level.steps):
                step = level.steps[level.position]
                if step.kind != "repeat":
                    return step
                level.position += 1
                if step.count > 0 and step.steps:
                    self._levels.append(_Level(step.steps, count=step.count, repeat=step))
                    self.variables.index = 0
                continue
            if level.repeat is None:
                return None
            level.iteration += 1
            if level.iteration < level.count:
                level.position = 0
                self.variables.index = level.iteration
                continue
            self._levels.pop()
            outer = self._levels[-1]
            self.variables.index = outer.iteration if outer.repeat is not None else None

    def _run(self, step: Step, now: float) -> bool:
        """Do what ``step`` can do now; True when it is finished."""
        if step.kind == "send":
            assert step.message is not None
            if self._ended is not None:
                self._fail("expectation", f"cannot send: {self._ended}", [], step)
                return False
            self.variables.seq += 1
            try:
                payload = step.message.render(self.variables, self.encoding)
            except ExpansionError as exc:
                self._fail("script", str(exc), [], step)
                return False
            self._outgoing.append(_Outgoing(payload, step, self._step_timeout(step)))
            return True
        if step.kind == "wait":
            return now >= self._step_started + step.seconds
        if step.kind == "close":
            self._close_after_sends = True
            return True
        assert step.expectation is not None
        return self._expect(step, step.expectation, now)

    def _expect(self, step: Step, expectation: Expectation, now: float) -> bool:
        if expectation.closed:
            if self._pending:
                mismatch = Mismatch("closed", "the peer to close the connection", "a frame came")
                return self._mismatch(step, mismatch, self._pending[0], None)
            return self._ended is not None
        while self._pending:
            payload = self._pending.popleft()
            self._pending_bytes -= len(payload)
            view = FrameView(payload, self.decoder, self.encoding, self._decode)
            try:
                result = check(expectation, view, self.variables)
            except ExpansionError as exc:
                self._fail("script", str(exc), [], step)
                return False
            if isinstance(result, Match):
                self._capture(result, now)
                return True
            if step.skip_others:
                self._note(now, f"step {step.number}: passed over a frame that does not match")
                continue
            return self._mismatch(step, result, payload, view)
        if self._ended is not None:
            lines = self._expected_block(expectation) + indent_block("got", [self._ended])
            kind = "protocol" if self._ended_kind == "protocol" else "expectation"
            self._fail(kind, f"the connection ended: {self._ended}", lines, step)
        return False

    def _capture(self, result: Match, now: float) -> None:
        if result.captured:
            self.variables.update(result.captured)
            names = ", ".join(f"{k}={v!r}" for k, v in result.captured.items())
            self._note(now, f"captured {names}")

    def _mismatch(
        self, step: Step, mismatch: Mismatch, payload: bytes, view: FrameView | None
    ) -> bool:
        decoded = None
        if mismatch.decoder is not None and view is not None and step.expectation is not None:
            decoded = view.decoded(step.expectation.decoder)
        lengths = [len(payload)]
        if mismatch.expected is not None:
            lengths.append(len(mismatch.expected))
        start = window_start(difference_offset(mismatch.detail), *lengths)
        if mismatch.expected is not None:
            expected = frame_lines(mismatch.expected, self.encoding, start=start)
        else:
            expected = [mismatch.expected_text]
            if mismatch.decoder is not None:
                expected[0] += f"  (decoded as {mismatch.decoder})"
        lines = indent_block("expected", expected)
        lines += indent_block("got", frame_lines(payload, self.encoding, decoded, start))
        if mismatch.detail and mismatch.condition not in ("regex", "where"):
            lines.append(f"  {mismatch.detail}")  # (those two say it all in "expected")
        self._fail("expectation", mismatch.detail or "the frame differs", lines, step)
        return False

    def _expected_block(self, expectation: Expectation) -> list[str]:
        try:
            payload = expected_payload(expectation, self.variables, self.encoding)
        except ExpansionError:
            payload = None
        if payload is not None:
            return indent_block("expected", frame_lines(payload, self.encoding))
        return indent_block("expected", [expectation.describe()])

    # ------------------------------------------------------------------ rules

    def _answer_by_rule(self, payload: bytes, now: float) -> bool:
        view = FrameView(payload, self.decoder, self.encoding, self._decode)
        for rule in self.script.rules:
            try:
                result = check(rule.when, view, self.variables)
                if isinstance(result, Mismatch):
                    continue
                self._capture(result, now)
                for message in rule.send:
                    self.variables.seq += 1
                    payload = message.render(self.variables, self.encoding)
                    self._outgoing.append(_Outgoing(payload, rule, self._rule_timeout()))
            except ExpansionError as exc:
                self._fail("script", str(exc), [], rule)
                return True
            if rule.close:
                self._close_after_sends = True
            self._note(now, f"rule {rule.number} answered")
            return True
        return False

    # ------------------------------------------------------------------ time

    def _rule_timeout(self) -> float | None:
        return self.script.step_timeout or None

    def _step_timeout(self, step: Step) -> float | None:
        if step.kind == "wait":
            return step.seconds
        if step.kind not in ("send", "expect"):
            return None
        timeout = self.script.step_timeout if step.timeout is None else step.timeout
        return timeout or None

    def _check_step_deadline(self, step: Step, now: float) -> None:
        if step.kind != "expect" or self.outcome is not None:
            return
        timeout = self._step_timeout(step)
        if timeout is not None and now >= self._step_started + timeout:
            self._timeout(f"no frame within {timeout:g} s", now)

    def _timeout(self, why: str, now: float) -> None:
        step = self._current
        lines = []
        if step is not None and step.expectation is not None:
            lines += self._expected_block(step.expectation)
            got = "nothing"
            if self._pending:
                got += f" ({len(self._pending)} earlier frame(s) did not match)"
            lines += indent_block("got", [f"{got} in {now - self._step_started:.3g} s"])
        self._fail("timeout", why, lines, step)

    # ------------------------------------------------------------------ endings

    def _place(self, origin: Step | Rule | None) -> tuple[str, str]:
        path = self.script.path
        if origin is None:
            return path, ""
        where = f"{path}:{origin.line}" if origin.line is not None and path else path
        if isinstance(origin, Rule):
            return where, f"rule {origin.number}"
        name = origin.number if origin.number.startswith("frame") else f"step {origin.number}"
        level = self._levels[-1]
        if level.repeat is not None:
            name += f" (repeat {level.iteration + 1} of {level.count})"
        return where, name

    def _fail(
        self, kind: str, message: str, lines: list[str], origin: Step | Rule | None = None
    ) -> None:
        if self._failed():
            return
        origin = origin if origin is not None else self._current
        where, name = self._place(origin)
        name = name or "the script"
        label = origin.label if origin is not None else self.script.name
        head = heading(where, name, label)
        report = "\n".join([head, *(lines or [f"  {message}"])])
        self.outcome = Outcome(False, kind, f"{name}: {label}: {message}", report, where, name)
        self.transcript.append(f"FAILED {head}")

    def _note(self, now: float, text: str) -> None:
        self.transcript.append(f"{now - self._started:9.3f} {text}")
