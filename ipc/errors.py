"""The root of framewire's exception tree, and the protocol errors shared by every layer.

The Local/Remote split follows h11 and wsproto: a ``LocalProtocolError`` means *we* tried
to build or send something illegal (a bug on this side); a ``RemoteProtocolError`` means
bytes from a peer -- a TCP server or the other end of the IPC pipe -- broke the rules, and
only that peer is dropped.
"""

from __future__ import annotations

__all__ = [
    "FrameTooLarge",
    "FramewireError",
    "LocalProtocolError",
    "ProtocolError",
    "ProtocolViolation",
    "RemoteProtocolError",
    "SchemaError",
    "TruncatedFrame",
]


class FramewireError(Exception):
    """Anything framewire raises on purpose; catch this to catch all of ours."""


class ProtocolError(FramewireError):
    """Abstract: a protocol rule was broken. Raise a subclass, never this class."""

    def __init__(self, message: str) -> None:
        if type(self) is ProtocolError:
            raise TypeError("ProtocolError is abstract; raise Local/RemoteProtocolError")
        super().__init__(message)


class LocalProtocolError(ProtocolError):
    """We tried to encode or send something illegal: a bug or bad input on this side.

    Nothing was sent; the connection is still usable.
    """


class RemoteProtocolError(ProtocolError):
    """Bytes from a peer broke the rules; drop that peer (and only that peer)."""


class FrameTooLarge(RemoteProtocolError):
    """A frame's length field exceeds the spec's maximum; nothing was buffered for it."""


class TruncatedFrame(RemoteProtocolError):
    """The peer closed the stream in the middle of a frame."""


class ProtocolViolation(RemoteProtocolError):
    """Bytes on the IPC pipe broke the stream itself (a size or count over its limit, a
    value that cannot start a message, nesting too deep, a reserved byte): nothing after
    them can be read reliably, so the channel must close.

    ``kind`` is ``too_large``, ``too_deep``, ``not_a_message`` or ``malformed``;
    ``offset`` the stream offset of the offending byte; ``msgid`` the request it was
    part of, when its ``[0, msgid`` prefix could be read (answer it before closing).
    """

    def __init__(self, kind: str, message: str, *, offset: int, msgid: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.offset = offset
        self.msgid = msgid


class SchemaError(RemoteProtocolError):
    """An IPC message has the wrong shape or types; answer with an error, keep going."""
