"""How a session's end reads in a script's report, from the engine's events."""

from __future__ import annotations

from ipc import schema

__all__ = ["describe_end"]


def describe_end(event: schema.Closed, error: schema.SessionError | None) -> tuple[str, str]:
    """How a session ended, in words, and what a step still waiting for a frame fails as
    (``Runner.connection_ended``'s ``kind``: "protocol" for a framing error)."""
    if event.by == "error" and error is not None:
        kind = "protocol" if error.kind in ("frame_too_large", "truncated_frame") else "expectation"
        return error.message, kind
    if event.by == "peer":
        return "the peer closed the connection", "expectation"
    return f"the connection was closed on this side ({event.by})", "expectation"
