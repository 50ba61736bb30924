"""Log rows as lines of text, for the saved text log and ``--log-file`` (Qt-free).

A line is tab-separated: the local date and time to the microsecond, the session, the
direction, the payload's length (empty for a note) and the payload: as text when it
reads as text, with everything not printable escaped (``ipc.payload_text``), else as hex
bytes. So a line is always one line, and a file of them sorts, greps and diffs::

    2026-11-24 18:52:01.123456	#1	in	30	hello, client! you said: hello
    2026-11-24 18:52:01.125000	#1	info		closed by the peer (in 1 frame / 30 B, …)

Formatting is the cost of saving a million rows on the GUI thread (in slices), so the
common case, printable ASCII, is a few C calls, and the date of a run of rows with the
same time is formatted once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ipc.payload_text import escape_text, text_or_hex
from ipc.text import DEFAULT_ENCODING
from ui.log_store import Direction

__all__ = ["RowFormatter", "format_datetime"]


def format_datetime(wall: float) -> str:
    """Local date and time with microseconds: ``2026-11-24 18:52:01.123456``."""
    seconds = int(wall // 1)
    micros = round((wall - seconds) * 1_000_000)
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) + f".{micros:06d}"


class RowFormatter:
    """Formats rows as lines (see the module docstring); remembers the last time shown."""

    def __init__(self) -> None:
        self._wall = float("nan")
        self._stamp = ""

    def line(self, wall: float, session: str, direction: Direction, payload: bytes) -> str:
        """One row as a line, without its newline."""
        return self.lines(session, direction, [wall], [payload])[0]

    def lines(
        self,
        session: str,
        direction: Direction,
        walls: Iterable[float],
        payloads: Iterable[bytes],
        encoding: str = DEFAULT_ENCODING,
    ) -> list[str]:
        """Rows of one session and direction (a ``LogStore.segment``) as lines; frames'
        text read in ``encoding`` (the session's, ``ipc.text``)."""
        out: list[str] = []
        append = out.append
        last, stamp = self._wall, self._stamp
        if direction is Direction.INFO or direction is Direction.ERROR:
            head = f"\t{session}\t{direction.value}\t\t"
            for wall, payload in zip(walls, payloads, strict=True):
                if wall != last:
                    last, stamp = wall, format_datetime(wall)
                append(f"{stamp}{head}{escape_text(payload)}")
        else:
            head = f"\t{session}\t{direction.value}\t"
            for wall, payload in zip(walls, payloads, strict=True):
                if wall != last:
                    last, stamp = wall, format_datetime(wall)
                append(f"{stamp}{head}{len(payload)}\t{text_or_hex(payload, encoding)}")
        self._wall, self._stamp = last, stamp
        return out
