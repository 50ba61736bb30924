"""SessionModel: one row per TCP session with its state and counters, and one per listener
and relay pair.

A listener (``listen``, ``relay``) is a row of its own (``L1``: where it listens, whether
that is reachable from the network, its clients). A client it accepts is a session row
like any other; a relay pair is one row (``⇄1``: ``client ⇄ upstream``) whose counters go
each way (in: client -> server, out: server -> client), and its two legs are not rows of
their own. Rows are keyed by (engine generation, kind, id): the engine numbers sessions
(and listeners, and pairs) from 1 each time it starts. Counter updates from a flood are
coalesced: events only mark rows dirty, and a ``REFRESH_INTERVAL_MS`` timer emits one
``dataChanged`` and recomputes the rates.
When an engine dies its open sessions become ``lost`` (they are gone with the process).
"""

from __future__ import annotations

import time
import typing
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

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

from ipc import errors as ipc_errors, schema
from ipc.closed_text import closed_text
from ipc.diagnosis import Diagnosis
from ipc.text import DEFAULT_ENCODING
from ipc.tls import TlsInfo
from ui.formatting import (
    format_bytes,
    format_rate,
    framing_text,
    listener_name,
    pair_name,
    session_name,
)
from ui.lock_icon import lock_icon
from ui.tls_text import is_unverified, tls_mark

__all__ = ["OPEN_STATES", "RowKind", "SessionInfo", "SessionModel"]

REFRESH_INTERVAL_MS = 500
#: Closed sessions kept in the table before the oldest are removed.
MAX_FINISHED_SESSIONS = 200
#: States in which a session (or pair) can still be sent to or closed, or a listener closed.
OPEN_STATES = frozenset({"connecting", "connected", "open", "listening"})
#: States in which frames still arrive and leave, so the rates are measured.
_FLOWING_STATES = frozenset({"connected", "closing", "open"})
#: States a dead engine's rows leave for "lost".
_LIVE_STATES = frozenset({"connecting", "connected", "closing", "open", "listening"})

#: What a row is: a session, a listener or a relay pair.
RowKind = Literal["session", "listener", "pair"]

COLUMNS = ("Session", "Peer", "Framing", "State", "Frames in", "Bytes in", "Frames out",
           "Bytes out", "Frames/s in", "Frames/s out")  # fmt: skip
_STATE_COLOR = {
    "connecting": QColor("#8d6e00"),
    "connected": QColor("#1b5e20"),
    "closing": QColor("#8d6e00"),
    "closed": QColor("#555555"),
    "open": QColor("#1b5e20"),
    "listening": QColor("#1b5e20"),
    "failed": QColor("#b71c1c"),
    "lost": QColor("#b71c1c"),
}
_Index = QModelIndex | QPersistentModelIndex
#: The peer of a TLS session whose certificate was not verified (Insecure) is red.
_UNVERIFIED = QColor("#b71c1c")


@dataclass(slots=True)
class SessionInfo:
    """A row: a session, a listener or a relay pair (``kind``; ``session_id`` holds the
    listener's or the pair's id then)."""

    generation: int
    session_id: int
    host: str
    port: int
    framing: str
    label: str = ""
    #: The framing as the engine described it (a map), to open the same session again.
    spec: Any = None
    kind: RowKind = "session"
    #: The Peer column when it says more than host:port (a listener's address, a pair's
    #: ``client ⇄ upstream``).
    peer_text: str = ""
    #: A pair's legs (0 until known), or the listener an accepted session came from.
    client_session_id: int = 0
    upstream_session_id: int = 0
    listener_id: int = 0
    #: A relay listener's upstream ("host:port"); whether a listener is open to the network.
    upstream: str = ""
    reachable: bool = False
    #: A listener's live clients (sessions, or relay pairs).
    clients: int = 0
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
    #: What its TLS handshake established (None: plaintext); a pair's client leg.
    tls: TlsInfo | None = None
    #: A relay pair's upstream leg's TLS.
    upstream_tls: TlsInfo | None = None
    #: The client TLS options the window opened it with (``ClientTls``'s map; None:
    #: plaintext, or not opened here): Reconnect opens it the same way.
    tls_options: dict[str, Any] | None = None
    #: Why its TLS failed (``ipc.tls.TlsCause``, "alert" after the handshake; "": it did
    #: not), and the engine's sentence.
    tls_cause: str = ""
    tls_error: str = ""
    #: A listener whose clients speak TLS to it.
    serves_tls: bool = False
    _rate_frames: int = 0
    _rate_frames_out: int = 0
    _rate_at: float = 0.0

    @property
    def name(self) -> str:
        if self.kind == "pair":
            return pair_name(self.generation, self.session_id)
        if self.kind == "listener":
            return listener_name(self.generation, self.session_id)
        return session_name(self.generation, self.session_id)

    @property
    def key(self) -> tuple[int, RowKind, int]:
        return self.generation, self.kind, self.session_id

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_over(self) -> bool:
        """A session closed, failed or lost: it can only be opened again (Reconnect).
        A listener or relay pair that is over is started again from the form."""
        return self.kind == "session" and self.state in ("closed", "failed", "lost")

    @property
    def unverified(self) -> bool:
        """A TLS client side (the session, or a pair's upstream) that was not verified."""
        return is_unverified(self.tls) or is_unverified(self.upstream_tls)

    @property
    def peer_cell(self) -> str:
        """The Peer column: the address with each TLS side's lock or unverified mark."""
        if self.kind == "pair":
            client, _, upstream = (self.peer_text or f"{self.host}:{self.port}").partition(" ⇄ ")
            marked = tls_mark(self.tls, pair_side=True) + client
            if not upstream:
                return marked
            return f"{marked} ⇄ {tls_mark(self.upstream_tls, pair_side=True)}{upstream}"
        return tls_mark(self.tls) + (self.peer_text or f"{self.host}:{self.port}")

    @property
    def can_send(self) -> bool:
        """Whether Compose can send to it: an open session, or an open pair (a leg)."""
        return self.kind != "listener" and self.state in ("connecting", "connected", "open")


