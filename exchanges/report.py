"""How a failed step is told: the step, what was expected, what came, as text and hex.

The same words go to stderr (``framewire-engine: ...``), into a JUnit ``<failure>`` and,
in the window, into the log::

    check.toml:17: step 4 failed: expect text 'hello, client! you said: hello'
      expected  text  hello, client! you said: hello
                hex   68 65 6c 6c 6f 2c 20 63 6c 69 65 6e 74 21 20 79 … (30 bytes)
      got       text  hello, client! you said: hullo
                hex   68 65 6c 6c 6f 2c 20 63 6c 69 65 6e 74 21 20 79 … (30 bytes)
      first difference at byte 26: expected 65, got 75

Text is one line, escaped (``ipc.payload_text.escape_text``); hex shows the first
``HEX_SHOWN`` bytes, and the bytes around the first difference when it is further on.
"""

from __future__ import annotations

import re

from decoders import Decoded, summary
from ipc.payload_text import escape_text

__all__ = [
    "HEX_SHOWN",
    "TEXT_SHOWN",
    "difference_offset",
    "frame_lines",
    "heading",
    "indent_block",
    "window_start",
]

#: Bytes of a payload shown in hex, and characters of its text.
HEX_SHOWN = 32
TEXT_SHOWN = 200
_INDENT = "  "
_LABEL = 10  # "expected  " / "got       "
_DIFFERENCE_AT = re.compile(r"byte (\d+)")


def heading(where: str, step: str, label: str) -> str:
    """``check.toml:17: step 4 failed: expect text 'ok'``."""
    return f"{where}: {step} failed: {label}" if where else f"{step} failed: {label}"


def frame_lines(
    payload: bytes, encoding: str, decoded: Decoded | None = None, start: int = 0
) -> list[str]:
    """A payload as report lines: decoded (when given), text, then hex from ``start``
    (``window_start``), ``HEX_SHOWN`` bytes."""
    lines = []
    if decoded is not None:
        lines.append(f"decoded  [{decoded.decoder}] {summary(decoded)}")
    text = escape_text(payload, encoding)
    if len(text) > TEXT_SHOWN:
        text = text[: TEXT_SHOWN - 1] + "…"
    lines.append(f"text     {text}" if payload else "text     (empty)")
    lines.append(f"hex      {_hex(payload, start)}")
    return lines


def window_start(around: int | None, *lengths: int) -> int:
    """Where the hex of frames compared should start so that byte ``around`` (the first
    difference) shows: 0 when everything fits, else a multiple of 16 before it."""
    if around is None or max(lengths, default=0) <= HEX_SHOWN or around < HEX_SHOWN - 8:
        return 0
    return max(0, (around - HEX_SHOWN // 2) // 16 * 16)


def _hex(payload: bytes, start: int) -> str:
    size = f"({len(payload):,} byte{'' if len(payload) == 1 else 's'})"
    if not payload:
        return size
    shown = payload[start : start + HEX_SHOWN].hex(" ")
    head = f"from byte {start}: " if start else ""
    tail = " …" if start + HEX_SHOWN < len(payload) else ""
    return f"{head}{shown}{tail}  {size}"


def difference_offset(detail: str) -> int | None:
    """The byte a ``first difference at byte N`` detail names."""
    match = _DIFFERENCE_AT.search(detail)
    return int(match.group(1)) if match else None


def indent_block(label: str, lines: list[str]) -> list[str]:
    """``expected  first line`` then the rest aligned under it."""
    out = []
    for number, line in enumerate(lines):
        head = label.ljust(_LABEL) if number == 0 else " " * _LABEL
        out.append(f"{_INDENT}{head}{line}")
    return out
