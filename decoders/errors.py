"""What the decoders package raises: only for bad *configuration*, never for bad payloads.

A payload that does not decode is an ``ERROR`` node in its tree, not an exception.
"""

from __future__ import annotations

from ipc.errors import FramewireError

__all__ = ["DecoderConfigError", "ExpressionError"]


class DecoderConfigError(FramewireError):
    """A decoder cannot be set up: unknown name, unreadable schema or layout file.

    The message says what to fix; nothing was decoded.
    """


class ExpressionError(FramewireError):
    """A field expression (``seq > 100``) does not parse; the message points at the spot."""
