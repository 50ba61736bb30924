"""How the CLI prints frames: text, hex, a hex dump, raw bytes or JSON lines.

Every frame carries its own time (when the engine read its last byte, see
``ipc.schema.Received.times``); ``--timestamps`` says how a line shows it. Text output
escapes what is not printable (``ipc.payload_text.escape_text``), so a line is always one
line and tells which bytes came. ``raw`` writes the payloads alone, back to back, for
pipes.

In the server roles (``--listen``, ``--relay``) a line also says whose frame it is
(``who``: ``#3 127.0.0.1:50412``, the session or relay pair and its client), and a JSON
line carries that session's ``peer`` and, for a relay, the recording's ``pair``; a
relayed frame's direction is ``c2s`` (printed ``>``) or ``s2c`` (``<``).

JSON lines are the recording format (``ipc.recording``, docs/recording.md), the same a
``--capture`` file and the GUI's "Save… as JSON lines" hold. With a decoder
(``--decode``), a text line shows the decoded payload's one-line summary instead of its
text, hex and hexdump lines add it, and a JSON line gains the recording's ``decoder`` and
``decoded`` keys.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from ipc.payload_text import escape_text, hex_dump

if TYPE_CHECKING:
    from decoders import Decoded, Decoder
    from ipc.tls import TlsInfo

__all__ = ["ARROWS", "Printer", "format_timestamp"]

#: Printed values are meant whole: far more children than the GUI's tree shows
#: (``decoders.Limits.max_children``), and a second per payload before a decode stops.
CLI_MAX_CHILDREN = 100_000
CLI_MAX_SECONDS = 1.0


def format_timestamp(unix: float, style: str) -> str:
    """``unix`` (seconds) in a ``--timestamps`` style: time, iso, unix or none ("")."""
    if style == "unix":
        return f"{unix:.6f}"
    if style == "none":
        return ""
    local = datetime.fromtimestamp(unix).astimezone()
    if style == "iso":
        return local.isoformat(timespec="microseconds")
    return local.strftime("%H:%M:%S.%f")


#: How a direction prints: received (<) and sent (>); relayed client -> server (>) and
#: server -> client (<).
ARROWS = {"in": "<", "out": ">", "c2s": ">", "s2c": "<"}


def tls_note(info: TlsInfo) -> str:
    """What TLS established, in one line for stderr: the summary, then the peer's
    certificate (subject, issuer, validity)."""
    note = f"TLS: {info.summary()}"
    cert = info.peer_cert
    if cert is not None:
        who = "server" if info.side == "client" else "client"
        note += (
            f"; {who} certificate {cert.subject or '(no subject)'}, issued by {cert.issuer}, "
            f"valid until {cert.not_after}"
        )
    return note


class Printer:
    """Formats frames for stdout (a binary stream: ``raw`` writes bytes as they came).

    Text is shown in ``encoding``; ``framing`` and ``peer`` (set it once connected) go
    into every JSON line.
    """

    def __init__(
        self,
        output: str,
        clock_offset: float,
        out: BinaryIO,
        *,
        timestamps: str = "time",
        decoder: Decoder | None = None,
        encoding: str = "utf-8",
        framing: str = "",
    ) -> None:
        self.output = output
        self.timestamps = timestamps
        self.clock_offset = clock_offset
        self.out = out
        self.decoder = decoder
        self.encoding = encoding
        self.framing = framing
        self.peer = ""
        self._show: Callable[[bytes], str] = (
            functools.partial(escape_text, encoding=encoding)
            if output == "text"
            else _hexdump
            if output == "hexdump"
            else bytes.hex
        )

    def frames(
        self,
        session_id: int,
        direction: str,
        frames: Sequence[bytes],
        spans: Sequence[tuple[float, int]],
        *,
        who: str = "",
        peer: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Print ``frames``; ``spans`` gives their engine-clock times as ``(time, count)``
        runs (``Received.spans()``); runs past the end of ``frames`` are ignored. ``who``
        goes before the arrow of a text line; ``peer`` (default: ``self.peer``) and
        ``extra`` into each JSON line."""
        if self.output == "raw":
            self.out.write(b"".join(frames))
            self.out.flush()
            return
        lines: list[str] = []
        start = 0
        for at, count in spans:
            unix = at + self.clock_offset
            batch = frames[start : start + count]
            start += count
            if self.output == "json":
                lines.extend(
                    self._json_line(unix, session_id, direction, f, peer, extra) for f in batch
                )
                continue
            head = " ".join(
                part
                for part in (format_timestamp(unix, self.timestamps), who, ARROWS[direction])
                if part
            )
            lines.extend(f"{head} {self._render(frame)}" for frame in batch)
        if lines:
            self.out.write(("\n".join(lines) + "\n").encode())
            self.out.flush()

    def tls(self, session_id: int, info: TlsInfo, at: float, *, peer: str | None = None) -> bool:
        """With json output, write what TLS established as a ``tls`` event line (the
        recording format, docs/recording.md) and return True; other outputs keep stdout
        for frames (the caller says it on stderr)."""
        if self.output != "json":
            return False
        from ipc.recording import event_line  # only JSON output pays for the format

        line = event_line(
            at + self.clock_offset,
            session_id,
            "tls",
            peer=self.peer if peer is None else peer,
            framing=self.framing,
            detail=info.summary(),
            extra={"tls": info.to_wire()},
        )
        self.out.write((line + "\n").encode())
        self.out.flush()
        return True

    def _render(self, frame: bytes) -> str:
        if self.decoder is None:
            return self._show(frame)
        from decoders import summary

        decoded = self._decode(frame)
        line = f"[{decoded.decoder}] {summary(decoded)}"
        if self.output == "text":
            return line
        shown = self._show(frame)
        head, newline, dump = shown.partition("\n")  # hexdump: the summary on the first line
        return f"{head}  {line}{newline}{dump}"

    def _decode(self, frame: bytes) -> Decoded:
        from decoders import Limits, decode

        assert self.decoder is not None
        limits = Limits(max_children=CLI_MAX_CHILDREN, max_seconds=CLI_MAX_SECONDS)
        return decode(frame, self.decoder, limits)

    def _json_line(
        self,
        unix: float,
        session_id: int,
        direction: str,
        frame: bytes,
        peer: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        if self.decoder is not None:
            from decoders import to_plain

            decoded = self._decode(frame)
            extra = {**(extra or {}), "decoder": decoded.decoder, "decoded": to_plain(decoded.root)}
        from ipc.recording import frame_line  # only JSON output pays for the format

        return frame_line(
            unix, session_id, direction, frame, peer=self.peer if peer is None else peer,
            framing=self.framing, enc=self.encoding, extra=extra,
        )  # fmt: skip


def _hexdump(frame: bytes) -> str:
    """The length on the line, then the dump, each of its lines indented."""
    size = f"{len(frame):,} byte{'' if len(frame) == 1 else 's'}"
    if not frame:
        return size
    return size + "\n" + "\n".join("  " + line for line in hex_dump(frame).split("\n"))
