"""How a session's end (``Closed.by``) is worded, the same in the CLI and the GUI (sans-IO).

``by`` is the engine's word for who ended it; a user reads "closed here" for a session
this side closed, and names the peer by its role where it is known ("the client" of a
listener, "the server" a client connected to), "the peer" where it is not.
"""

from __future__ import annotations

from ipc.schema import ClosedBy

__all__ = ["closed_text"]


def closed_text(by: ClosedBy, peer: str = "the peer") -> str:
    """``closed by the client``, ``closed here``, ``aborted here``, ``closed on an error``,
    ``closed at shutdown``; ``peer`` names the other side."""
    if by == "peer":
        return f"closed by {peer}"
    return _HERE[by]


_HERE: dict[ClosedBy, str] = {
    "local": "closed here",
    "abort": "aborted here",
    "error": "closed on an error",
    "shutdown": "closed at shutdown",
}
