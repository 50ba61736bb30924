"""SessionModel: one row per TCP session with its state and counters.

Rows are keyed by (engine generation, session id): the engine numbers sessions from 1 each
time it starts. Counter updates from a flood are coalesced: events only mark rows dirty,
and a ``REFRESH_INTERVAL_MS`` timer emits one ``dataChanged`` and recomputes the rates.
When an engine dies its open sessions become ``lost`` (they are gone with the process).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor

from ipc import schema
from ipc.diagnosis import Diagnosis
from ipc.text import DEFAULT_ENCODING
from ipc.tls import TlsInfo
from ui.formatting import format_bytes, format_rate, framing_text, session_name

__all__ = ["OPEN_STATES", "SessionInfo", "SessionModel", "tls_mark"]

REFRESH_INTERVAL_MS = 500
#: Closed sessions kept in the table before the oldest are removed.
MAX_FINISHED_SESSIONS = 200
#: States in which a session can still be sent to or closed.
OPEN_STATES = frozenset({"connecting", "connected"})
#: States in which frames still arrive and leave, so the rates are measured.
_FLOWING_STATES = frozenset({"connected", "closing"})

COLUMNS = ("Session", "Peer", "Framing", "State", "Frames in", "Bytes in", "Frames out",
           "Bytes out", "Frames/s in", "Frames/s out")  # fmt: skip
_STATE_COLOR = {
    "connecting": QColor("#8d6e00"),
    "connected": QColor("#1b5e20"),
    "closing": QColor("#8d6e00"),
    "closed": QColor("#555555"),
    "failed": QColor("#b71c1c"),
    "lost": QColor("#b71c1c"),
}
_Index = QModelIndex | QPersistentModelIndex
#: The peer of a TLS session whose certificate was not verified (--insecure) is red.
_UNVERIFIED = QColor("#b71c1c")


def tls_mark(tls: TlsInfo | None) -> str:
    """The peer column's prefix: a lock for a verified TLS session, a warning sign and
    "unverified" for one that skipped verification; nothing for plaintext."""
    if tls is None:
        return ""
    if tls.verified or tls.side == "server":
        return "🔒 "
    return "⚠ unverified TLS · "


@dataclass(slots=True)
class SessionInfo:
    generation: int
    session_id: int
    host: str
    port: int
    framing: str
    label: str = ""
    #: The framing as the engine described it (a map), to open the same session again.
    spec: Any = None
    state: str = "connecting"
    detail: str = ""  # why it failed or closed
    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    rate_in: float = 0.0  # frames/s, over the last refresh interval
    rate_out: float = 0.0
    #: How the window shows and composes its payloads as text (``ipc.text``).
    encoding: str = DEFAULT_ENCODING
    #: What the engine made of its bytes when it ended badly (``ipc.diagnosis``).
    diagnosis: Diagnosis | None = None
    #: What its TLS handshake established (None: plaintext).
    tls: TlsInfo | None = None
    _rate_frames: int = 0
    _rate_frames_out: int = 0
    _rate_at: float = 0.0

    @property
    def name(self) -> str:
        return session_name(self.generation, self.session_id)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_over(self) -> bool:
        """Closed, failed or lost: it can only be opened again (Reconnect)."""
        return self.state in ("closed", "failed", "lost")


class SessionModel(QAbstractTableModel):
    """The sessions table; fed with engine events by ``apply_events``.

    ``rates_changed(float)`` gives the total frames/s in over all sessions whenever the
    rates are recomputed (the status bar shows it, so the two agree).
    """

    rates_changed = Signal(float)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[SessionInfo] = []
        self._by_key: dict[tuple[int, int], SessionInfo] = {}
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_INTERVAL_MS)
        self._timer.timeout.connect(self._on_refresh)
        self._timer.start()

    def session(self, generation: int, session_id: int) -> SessionInfo | None:
        return self._by_key.get((generation, session_id))

    def session_at(self, row: int) -> SessionInfo:
        return self._rows[row]

    def sessions(self) -> list[SessionInfo]:
        return list(self._rows)

    def apply_events(self, generation: int, events: list[schema.Event]) -> None:
        """Update rows from a batch of engine events (others are ignored)."""
        for ev in events:
            if isinstance(ev, schema.Received):
                info = self._by_key.get((generation, ev.session_id))
                if info is not None:
                    info.frames_in += len(ev.frames)
                    info.bytes_in += sum(map(len, ev.frames))
                    self._dirty = True
            elif isinstance(ev, schema.Sent):
                info = self._by_key.get((generation, ev.session_id))
                if info is not None:
                    info.frames_out += len(ev.frames)
                    info.bytes_out += sum(map(len, ev.frames))
                    self._dirty = True
            elif isinstance(ev, schema.Connecting):
                self._add(
                    SessionInfo(
                        generation, ev.session_id, ev.host, ev.port, framing_text(ev.framing),
                        label=ev.label, spec=ev.framing, _rate_at=time.monotonic(),
                    )
                )  # fmt: skip
            elif isinstance(ev, schema.Connected):
                self._update(generation, ev.session_id, state="connected", detail=ev.local)
            elif isinstance(ev, schema.TlsEstablished):
                self._update(generation, ev.session_id, tls=TlsInfo.from_wire(ev.tls))
            elif isinstance(ev, schema.ConnectFailed):
                self._update(
                    generation, ev.session_id, state="failed", detail=f"{ev.reason}: {ev.message}"
                )
            elif isinstance(ev, schema.SessionError):
                self._update(
                    generation,
                    ev.session_id,
                    detail=f"{ev.kind}: {ev.message}",
                    diagnosis=Diagnosis.from_wire(ev.details.get("diagnosis")),
                )
            elif isinstance(ev, schema.Closed):
                info = self._by_key.get((generation, ev.session_id))
                if info is not None:
                    info.frames_in, info.bytes_in = ev.frames_in, ev.bytes_in
                    info.frames_out, info.bytes_out = ev.frames_out, ev.bytes_out
                    failed = ev.by == "error"
                    detail = info.detail if failed else f"closed by {ev.by}"
                    diagnosis = Diagnosis.from_wire(ev.details.get("diagnosis"))
                    if diagnosis is not None:
                        info.diagnosis = diagnosis
                    self._update(generation, ev.session_id, state="closed", detail=detail)
                    self._forget_old()

    def apply_snapshot(self, generation: int, sessions: list[dict[str, Any]]) -> None:
        """Rows for the sessions an attached engine already had (``attach``'s result):
        their state and counters so far; later events update them as usual."""
        now = time.monotonic()
        for item in sessions:
            try:
                info = SessionInfo(
                    generation, int(item["session_id"]), str(item["host"]), int(item["port"]),
                    framing_text(item["framing"]), label=str(item.get("label", "")),
                    state=str(item["state"]), _rate_at=now,
                )  # fmt: skip
                for name in ("frames_in", "bytes_in", "frames_out", "bytes_out"):
                    setattr(info, name, int(item.get(name, 0)))
            except (KeyError, TypeError, ValueError):
                continue  # a session map this window cannot read: skip it, keep the rest
            info._rate_frames, info._rate_frames_out = info.frames_in, info.frames_out
            info.tls = TlsInfo.from_wire(item.get("tls"))
            error = item.get("error")
            if isinstance(error, dict):
                info.detail = f"{error.get('kind')}: {error.get('message')}"
            elif item.get("closed_by"):
                info.detail = f"closed by {item['closed_by']}"
            else:
                info.detail = str(item.get("local", ""))
            self._add(info)
        self._forget_old()

    def mark_closing(self, generation: int, session_id: int) -> None:
        self._update(generation, session_id, state="closing")

    def mark_lost(self, generation: int, why: str) -> int:
        """Sessions of a dead engine are lost; return how many were open."""
        count = 0
        for info in self._rows:
            if info.generation == generation and info.state in (
                "connecting",
                "connected",
                "closing",
            ):
                info.state, info.detail = "lost", why
                info.rate_in = info.rate_out = 0.0
                count += 1
        if count:
            self._emit_all()
            self.rates_changed.emit(self.rate_in_total())
        return count

    def _add(self, info: SessionInfo) -> None:
        key = (info.generation, info.session_id)
        if key in self._by_key:
            return
        n = len(self._rows)
        self.beginInsertRows(QModelIndex(), n, n)
        self._rows.append(info)
        self._by_key[key] = info
        self.endInsertRows()

    def _update(self, generation: int, session_id: int, **changes: Any) -> None:
        info = self._by_key.get((generation, session_id))
        if info is None:
            return
        for name, value in changes.items():
            setattr(info, name, value)
        if info.state in ("closed", "failed") and (info.rate_in or info.rate_out):
            info.rate_in = info.rate_out = 0.0
            self.rates_changed.emit(self.rate_in_total())
        row = self._rows.index(info)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def _forget_old(self) -> None:
        finished = [i for i, s in enumerate(self._rows) if not s.is_open]
        for row in reversed(finished[: max(0, len(finished) - MAX_FINISHED_SESSIONS)]):
            self.beginRemoveRows(QModelIndex(), row, row)
            info = self._rows.pop(row)
            del self._by_key[(info.generation, info.session_id)]
            self.endRemoveRows()

    def refresh_if_due(self, within_ms: int) -> None:
        """Refresh the rates now if the next refresh is due within ``within_ms`` (see
        ``LogModel.flush_if_due``: view work right after an animation frame)."""
        if self._timer.remainingTime() <= within_ms:
            self._timer.start()  # the next one is a whole interval from now
            self._on_refresh()

    def _on_refresh(self) -> None:
        now = time.monotonic()
        changed = self._dirty
        for info in self._rows:
            if info.state in _FLOWING_STATES:
                elapsed = now - info._rate_at
                if elapsed > 0:
                    rate_in = (info.frames_in - info._rate_frames) / elapsed
                    rate_out = (info.frames_out - info._rate_frames_out) / elapsed
                    changed = changed or (rate_in, rate_out) != (info.rate_in, info.rate_out)
                    info.rate_in, info.rate_out = rate_in, rate_out
                info._rate_frames, info._rate_frames_out = info.frames_in, info.frames_out
                info._rate_at = now
        self._dirty = False
        if changed:
            self._emit_all()
            self.rates_changed.emit(self.rate_in_total())

    def rate_in_total(self) -> float:
        """Frames/s in over all sessions, as the table shows them."""
        return sum(info.rate_in for info in self._rows)

    def _emit_all(self) -> None:
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(COLUMNS) - 1)
            )

    # ------------------------------------------------------------------ Qt model API

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = 0) -> Any:
        if not index.isValid():
            return None
        info = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                info.name + (f" {info.label}" if info.label else ""),
                tls_mark(info.tls) + f"{info.host}:{info.port}",
                info.framing,
                info.state,
                f"{info.frames_in:,}",
                format_bytes(info.bytes_in),
                f"{info.frames_out:,}",
                format_bytes(info.bytes_out),
                format_rate(info.rate_in),
                format_rate(info.rate_out),
            )[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 1 and info.tls is not None:  # the lock's details
                return "\n".join(f"{label}: {value}" for label, value in info.tls.details())
            return info.detail or None
        if role == Qt.ItemDataRole.ForegroundRole and col == 1 and info.tls is not None:
            return None if info.tls.verified or info.tls.side == "server" else _UNVERIFIED
        if role == Qt.ItemDataRole.ForegroundRole and col == 3:
            return _STATE_COLOR.get(info.state)
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return info
        return None
