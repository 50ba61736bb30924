"""How the CLI prints frames: text, hex or JSON lines, one line per frame.

With a decoder (``--decode``), a text line shows the decoded payload's one-line summary
instead of its text, a hex line adds it, and a JSON line gains ``decoder`` and
``decoded`` (the recording schema's keys, ``ipc.recording``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from decoders import Decoded, Decoder

__all__ = ["Printer"]

#: Printed values are meant whole: far more children than the GUI's tree shows
#: (``decoders.Limits.max_children``), and a second per payload before a decode stops.
CLI_MAX_CHILDREN = 100_000
CLI_MAX_SECONDS = 1.0


class Printer:
    """Formats frames for stdout: text, hex or JSON lines."""

    def __init__(
        self, output: str, clock_offset: float, out: TextIO, decoder: Decoder | None = None
    ) -> None:
        self.output = output
        self.clock_offset = clock_offset
        self.out = out
        self.decoder = decoder

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
                if self.decoder is not None:
                    from decoders import to_plain

                    decoded = self._decode(frame)
                    record["decoder"] = decoded.decoder
                    record["decoded"] = to_plain(decoded.root)
                lines.append(json.dumps(record))
        else:
            stamp = datetime.fromtimestamp(unix).strftime("%H:%M:%S.%f")
            lines.extend(f"{stamp} {arrow} {self._render(frame)}" for frame in frames)
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    def _render(self, frame: bytes) -> str:
        if self.decoder is None:
            return _printable(frame) if self.output == "text" else frame.hex()
        from decoders import summary

        decoded = self._decode(frame)
        line = f"[{decoded.decoder}] {summary(decoded)}"
        return line if self.output == "text" else f"{frame.hex()}  {line}"

    def _decode(self, frame: bytes) -> Decoded:
        from decoders import Limits, decode

        assert self.decoder is not None
        limits = Limits(max_children=CLI_MAX_CHILDREN, max_seconds=CLI_MAX_SECONDS)
        return decode(frame, self.decoder, limits)


_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(32), 127]} | {
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}


def _printable(frame: bytes) -> str:
    """UTF-8 text with invalid bytes as \\xNN and control characters escaped (one line)."""
    return frame.decode("utf-8", "backslashreplace").translate(_CONTROL_ESCAPES)
