"""Text (UTF-8, invalid bytes marked) and hex: the decoders that always succeed."""

from __future__ import annotations

import re

from decoders.tree import Kind, Limits, Node, Span, more_node

__all__ = ["decode_hex", "decode_text", "is_plausible_text"]

# Control characters other than tab, newline, carriage return: text with them is binary.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INVALID_RUN = re.compile("[\udc80-\udcff]+")


def decode_text(payload: bytes, limits: Limits) -> Node:
    """The payload as UTF-8; each run of invalid bytes shows as ``\\xNN`` and a child node."""
    try:
        value = payload.decode("utf-8")
    except UnicodeDecodeError:
        # Not UTF-8 as a whole: every byte beyond ASCII is \xNN, so binary bytes that
        # happen to form a valid sequence (de ad) do not turn into a letter (issue 17;
        # ipc.payload_text.escape_text shows text the same way).
        value = payload.decode("ascii", errors="backslashreplace")
    else:
        return Node(Kind.SCALAR, "text", "", value, Span(0, len(payload)))
    root = Node(Kind.SCALAR, "text", "", value, Span(0, len(payload)))
    # Strategy: with surrogateescape each invalid byte is one lone surrogate, so a regex
    # finds the runs; byte offsets come from encoding the text between them, once.
    escaped = payload.decode("utf-8", errors="surrogateescape")
    at_char = at_byte = 0
    for run in _INVALID_RUN.finditer(escaped):
        at_byte += len(escaped[at_char : run.start()].encode("utf-8"))
        at_char = run.end()
        length = run.end() - run.start()
        if len(root.children) == limits.max_children:
            root.children.append(
                more_node("more invalid bytes", Span(at_byte, len(payload) - at_byte))
            )
            break
        bad = payload[at_byte : at_byte + length]
        root.children.append(
            Node(Kind.SCALAR, "invalid utf-8", f"byte {at_byte}", bad, Span(at_byte, length))
        )
        at_byte += length
    return root


def decode_hex(payload: bytes, limits: Limits) -> Node:
    """The payload as bytes (shown and exported in hex)."""
    del limits  # nothing to bound: one node
    return Node(Kind.SCALAR, "bytes", "", payload, Span(0, len(payload)))


def is_plausible_text(payload: bytes) -> bool:
    """Valid UTF-8 without control characters (tab, CR and LF allowed): what a human typed."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _CONTROL.search(text) is None