class SessionModel(QAbstractTableModel):
    """The sessions table; fed with engine events by ``apply_events``.

    ``rates_changed(float)`` gives the total frames/s in over all sessions whenever the
    rates are recomputed (the status bar shows it, so the two agree).
    """

    rates_changed = Signal(float)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[SessionInfo] = []
        self._by_key: dict[tuple[int, RowKind, int], SessionInfo] = {}
        #: A relay leg's pair row, by (generation, leg session id).
        self._legs: dict[tuple[int, int], SessionInfo] = {}
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_INTERVAL_MS)
        self._timer.timeout.connect(self._on_refresh)
        self._timer.start()

    def session(self, generation: int, session_id: int) -> SessionInfo | None:
        return self._by_key.get((generation, "session", session_id))

    def pair(self, generation: int, pair_id: int) -> SessionInfo | None:
        return self._by_key.get((generation, "pair", pair_id))

    def listener(self, generation: int, listener_id: int) -> SessionInfo | None:
        return self._by_key.get((generation, "listener", listener_id))

    def pair_of_leg(self, generation: int, session_id: int) -> int | None:
        """The id of the relay pair whose leg ``session_id`` is (None: not a live leg)."""
        pair = self._legs.get((generation, session_id))
        return pair.session_id if pair is not None else None

    def session_at(self, row: int) -> SessionInfo:
        return self._rows[row]

    def sessions(self) -> list[SessionInfo]:
        return list(self._rows)

    def apply_events(self, generation: int, events: list[schema.Event]) -> None:
        """Update rows from a batch of engine events (others are ignored)."""
        for ev in events:
            if isinstance(ev, schema.Received | schema.Sent):
                self._count(generation, ev)
            elif isinstance(ev, schema.Connecting):
                if ev.pair_id is not None:
                    self._upstream_leg(generation, ev)
                    continue
                self._add(
                    SessionInfo(
                        generation, ev.session_id, ev.host, ev.port, framing_text(ev.framing),
                        label=ev.label, spec=ev.framing, _rate_at=time.monotonic(),
                    )
                )  # fmt: skip
            elif isinstance(ev, schema.Accepted):
                self._accepted(generation, ev)
            elif isinstance(ev, schema.Connected):
                self._update(generation, ev.session_id, state="connected", detail=ev.local)
            elif isinstance(ev, schema.TlsEstablished):
                self._tls_established(generation, ev)
            elif isinstance(ev, schema.ConnectFailed):
                tls = {}
                if ev.reason == "tls":
                    tls = {"tls_cause": ev.details.get("tls_cause", "handshake"),
                           "tls_error": ev.message}  # fmt: skip
                if not self._leg_failed(generation, ev.session_id, tls):
                    self._update(
                        generation, ev.session_id, state="failed",
                        detail=f"{ev.reason}: {ev.message}", **tls,
                    )  # fmt: skip
            elif isinstance(ev, schema.SessionError):
                tls = {"tls_cause": "alert", "tls_error": ev.message} if ev.kind == "tls" else {}
                if not self._leg_failed(generation, ev.session_id, tls):
                    self._update(
                        generation,
                        ev.session_id,
                        detail=f"{ev.kind}: {ev.message}",
                        diagnosis=Diagnosis.from_wire(ev.details.get("diagnosis")),
                        **tls,
                    )
            elif isinstance(ev, schema.Closed):
                self._closed(generation, ev)
            elif isinstance(ev, schema.Listening | schema.ListenerClosed):
                self._listener_event(generation, ev)
            elif isinstance(ev, schema.PairOpened | schema.PairClosed):
                self._pair_event(generation, ev)

    def _tls_established(self, generation: int, ev: schema.TlsEstablished) -> None:
        """A session's TLS, or a relay leg's on its pair (the client's or the upstream's)."""
        tls = TlsInfo.from_wire(ev.tls)
        pair = self._legs.get((generation, ev.session_id))
        if pair is None:
            self._update(generation, ev.session_id, tls=tls)
        elif ev.session_id == pair.client_session_id:
            self._update_row(pair, tls=tls)
        else:
            self._update_row(pair, upstream_tls=tls)

    def _leg_failed(self, generation: int, session_id: int, tls: dict[str, str]) -> bool:
        """A relay leg's TLS failure goes to its pair; True if ``session_id`` is a leg."""
        pair = self._legs.get((generation, session_id))
        if pair is None:
            return False
        if tls:
            leg = "client" if session_id == pair.client_session_id else "upstream"
            self._update_row(pair, tls_cause=tls["tls_cause"],
                             tls_error=f"{leg}: {tls['tls_error']}")  # fmt: skip
        return True

    def _count(self, generation: int, ev: schema.Received | schema.Sent) -> None:
        """A session's frames, or a relay leg's, counted on its pair's row by direction."""
        nbytes = sum(map(len, ev.frames))
        if ev.pair_id is None:
            info = self._by_key.get((generation, "session", ev.session_id))
            incoming = isinstance(ev, schema.Received)
        else:
            info = self._by_key.get((generation, "pair", ev.pair_id))
            incoming = ev.direction == "c2s"
        if info is None:
            return
        if incoming:
            info.frames_in += len(ev.frames)
            info.bytes_in += nbytes
        else:
            info.frames_out += len(ev.frames)
            info.bytes_out += nbytes
        self._dirty = True

    def _accepted(self, generation: int, ev: schema.Accepted) -> None:
        host, _, port = ev.peer.rpartition(":")
        now = time.monotonic()
        self._count_client(generation, ev.listener_id, +1)
        if ev.pair_id is None:
            info = SessionInfo(
                generation, ev.session_id, host.strip("[]"), int(port or 0),
                framing_text(ev.framing), label=ev.label, state="connected", detail=ev.local,
                listener_id=ev.listener_id, _rate_at=now,
            )  # fmt: skip
            self._add(info)
            return
        listener = self.listener(generation, ev.listener_id)
        upstream = listener.upstream if listener is not None else "?"
        pair = SessionInfo(
            generation, ev.pair_id, host.strip("[]"), int(port or 0), framing_text(ev.framing),
            label=ev.label, kind="pair", peer_text=f"{ev.peer} ⇄ {upstream}",
            client_session_id=ev.session_id, listener_id=ev.listener_id,
            detail=f"connecting to the upstream {upstream}", _rate_at=now,
        )  # fmt: skip
        self._add(pair)
        self._legs[(generation, ev.session_id)] = pair

    def _upstream_leg(self, generation: int, ev: schema.Connecting) -> None:
        assert ev.pair_id is not None
        pair = self.pair(generation, ev.pair_id)
        if pair is None:
            return
        pair.upstream_session_id = ev.session_id
        self._legs[(generation, ev.session_id)] = pair
        upstream = framing_text(ev.framing)
        if upstream != pair.framing.partition(" ⇄ ")[0]:
            self._update_row(pair, framing=f"{pair.framing} ⇄ {upstream}")

    def _closed(self, generation: int, ev: schema.Closed) -> None:
        if self._legs.pop((generation, ev.session_id), None) is not None:
            return  # a relay leg: its pair says how the pair ended
        info = self._by_key.get((generation, "session", ev.session_id))
        if info is None:
            return
        if info.listener_id:
            self._count_client(generation, info.listener_id, -1)
        info.frames_in, info.bytes_in = ev.frames_in, ev.bytes_in
        info.frames_out, info.bytes_out = ev.frames_out, ev.bytes_out
        failed = ev.by == "error"
        reason = ev.details.get("reason")
        peer = "the client" if info.listener_id else "the server"
        ended = closed_text(ev.by, peer) + (f": {reason}" if reason else "")
        detail = info.detail if failed else ended
        diagnosis = Diagnosis.from_wire(ev.details.get("diagnosis"))
        if diagnosis is not None:
            info.diagnosis = diagnosis
        self._update_row(info, state="closed", detail=detail)
        self._forget_old()

    def _count_client(self, generation: int, listener_id: int, change: int) -> None:
        listener = self.listener(generation, listener_id)
        if listener is not None:
            self._update_row(listener, clients=max(0, listener.clients + change))

    def _listener_event(
        self, generation: int, ev: schema.Listening | schema.ListenerClosed
    ) -> None:
        if isinstance(ev, schema.ListenerClosed):
            info = self.listener(generation, ev.listener_id)
            if info is not None:
                detail = f"stopped listening ({ev.accepted:,} accepted, {ev.refused:,} turned away)"
                self._update_row(info, state="closed", detail=detail)
                self._forget_old()
            return
        framing = framing_text(ev.framing)
        if ev.upstream_framing and ev.upstream_framing != ev.framing:
            framing += f" ⇄ {framing_text(ev.upstream_framing)}"
        where = ev.local + (f" → {ev.upstream}" if ev.upstream else "")
        limits = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in ev.limits.items())
        detail = f"{ev.role} on {ev.local}" + (" (echo)" if ev.echo else "") + f"; {limits}"
        if ev.reachable:
            detail += f"\n{ev.local} is reachable from the network, not only from this machine"
        info = SessionInfo(
            generation, ev.listener_id, ev.host, ev.port, framing, label=ev.label,
            kind="listener", state="listening", peer_text=where, detail=detail,
            upstream=ev.upstream, reachable=ev.reachable, serves_tls=bool(ev.tls),
        )  # fmt: skip
        if ev.tls:
            detail += f"\nTLS: certificate {ev.tls.get('cert', '')}"
            if ev.tls.get("client_ca"):
                detail += f", client certificates from {ev.tls['client_ca']} required"
        if ev.upstream_tls is not None:
            detail += "\nTLS to the upstream server"
        info.detail = detail
        self._add(info)

    def _pair_event(self, generation: int, ev: schema.PairOpened | schema.PairClosed) -> None:
        pair = self.pair(generation, ev.pair_id)
        if pair is None:
            return
        if isinstance(ev, schema.PairOpened):
            pair.upstream_session_id = ev.upstream_session_id
            self._legs[(generation, ev.upstream_session_id)] = pair
            self._update_row(
                pair, state="open", peer_text=f"{ev.client} ⇄ {ev.upstream}",
                detail=f"relaying {ev.client} ⇄ {ev.upstream}",
            )  # fmt: skip
            return
        self._count_client(generation, pair.listener_id, -1)
        pair.frames_in, pair.bytes_in = ev.frames_c2s, ev.bytes_c2s
        pair.frames_out, pair.bytes_out = ev.frames_s2c, ev.bytes_s2c
        self._update_row(pair, state="closed", detail=ev.reason)
        self._forget_old()

    def apply_snapshot(self, generation: int, sessions: list[dict[str, Any]]) -> None:
        """Rows for the sessions an attached engine already had (``attach``'s result):
        their state and counters so far; later events update them as usual. Relay legs
        are left to ``apply_roles_snapshot``'s pairs."""
        now = time.monotonic()
        for item in sessions:
            if item.get("role") == "relay":
                continue
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
            elif item.get("closed_by") in typing.get_args(schema.ClosedBy):
                peer = "the client" if item.get("role") == "accept" else "the server"
                info.detail = closed_text(item["closed_by"], peer)
            else:
                info.detail = str(item.get("local", ""))
            self._add(info)
        self._forget_old()

    def apply_roles_snapshot(
        self,
        generation: int,
        listeners: list[dict[str, Any]],
        pairs: list[dict[str, Any]],
    ) -> None:
        """Rows for the listeners and relay pairs an attached engine already had."""
        for item in listeners:
            try:
                event = schema.Listening.from_params({**item, "at": 0.0})
            except ipc_errors.SchemaError:
                continue  # a listener map this window cannot read: skip it, keep the rest
            self._listener_event(generation, event)
            listener = self.listener(generation, event.listener_id)
            clients = item.get("clients")
            if listener is not None and isinstance(clients, int):
                listener.clients = clients
        now = time.monotonic()
        for item in pairs:
            try:
                # An upstream not connected (yet, or ever): where its listener relays to.
                listener = self.listener(generation, int(item["listener_id"]))
                upstream = item["upstream"] or (listener.upstream if listener else "") or "?"
                client, upstream = str(item["client"]), str(upstream)
                host, _, port = client.rpartition(":")
                pair = SessionInfo(
                    generation, int(item["pair_id"]), host.strip("[]"), int(port or 0), "",
                    kind="pair", state=str(item["state"]), peer_text=f"{client} ⇄ {upstream}",
                    client_session_id=int(item["client_session_id"]),
                    upstream_session_id=int(item["upstream_session_id"] or 0),
                    listener_id=int(item["listener_id"]), detail=str(item.get("reason", "")),
                    frames_in=int(item["frames_c2s"]), bytes_in=int(item["bytes_c2s"]),
                    frames_out=int(item["frames_s2c"]), bytes_out=int(item["bytes_s2c"]),
                    _rate_at=now,
                )  # fmt: skip
            except (KeyError, TypeError, ValueError):
                continue
            if listener is not None:
                pair.framing = listener.framing
            pair._rate_frames, pair._rate_frames_out = pair.frames_in, pair.frames_out
            self._add(pair)
            if pair.is_open:
                for leg in (pair.client_session_id, pair.upstream_session_id):
                    self._legs[(generation, leg)] = pair
        self._forget_old()

    def mark_closing(self, info: SessionInfo) -> None:
        self._update_row(info, state="closing")

    def mark_lost(self, generation: int, why: str) -> Counter[str]:
        """Sessions, listeners and pairs of a dead engine are lost; return how many of
        each kind were open."""
        lost: Counter[str] = Counter()
        for info in self._rows:
            if info.generation == generation and info.state in _LIVE_STATES:
                info.state, info.detail = "lost", why
                info.rate_in = info.rate_out = 0.0
                lost[info.kind] += 1
        if lost:
            self._emit_all()
            self.rates_changed.emit(self.rate_in_total())
        return lost

    def _add(self, info: SessionInfo) -> None:
        key = info.key
        if key in self._by_key:
            return
        n = len(self._rows)
        self.beginInsertRows(QModelIndex(), n, n)
        self._rows.append(info)
        self._by_key[key] = info
        self.endInsertRows()

    def _update(self, generation: int, session_id: int, **changes: Any) -> None:
        info = self._by_key.get((generation, "session", session_id))
        if info is not None:
            self._update_row(info, **changes)

    def _update_row(self, info: SessionInfo, **changes: Any) -> None:
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
            del self._by_key[info.key]
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
            if info.kind == "listener":
                return _listener_cells(info)[col]
            # A pair's counters go each way: in is client -> server, out the way back.
            into, out = ("→ ", "← ") if info.kind == "pair" else ("", "")
            return (
                info.name + (f" {info.label}" if info.label else ""),
                info.peer_cell,
                info.framing,
                info.state,
                f"{into}{info.frames_in:,}",
                format_bytes(info.bytes_in),
                f"{out}{info.frames_out:,}",
                format_bytes(info.bytes_out),
                format_rate(info.rate_in),
                format_rate(info.rate_out),
            )[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 1 and (info.tls or info.upstream_tls):  # the lock's summary
                return "\n".join(_tls_tips(info)) + "\n(double-click: the details)"
            return info.detail or None
        if role == Qt.ItemDataRole.DecorationRole and col == 1:
            if info.tls or info.upstream_tls or info.serves_tls:
                return lock_icon(not info.unverified)
            return None
        if role == Qt.ItemDataRole.ForegroundRole and col == 1 and info.unverified:
            return _UNVERIFIED
        if role == Qt.ItemDataRole.ForegroundRole and col == 3:
            return _STATE_COLOR.get(info.state)
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return info
        return None


def _tls_tips(info: SessionInfo) -> list[str]:
    """The Peer cell's tooltip: each TLS side in a line."""
    sides = [("", info.tls)] if info.kind != "pair" else [
        ("client side: ", info.tls), ("upstream: ", info.upstream_tls)
    ]  # fmt: skip
    return [f"{what}{tls.summary()}: {tls.verification}" for what, tls in sides if tls]


def _listener_cells(info: SessionInfo) -> tuple[str, ...]:
    """A listener's row: where it listens and its clients (it moves no frames itself)."""
    where = info.peer_text
    if info.is_open:
        where += f" · {info.clients:,} client{'' if info.clients == 1 else 's'}"
        if info.reachable:
            where += " · reachable from the network"
    name = info.name + (f" {info.label}" if info.label else "")
    return (name, where, info.framing, info.state, "", "", "", "", "", "")
