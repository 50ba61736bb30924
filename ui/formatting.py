"""Qt-free text helpers for the window: times, sizes, rates, previews, hex input, exits.

Hex input and the hex dump are ``ipc.payload_text``'s (the CLI reads and shows them the
same way); they are re-exported here for the widgets.

Everything here is a plain function of its arguments so it can be unit-tested without a
``QApplication`` (STYLE.md 4.7).
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Mapping

from ipc.errors import SchemaError
from ipc.framing import FramingSpec, describe
from ipc.payload_text import HexError, escape_text, hex_dump, looks_like_text, parse_hex
from ipc.recording import event_line, frame_line
from ipc.text import DEFAULT_ENCODING

__all__ = [
    "HexError",
    "describe_exit",
    "format_bytes",
    "format_duration",
    "format_rate",
    "format_time",
    "framing_text",
    "hex_dump",
    "hex_error",
    "listener_name",
    "log_row_json",
    "pair_name",
    "parse_hex",
    "parse_session_name",
    "plural",
    "preview",
    "session_name",
    "to_hex",
]


def format_time(wall: float) -> str:
    """Local wall-clock time with milliseconds: ``14:03:27.512``."""
    seconds = int(wall)
    millis = int((wall - seconds) * 1000)
    return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{millis:03d}"


def format_bytes(n: int) -> str:
    """Human-readable byte count: ``512 B``, ``1.5 KiB``, ``3.2 MiB``."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def format_rate(per_second: float, unit: str = "/s") -> str:
    """Short rate: ``0/s``, ``950/s``, ``12.3k/s``, ``1.25M/s``."""
    if per_second < 1000:
        return f"{per_second:.0f}{unit}"
    if per_second < 1_000_000:
        return f"{per_second / 1000:.1f}k{unit}"
    return f"{per_second / 1_000_000:.2f}M{unit}"


def plural(count: int, noun: str) -> str:
    """``1 frame``, ``2 frames``, ``1,000 frames`` (nouns that take an ``s``)."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


#: How a row of the sessions table is called, by its kind.
_ROW_NOUNS = {"session": "session", "listener": "listener", "pair": "relay pair"}


def rows_in_words(counts: Mapping[str, int], adjective: str = "") -> str:
    """``2 open sessions, 1 listener and 1 relay pair`` for counts by row kind
    (``SessionModel.mark_lost``); ``adjective`` goes before the first noun."""
    parts = [plural(counts[kind], noun) for kind, noun in _ROW_NOUNS.items() if counts.get(kind)]
    if adjective and parts:
        count, _, rest = parts[0].partition(" ")
        parts[0] = f"{count} {adjective} {rest}"
    return " and ".join([", ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else "".join(parts)


def format_duration(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3 min 5 s``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def to_hex(payload: bytes, limit: int | None = None) -> str:
    """Space-separated hex bytes, cut at ``limit`` bytes with a trailing ellipsis."""
    if limit is not None and len(payload) > limit:
        return payload[:limit].hex(" ") + " …"
    return payload.hex(" ")


def preview(payload: bytes, limit: int = 96) -> str:
    """One line: the payload as text when it reads as text (non-printable bytes escaped,
    ``ipc.payload_text``), else hex; at most ``limit`` characters, then "…".

    A reply that is mostly text with a few binary bytes reads as text (issue 17).
    """
    head = payload[: limit * 4]  # enough bytes for `limit` characters of UTF-8
    cut = len(payload) > len(head)
    if cut:
        head = _whole_characters(head)
    if not looks_like_text(head):
        return to_hex(payload, limit // 3)
    text = escape_text(head)
    if len(text) > limit or cut:
        return text[:limit] + "…"
    return text


def _whole_characters(head: bytes) -> bytes:
    """``head`` without a UTF-8 character its cut split (its last 1-3 bytes)."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(head) - 3:
            return head[: exc.start]
    return head


def hex_error(text: str) -> str | None:
    """Return why ``text`` is not valid hex input, or ``None`` if it is.

    Accepted: pairs of hex digits, optionally prefixed ``0x``, separated by spaces, commas,
    colons or dashes (``68 65 6c``, ``0x68,0x65``, ``68656c``).
    """
    try:
        parse_hex(text)
    except HexError as exc:
        return str(exc)
    return None


def describe_exit(exit_code: int, crashed: bool) -> str:
    """Why a process ended, as QProcess reports it (on Unix a crash's code is the signal)."""
    if not crashed:
        return f"exited with code {exit_code}"
    try:
        name = signal.Signals(exit_code).name
    except ValueError:
        return f"crashed (signal {exit_code})"
    return f"killed by signal {exit_code} ({name})"


def log_row_json(
    wall: float,
    session: str,
    direction: str,
    payload: bytes,
    *,
    peer: str = "",
    framing: str = "",
    encoding: str = DEFAULT_ENCODING,
) -> str:
    """One saved log row as a recording line (``ipc.recording``, docs/recording.md).

    A frame row is a frame line; a note (``info``/``error``) an event line of that name
    whose ``detail`` is the note. ``session`` is the window's name (``#3``, ``e2#3``):
    the line gets the engine's number and, after a restart, ``engine`` (the generation).
    """
    generation, number = parse_session_name(session)
    if direction in ("in", "out", "c2s", "s2c"):
        engine = generation if generation > 1 else None
        # A relayed row is named after its pair (the recording's ``pair``).
        pair = {"pair": number} if direction in ("c2s", "s2c") else None
        return frame_line(
            wall, number, direction, payload, peer=peer, framing=framing, enc=encoding,
            engine=engine, extra=pair,
        )  # fmt: skip
    extra = {"engine": generation} if generation > 1 else None
    detail = payload.decode("utf-8", "replace")
    return event_line(wall, number, direction, peer=peer, detail=detail, extra=extra)


def parse_session_name(name: str) -> tuple[int, int]:
    """``"#3"`` -> (1, 3), ``"e2#3"`` -> (2, 3) (a relay pair's ``"⇄3"`` and a listener's
    ``"L3"`` alike); (0, 0) for rows about no session."""
    match = _SESSION_NAME.fullmatch(name)
    if match is None:
        return 0, 0
    return int(match.group(1) or 1), int(match.group(2))


_SESSION_NAME = re.compile(r"(?:e(\d+))?[#⇄L](\d+)")


def pair_name(generation: int, pair_id: int) -> str:
    """Name of a relay pair in the window: ``⇄1``, or ``e2⇄1`` (see ``session_name``)."""
    return f"⇄{pair_id}" if generation <= 1 else f"e{generation}⇄{pair_id}"


def listener_name(generation: int, listener_id: int) -> str:
    """Name of a listener in the window: ``L1``, or ``e2L1`` (see ``session_name``)."""
    return f"L{listener_id}" if generation <= 1 else f"e{generation}L{listener_id}"


def session_name(generation: int, session_id: int) -> str:
    """Name of a session in the window: ``#3``, or ``e2#3`` for engines after a restart.

    The engine numbers sessions from 1 each time it starts, so the engine generation
    disambiguates sessions across restarts.
    """
    return f"#{session_id}" if generation <= 1 else f"e{generation}#{session_id}"


def framing_text(framing: object) -> str:
    """Short description of a framing spec map or a preset name: the preset's name, or
    framing words (``le24,adjust=1``) as ``ipc.framing.parse_framing`` reads them."""
    if isinstance(framing, str):
        return framing
    if isinstance(framing, dict):
        try:
            return describe(FramingSpec.from_wire(framing))
        except SchemaError:
            return "?"
    return str(framing)
