"""What an accepted session or a relay leg carries beyond a connected session.

A connected session has no ``Role`` (``Session.role`` is None). An accepted one has the
listener it came from and the ``ReadGuard`` of its listener's limits; a relay leg also
has its pair, which leg it is, and its ``Forward`` (the other leg). An accepted session of
an echoing listener forwards to itself. Everything else about these sessions is the same
as for any session (docs/design.md, "Roles and layers").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from engine.limits import ReadGuard

if TYPE_CHECKING:
    from engine.forward import Forward
    from engine.relay import Pair
    from engine.session import Session

__all__ = ["Leg", "Role", "RoleKind"]

#: "accept": a listener's client; "relay": one leg of a relay pair.
RoleKind = Literal["accept", "relay"]
#: Which leg of a relay pair: the client that connected to the relay, or the upstream
#: server the relay connected to for it.
Leg = Literal["client", "upstream"]


@dataclass(slots=True, eq=False, kw_only=True)
class Role:
    kind: RoleKind
    listener_id: int
    guard: ReadGuard
    #: Where frames read go besides the events (the other leg; the session itself for
    #: an echo); None: only to the events.
    forward: Forward | None = None
    pair: Pair | None = None
    leg: Leg | None = None
    #: Called once the session is over (its listener counts its live clients).
    on_end: Callable[[Session], None] | None = None

    @property
    def direction_out(self) -> Literal["c2s", "s2c"] | None:
        """The direction of frames written to this leg (None outside a pair)."""
        if self.leg is None:
            return None
        return "s2c" if self.leg == "client" else "c2s"

    def describe(self) -> dict[str, Any]:
        """The fields ``list_sessions`` adds for this role."""
        info: dict[str, Any] = {"role": self.kind, "listener_id": self.listener_id}
        if self.pair is not None:
            info.update(pair_id=self.pair.id, leg=self.leg)
        return info
