"""The recording format: one JSON object per line, one frame or session event each.

One schema for everything framewire writes frame by frame: the CLI's ``--output json``
(with ``--show-sent``), the GUI's "Save… as JSON lines", ``--capture`` files, and what a
replay reads back. docs/recording.md is the reference; in short, a frame line is::

    {"v": 1, "t": 1764012345.123456, "session": 3, "dir": "in", "len": 5,
     "hex": "68656c6c6f", "text": "hello", "peer": "127.0.0.1:9000", "framing": "le32"}

* ``v``: the schema version, on every line, so each line stands alone (a rotated or
  ``grep``-ed file needs no header); a reader refuses a version it does not know;
* ``t``: wall-clock Unix time in seconds; ``session``: the engine's session id;
* ``dir``: ``"in"`` (from the peer) or ``"out"`` (to it); ``len``: the payload's bytes;
* ``hex``: the payload, always, losslessly; ``text``: the payload decoded, present only
  when it decodes in ``enc`` (UTF-8 unless ``enc`` says otherwise);
* optional: ``peer``/``local`` ("host:port"), ``framing`` (``ipc.framing.parse_framing``
  form), ``enc``, ``engine`` (which engine run numbered the session, from the second on);
* ``decoder`` and ``decoded``: when the writer decoded the payload (``--decode``), the
  decoder's name (for ``auto``, the one it chose) and the value as plain JSON (maps,
  lists, numbers, strings; bytes as hex strings), see ``decoders.to_plain``; both or
  neither;
* reserved for other parts: ``pair`` (the relay pair a session belongs to); new ``dir``
  values may come with it. Readers keep keys they do not know (``extra``) and skip nothing silently.

An event line has ``event`` instead of ``dir`` (``open``, ``close``, ``error``,
``engine``, ``info``) and an optional ``detail``.

Pure functions and dataclasses; no I/O, neither trio nor Qt.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EVENTS",
    "SCHEMA_VERSION",
    "EventRecord",
    "FrameRecord",
    "RecordingError",
    "event_line",
    "frame_line",
    "frame_object",
    "parse_line",
    "read_recording",
]

#: Bumped only for a change an old reader would misread; adding optional keys keeps it.
SCHEMA_VERSION = 1

#: The event lines a recording holds (``info``: a note of the GUI's log; ``tls``: what a
#: session's TLS handshake established, its map in the ``tls`` key).
EVENTS = ("open", "close", "error", "engine", "info", "tls")

_FRAME_KEYS = frozenset(
    {"v", "t", "session", "dir", "len", "hex", "text", "peer", "local", "framing", "enc", "engine"}
    | {"decoder", "decoded"}
)
_EVENT_KEYS = frozenset({"v", "t", "session", "event", "peer", "local", "framing", "detail"})


class RecordingError(ValueError):
    """A line is not a valid recording line (the message names what is wrong)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameRecord:
    """One frame of a recording."""

    t: float
    session: int
    dir: str
    payload: bytes
    peer: str = ""
    local: str = ""
    framing: str = ""
    enc: str = "utf-8"
    engine: int | None = None
    #: The decoder's name and the decoded value (any JSON value); ``decoder`` "" = none.
    decoder: str = ""
    decoded: Any = None
    #: Keys this reader does not know (``pair``, ...), kept as they were.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_line(self) -> str:
        return frame_line(
            self.t,
            self.session,
            self.dir,
            self.payload,
            peer=self.peer,
            local=self.local,
            framing=self.framing,
            enc=self.enc,
            engine=self.engine,
            decoder=self.decoder,
            decoded=self.decoded,
            extra=self.extra,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """A session event of a recording: ``open``, ``close``, ``error`` or ``engine``."""

    t: float
    session: int
    event: str
    peer: str = ""
    local: str = ""
    framing: str = ""
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_line(self) -> str:
        return event_line(
            self.t,
            self.session,
            self.event,
            peer=self.peer,
            local=self.local,
            framing=self.framing,
            detail=self.detail,
            extra=self.extra,
        )


def frame_object(
    t: float,
    session: int,
    direction: str,
    payload: bytes,
    *,
    peer: str = "",
    local: str = "",
    framing: str = "",
    enc: str = "utf-8",
    engine: int | None = None,
    decoder: str = "",
    decoded: Any = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON object of one frame line (see the module docstring for the keys)."""
    record: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "t": round(t, 6),
        "session": session,
        "dir": direction,
        "len": len(payload),
        "hex": payload.hex(),
    }
    with contextlib.suppress(UnicodeDecodeError):
        record["text"] = payload.decode(enc)
    if enc != "utf-8":
        record["enc"] = enc
    if peer:
        record["peer"] = peer
    if local:
        record["local"] = local
    if framing:
        record["framing"] = framing
    if engine is not None:
        record["engine"] = engine
    if decoder:
        record["decoder"] = decoder
        record["decoded"] = decoded
    if extra:
        record.update(extra)
    return record


def frame_line(
    t: float,
    session: int,
    direction: str,
    payload: bytes,
    *,
    peer: str = "",
    local: str = "",
    framing: str = "",
    enc: str = "utf-8",
    engine: int | None = None,
    decoder: str = "",
    decoded: Any = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """One frame as a JSON line (no newline). Non-ASCII text is written as is (UTF-8)."""
    return json.dumps(
        frame_object(
            t,
            session,
            direction,
            payload,
            peer=peer,
            local=local,
            framing=framing,
            enc=enc,
            engine=engine,
            decoder=decoder,
            decoded=decoded,
            extra=extra,
        ),
        ensure_ascii=False,
    )


def event_line(
    t: float,
    session: int,
    event: str,
    *,
    peer: str = "",
    local: str = "",
    framing: str = "",
    detail: str = "",
    extra: dict[str, Any] | None = None,
) -> str:
    """One session event as a JSON line (no newline)."""
    record: dict[str, Any] = {"v": SCHEMA_VERSION, "t": round(t, 6), "session": session}
    record["event"] = event
    for key, value in (("peer", peer), ("local", local), ("framing", framing)):
        if value:
            record[key] = value
    if detail:
        record["detail"] = detail
    if extra:
        record.update(extra)
    return json.dumps(record, ensure_ascii=False)


def parse_line(line: str) -> FrameRecord | EventRecord:
    """Read one recording line.

    Raises:
        RecordingError: not JSON, not an object, a version this reader does not know, or a
            missing or ill-typed key (the message names it). ``hex`` and ``len`` must agree.
    """
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RecordingError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise RecordingError(f"a line must be a JSON object, not {type(obj).__name__}")
    version = obj.get("v")
    if version != SCHEMA_VERSION:
        raise RecordingError(f"schema version {version!r} is not {SCHEMA_VERSION}")
    t = _get(obj, "t", (int, float))
    session = _get(obj, "session", int)
    common = {
        "peer": _get(obj, "peer", str, ""),
        "local": _get(obj, "local", str, ""),
        "framing": _get(obj, "framing", str, ""),
    }
    if "event" in obj:
        return EventRecord(
            t=float(t),
            session=session,
            event=_get(obj, "event", str),
            detail=_get(obj, "detail", str, ""),
            extra={k: v for k, v in obj.items() if k not in _EVENT_KEYS},
            **common,
        )
    hex_text = _get(obj, "hex", str)
    try:
        payload = bytes.fromhex(hex_text)
    except ValueError:
        raise RecordingError("'hex' is not hexadecimal") from None
    length = _get(obj, "len", int)
    if length != len(payload):
        raise RecordingError(f"'len' is {length} but 'hex' holds {len(payload)} bytes")
    engine = obj.get("engine")
    if engine is not None and (type(engine) is not int):
        raise RecordingError("'engine' must be an integer")
    decoder = _get(obj, "decoder", str, "")
    if bool(decoder) != ("decoded" in obj):
        raise RecordingError("'decoder' and 'decoded' go together")
    return FrameRecord(
        t=float(t),
        session=session,
        dir=_get(obj, "dir", str),
        payload=payload,
        enc=_get(obj, "enc", str, "utf-8"),
        engine=engine,
        decoder=decoder,
        decoded=obj.get("decoded"),
        extra={k: v for k, v in obj.items() if k not in _FRAME_KEYS},
        **common,
    )


_MISSING = object()


def _get(obj: dict[str, Any], key: str, kind: Any, default: Any = _MISSING) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        if default is _MISSING:
            raise RecordingError(f"missing key {key!r}")
        return default
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RecordingError(f"{key!r} has the wrong type ({type(value).__name__})")
    return value


def read_recording(lines: Iterable[str]) -> Iterator[FrameRecord | EventRecord]:
    """The records of a recording's lines, in order; blank lines are skipped.

    Raises:
        RecordingError: at the first bad line, with its line number.
    """
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield parse_line(line)
        except RecordingError as exc:
            raise RecordingError(f"line {number}: {exc}") from None
