"""How the CLI prints frames: text, hex or JSON lines, one line per frame.

A decoded view of the payload (issue 11's decoders) belongs here, as another field of the
JSON record and another rendering of the text line.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TextIO

__all__ = ["Printer"]


class Printer:
    """Formats frames for stdout: text, hex or JSON lines."""

    def __init__(self, output: str, clock_offset: float, out: TextIO) -> None:
        self.output = output
        self.clock_offset = clock_offset
        self.out = out

    def frames(self, session_id: int, direction: str, frames: list[bytes], at: float) -> None:
        unix = at + self.clock_offset
        arrow = "<" if direction == "in" else ">"
        lines = []
        if self.output == "json":
            for frame in frames:
                record: dict[str, Any] = {
                    "t": round(unix, 6),
                    "session": session_id,
                    "dir": direction,
                    "len": len(frame),
                }
                try:
                    record["text"] = frame.decode()
                except UnicodeDecodeError:
                    record["hex"] = frame.hex()
                lines.append(json.dumps(record))
        else:
            stamp = datetime.fromtimestamp(unix).strftime("%H:%M:%S.%f")
            render = _printable if self.output == "text" else bytes.hex
            lines.extend(f"{stamp} {arrow} {render(frame)}" for frame in frames)
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()


_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(32), 127]} | {
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}


def _printable(frame: bytes) -> str:
    """UTF-8 text with invalid bytes as \\xNN and control characters escaped (one line)."""
    return frame.decode("utf-8", "backslashreplace").translate(_CONTROL_ESCAPES)
