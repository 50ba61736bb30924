"""Limits on the sessions a listener accepts: how many, how long idle, how long mid-frame.

A server role faces peers nobody controls, so accepted sessions (and both legs of a relay
pair) get three limits, each with a default and settable in the library, the IPC
``listen``/``relay`` methods, the CLI and the GUI:

* ``max_clients``: live sessions per listener; the next client is accepted and closed at
  once, with a logged reason (``engine.listener``);
* ``idle_timeout``: no bytes either way for that long closes the session (a relay pair is
  idle only when both of its legs are: they share one ``Activity``);
* ``partial_frame_timeout``: a frame whose header or body stays incomplete for that long
  ends the session with an error. Only time spent waiting for the peer counts: while the
  reader is held up by back-pressure (a slow consumer, a relay's slow other leg) the
  clock for the frame stands still, since it is then we who do not read.

``ReadGuard`` applies the two timeouts to a reader's waits. Connected sessions have none:
the user opened them and closes them.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import trio

from ipc.errors import LocalProtocolError, RemoteProtocolError
from ipc.framing import FrameDecoder
from ipc.schema import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CLIENTS, DEFAULT_PARTIAL_FRAME_TIMEOUT

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_CLIENTS",
    "DEFAULT_PARTIAL_FRAME_TIMEOUT",
    "Activity",
    "IdleTimeout",
    "Limits",
    "PartialFrameTimeout",
    "ReadGuard",
]

# The defaults (ipc.schema holds them, for the IPC methods' defaults too): 1,024 live
# clients per listener (issue 10); ten minutes without a byte either way, as nginx's
# stream proxy (``proxy_timeout``); half a minute for a frame to complete once started,
# far more than a frame of the default 8 MiB maximum needs on a working link, while a
# stalled peer (two header bytes, then silence) no longer pins a session forever.


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """The limits of one listener's sessions; a timeout of None means none.

    Raises:
        LocalProtocolError: a value out of range (max_clients < 1, a timeout <= 0).
    """

    max_clients: int = DEFAULT_MAX_CLIENTS
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT
    partial_frame_timeout: float | None = DEFAULT_PARTIAL_FRAME_TIMEOUT

    def __post_init__(self) -> None:
        if isinstance(self.max_clients, bool) or not isinstance(self.max_clients, int):
            raise LocalProtocolError(f"max_clients must be an integer, not {self.max_clients!r}")
        if self.max_clients < 1:
            raise LocalProtocolError(f"max_clients must be >= 1, not {self.max_clients}")
        for name in ("idle_timeout", "partial_frame_timeout"):
            value = getattr(self, name)
            if value is not None and not 0 < value < math.inf:
                raise LocalProtocolError(f"{name} must be > 0 seconds (or None), not {value}")

    @classmethod
    def from_wire(
        cls, max_clients: int, idle_timeout: float, partial_frame_timeout: float
    ) -> Limits:
        """From the IPC and CLI form, where a timeout of 0 means none."""
        return cls(
            max_clients=max_clients,
            idle_timeout=idle_timeout or None,
            partial_frame_timeout=partial_frame_timeout or None,
        )

    def to_wire(self) -> dict[str, Any]:
        """The IPC form (0: no timeout)."""
        return {
            "max_clients": self.max_clients,
            "idle_timeout": self.idle_timeout or 0.0,
            "partial_frame_timeout": self.partial_frame_timeout or 0.0,
        }


class Activity:
    """When bytes last moved on a session, or on either leg of a relay pair."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last = trio.current_time()

    def touch(self) -> None:
        self.last = trio.current_time()


class IdleTimeout(Exception):
    """No bytes moved for ``idle_timeout`` seconds; the session is closed (not an error)."""


class PartialFrameTimeout(RemoteProtocolError):
    """A frame stayed incomplete for ``partial_frame_timeout`` seconds of waiting."""


class ReadGuard:
    """The timeouts of one session's reader (see the module docstring)."""

    __slots__ = ("_frame_mark", "_waited", "activity", "limits")

    def __init__(self, limits: Limits, activity: Activity) -> None:
        self.limits = limits
        self.activity = activity
        #: Seconds spent waiting for the peer while the current frame was incomplete.
        self._waited = 0.0
        #: decoder.unfinished_bytes expected after the last read if no frame completed.
        self._frame_mark = -1

    def idle_deadline(self) -> float:
        idle = self.limits.idle_timeout
        return math.inf if idle is None else self.activity.last + idle

    def check_idle(self) -> None:
        """Raise ``IdleTimeout`` if the idle deadline has passed (nothing moved since).

        Raises:
            IdleTimeout: nothing moved for ``idle_timeout`` seconds.
        """
        if trio.current_time() >= self.idle_deadline():
            raise IdleTimeout(f"idle: no traffic for {self.limits.idle_timeout:g} s")

    async def receive(
        self,
        receive_some: Callable[[int], Awaitable[bytes | bytearray]],
        size: int,
        decoder: FrameDecoder,
    ) -> bytes | bytearray:
        """``receive_some(size)``, within the idle and partial-frame deadlines.

        Raises:
            IdleTimeout: nothing moved for ``idle_timeout`` seconds.
            PartialFrameTimeout: the frame in progress waited too long for its bytes.
        """
        unfinished = decoder.unfinished_bytes
        if not unfinished or unfinished != self._frame_mark:
            self._waited = 0.0  # between frames, or a new frame started with the last read
        partial = self.limits.partial_frame_timeout if unfinished else None
        while True:
            start = trio.current_time()
            partial_at = math.inf if partial is None else start + partial - self._waited
            with trio.move_on_at(min(self.idle_deadline(), partial_at)):
                data = await receive_some(size)
                if unfinished:
                    self._waited += trio.current_time() - start
                self._frame_mark = unfinished + len(data)
                self.activity.touch()
                return data
            now = trio.current_time()
            if unfinished:
                self._waited += now - start
            if now >= partial_at:
                raise PartialFrameTimeout(_stalled_message(decoder, partial or 0.0))
            self.check_idle()  # else bytes moved the other way meanwhile: wait on


def _stalled_message(decoder: FrameDecoder, seconds: float) -> str:
    missing = decoder.frame_bytes_missing
    return (
        f"a frame stayed incomplete for {seconds:g} s: {decoder.unfinished_bytes} bytes "
        f"received, at least {missing} more expected (partial_frame_timeout)"
    )
