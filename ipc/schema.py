"""Every IPC command, result and event, in one place (docs/design.md, "IPC").

Wire shape (MessagePack-RPC): a request is ``[0, msgid, method, [params]]``, a response
``[1, msgid, error, result]``, a notification ``[2, method, [params]]``. ``params`` is
always a one-element array holding a map of named fields, so fields can be added without
breaking old peers: a receiver ignores keys it does not know (add-only evolution).

Commands (controller -> engine requests) and events (engine -> controller notifications)
are small frozen records (``ipc.message_class.message``: a frozen, slotted, keyword-only
dataclass without the dataclass's start-up cost). ``from_params`` validates a decoded
map and raises ``SchemaError``; constructing one with bad values in code raises
``LocalProtocolError``.

Times: every event carries ``at``, the engine's monotonic clock in seconds. The ``hello``
event carries ``clock_offset``; ``at + clock_offset`` is wall-clock Unix time.
"""

from __future__ import annotations

import itertools
import reprlib
import types
import typing
from collections.abc import Callable
from dataclasses import field
from typing import Any, ClassVar, Literal, NamedTuple, Self, get_args, get_origin

from ipc.errors import LocalProtocolError, SchemaError
from ipc.message_class import MessageBase, message

__all__ = [
    "COMMANDS",
    "EVENTS",
    "PROTOCOL_VERSION",
    "Abort",
    "Accepted",
    "Ack",
    "Attach",
    "Capture",
    "ChannelClosed",
    "Close",
    "CloseListener",
    "Closed",
    "Command",
    "ConnectFailed",
    "Connected",
    "Connecting",
    "Event",
    "FlowControl",
    "GetApiInfo",
    "Hello",
    "History",
    "HistoryEnd",
    "ListListeners",
    "ListSessions",
    "Listen",
    "ListenerClosed",
    "Listening",
    "LogLine",
    "Open",
    "PairClosed",
    "PairOpened",
    "Ping",
    "Received",
    "Relay",
    "Send",
    "Sent",
    "SessionError",
    "Shutdown",
    "Sniff",
    "Stats",
    "TlsEstablished",
]

#: Bumped only for changes an old peer cannot ignore. Adding fields, methods or events
#: does not bump it.
PROTOCOL_VERSION = 1

#: A framing is either a preset name ("le32", "be32", "pg", "varint", ...) or a map with
#: the keys length_size (1, 2, 3, 4, 8, "varint"), byte_order ("little" | "big"),
#: length_includes_header (bool), max_frame_length (int), length_offset (int),
#: length_adjust (int), strip (int | None); missing keys take le32's values. Checked by
#: the engine (ipc.framing.FramingSpec.from_wire). Shared by open, listen and relay.
Framing = str | dict[str, Any]

SessionState = Literal["connecting", "connected", "closing", "closed", "failed"]
ConnectFailReason = Literal["refused", "dns", "timeout", "unreachable", "tls", "error"]
#: "timeout": an accepted session's frame stayed incomplete for partial_frame_timeout.
#: "tls": a TLS error after the handshake (an alert: a client certificate required or
#: refused), or a TLS peer on a plaintext session.
SessionErrorKind = Literal["frame_too_large", "truncated_frame", "reset", "io", "timeout", "tls"]
ClosedBy = Literal["peer", "local", "abort", "error", "shutdown"]
Direction = Literal["in", "out"]
#: The direction of a relayed frame: client -> server, server -> client.
RelayDirection = Literal["c2s", "s2c"]
ListenerRole = Literal["listen", "relay"]
ListenerClosedBy = Literal["local", "shutdown"]

#: Defaults of the limits on accepted sessions (``engine.limits``); 0 turns a timeout off.
DEFAULT_MAX_CLIENTS = 1024
DEFAULT_IDLE_TIMEOUT = 600.0
DEFAULT_PARTIAL_FRAME_TIMEOUT = 30.0


class _Message(MessageBase):
    """Shared to/from-params logic; concrete messages are ``@message`` classes."""

    __slots__ = ()
    METHOD: ClassVar[str]

    def _check(self) -> None:
        for spec in self._specs():
            value = getattr(self, spec.name)
            if not spec.conforms(value):
                raise _WrongType(type(self), spec, value)

    @classmethod
    def _specs(cls) -> tuple[_FieldSpec, ...]:
        """Each field's name, type hint, checker and whether it is required: built on the
        class's first check, so that checking a message does not interpret type hints
        again, and importing the schema interprets none (most processes use a few of its
        classes)."""
        specs: tuple[_FieldSpec, ...] | None = cls.__dict__.get("_field_specs")
        if specs is None:
            hints = typing.get_type_hints(cls)
            specs = tuple(
                _FieldSpec(
                    name,
                    hints[name],
                    _checker(hints[name]),
                    name not in cls._defaults and name not in cls._factories,
                )
                for name in cls._field_names
            )
            type.__setattr__(cls, "_field_specs", specs)
        return specs

    def to_params(self) -> dict[str, Any]:
        """Return the map that travels as the message's single parameter."""
        return {name: getattr(self, name) for name in self._field_names}

    @classmethod
    def from_params(cls, params: object) -> Self:
        """Build from a decoded params map; unknown keys are ignored.

        Raises:
            SchemaError: a required field is missing or a value has the wrong type.
        """
        if not isinstance(params, dict):
            raise SchemaError(f"{cls.METHOD}: params must be a map, got {type(params).__name__}")
        kwargs: dict[str, Any] = {}
        for spec in cls._specs():
            if spec.name in params:
                kwargs[spec.name] = params[spec.name]
            elif spec.required:
                raise SchemaError(f"{cls.METHOD}: missing field {spec.name!r}")
        try:
            # The values are checked once, by _check (a received batch holds thousands
            # of frames).
            return cls(**kwargs)
        except _WrongType as exc:
            raise SchemaError(
                f"{cls.METHOD}: field {exc.field!r} has the wrong type ({exc.type_name})"
            ) from None


class _FieldSpec(NamedTuple):
    name: str
    hint: Any
    conforms: Callable[[object], bool]
    required: bool


class _WrongType(LocalProtocolError):
    """A field's value does not match its type hint (``from_params`` reports it as a
    ``SchemaError``)."""

    def __init__(self, cls: type, spec: _FieldSpec, value: object) -> None:
        super().__init__(f"{cls.__name__}.{spec.name}: {reprlib.repr(value)} is not {spec.hint}")
        self.field = spec.name
        self.type_name = type(value).__name__


#: List item types checked with a plain isinstance (no bool/int subtlety, no nesting).
_PLAIN_ITEM_TYPES = (bytes, str)


def _checker(hint: Any) -> Callable[[object], bool]:
    """A function checking a decoded value against ``hint``, a (small) subset of typing:
    enough for this schema."""
    if hint is Any:
        return lambda value: True
    origin = get_origin(hint)
    if origin is Literal:
        allowed = get_args(hint)
        return lambda value: value in allowed
    if origin in (types.UnionType, typing.Union):
        alternatives = tuple(map(_checker, get_args(hint)))
        return lambda value: any(conforms(value) for conforms in alternatives)
    if origin is list:
        (item,) = get_args(hint)
        if item in _PLAIN_ITEM_TYPES:
            # Strategy: a received batch holds thousands of frames; a C-level map keeps the
            # check near 20 ns per frame (the generic path costs ~400 ns).
            return lambda value: (
                isinstance(value, list) and all(map(isinstance, value, itertools.repeat(item)))
            )
        item_conforms = _checker(item)
        return lambda value: isinstance(value, list) and all(map(item_conforms, value))
    if origin is dict:
        return lambda value: isinstance(value, dict) and all(isinstance(k, str) for k in value)
    if hint is type(None):
        return lambda value: value is None
    if hint is float:
        return lambda value: isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return lambda value: isinstance(value, int) and not isinstance(value, bool)
    return lambda value: isinstance(value, hint)


_M = typing.TypeVar("_M", bound=_Message)


# ----------------------------------------------------------------------------- commands


class Command(_Message):
    """Controller -> engine request."""

    __slots__ = ()


@message
class GetApiInfo(Command):
    """Ask for the same information as the ``hello`` event. Result: ``Hello.to_params()``."""

    METHOD: ClassVar[str] = "get_api_info"


@message
class Open(Command):
    """Open a TCP session. The response comes once connected: ``{"session_id": int,
    "local": str, "peer": str}`` (and ``tls``, the ``tls_established`` map, for a TLS
    session), or the error ``ConnectFailed`` with the reason. Events ``connecting`` then
    ``connected`` (then ``tls_established``) / ``connect_failed`` are sent as well.

    ``tls`` (add-only; absent or None: plaintext) makes it a TLS session, verified unless
    ``insecure``: a map of ``ipc.tls.ClientTls`` (``cafile``, ``cert``, ``key``, ``alpn``,
    ``server_name``, ``insecure``, ``min_version``, ``max_version``; ``{}`` for the
    defaults). ``connect_timeout`` bounds the connect and the handshake together.
    """

    METHOD: ClassVar[str] = "open"
    host: str
    port: int
    framing: Framing = "le32"
    connect_timeout: float = 10.0
    label: str = ""
    tls: dict[str, Any] | None = None


@message
class Listen(Command):
    """Start a listener (be the server): each client that connects becomes a session
    like any other (``accepted``, then ``received``, ``sent``, ``closed``...).

    ``host`` defaults to loopback; any other address makes the listener reachable from
    the network (``reachable`` in the result says so). Port 0 picks a free port. With
    ``echo`` each frame received is sent back. Limits on the accepted sessions:
    ``max_clients`` live at once (the next one is accepted and closed at once, with a
    ``log`` event saying why), ``idle_timeout`` (seconds without a byte either way) and
    ``partial_frame_timeout`` (seconds a frame may stay incomplete); 0 turns a timeout
    off. Result: ``{"listener_id", "host", "port", "local", "reachable"}``; a
    ``listening`` event is sent as well.
    """

    METHOD: ClassVar[str] = "listen"
    host: str = "127.0.0.1"
    port: int = 0
    framing: Framing = "le32"
    label: str = ""
    echo: bool = False
    max_clients: int = DEFAULT_MAX_CLIENTS
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    partial_frame_timeout: float = DEFAULT_PARTIAL_FRAME_TIMEOUT
    #: A TLS listener (add-only; None: plaintext): ``ipc.tls.ServerTls``'s map (``cert``,
    #: ``key``, ``client_ca`` to require client certificates, ``alpn``, ``min_version``,
    #: ``max_version``). Each client's handshake follows its ``accepted`` event.
    tls: dict[str, Any] | None = None


@message
class Relay(Command):
    """Start a relay: listen like ``listen``, and for each client that connects, connect
    to the upstream server and pass frames both ways, decoded with each leg's framing
    and re-encoded for the other (``upstream_framing``, default the same: translation
    when they differ). Both legs are sessions (``accepted`` for the client leg,
    ``connecting``/``connected`` for the upstream leg, each with ``pair_id``);
    ``pair_opened`` says when both are up, and relayed frames come as ``received``
    events with ``pair_id`` and ``direction``. ``send`` to a leg injects frames into it.
    Same result as ``listen``.
    """

    METHOD: ClassVar[str] = "relay"
    host: str = "127.0.0.1"
    port: int = 0
    upstream_host: str
    upstream_port: int
    framing: Framing = "le32"
    upstream_framing: Framing | None = None
    connect_timeout: float = 10.0
    label: str = ""
    max_clients: int = DEFAULT_MAX_CLIENTS
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    partial_frame_timeout: float = DEFAULT_PARTIAL_FRAME_TIMEOUT
    #: The client side in TLS, as ``listen``'s ``tls`` (add-only).
    tls: dict[str, Any] | None = None
    #: The upstream in TLS, as ``open``'s ``tls`` (add-only): the relay shows the
    #: plaintext frames of a TLS service.
    upstream_tls: dict[str, Any] | None = None


@message
class CloseListener(Command):
    """Stop accepting; the sessions already accepted stay, unless ``close_sessions``
    (then each is closed gracefully, as ``close`` does). A ``listener_closed`` event
    follows. Result: ``{}``."""

    METHOD: ClassVar[str] = "close_listener"
    listener_id: int
    close_sessions: bool = False


@message
class ListListeners(Command):
    """Result: ``{"listeners": [map, ...]}``, one per live listener: the fields of its
    ``listening`` event (but ``at``) plus ``clients`` (live sessions), ``accepted`` and
    ``refused`` (totals) and ``opened_at``."""

    METHOD: ClassVar[str] = "list_listeners"


@message
class Send(Command):
    """Send frames, in order, on a session. Completes when written to the socket (a peer
    that never reads makes it wait). Result: ``{"frames": int, "bytes": int}``."""

    METHOD: ClassVar[str] = "send"
    session_id: int
    frames: list[bytes]


@message
class Close(Command):
    """Close gracefully: queued frames are flushed, then the socket is closed."""

    METHOD: ClassVar[str] = "close"
    session_id: int


@message
class Abort(Command):
    """Close at once: pending sends are dropped and the socket is reset."""

    METHOD: ClassVar[str] = "abort"
    session_id: int


@message
class Capture(Command):
    """Start (``path`` given) or stop (``path`` empty) the continuous capture: every frame
    and session event, appended to ``path`` as recording lines (docs/recording.md),
    rotated at ``max_bytes`` keeping ``keep`` older files. Starting replaces a running
    capture. Result: ``{"path": str, "active": bool, "lines": int}`` (``lines``: written
    by the capture just stopped, or 0)."""

    METHOD: ClassVar[str] = "capture"
    path: str = ""
    max_bytes: int = 100 * 1024 * 1024
    keep: int = 5


@message
class Sniff(Command):
    """Connect to host:port outside any session, write ``send`` (raw bytes, headers and
    all), read what comes back for up to ``wait`` seconds or ``max_bytes`` (at most
    65,536), close: the first bytes a framing guess needs. Result: ``{"data": bytes,
    "closed": bool, "peer": str}``; a failed connect is a ``ConnectFailed`` error."""

    METHOD: ClassVar[str] = "sniff"
    host: str
    port: int
    send: bytes = b""
    max_bytes: int = 4096
    wait: float = 3.0
    connect_timeout: float = 10.0


@message
class ListSessions(Command):
    """Result: ``{"sessions": [map, ...]}``; each map has session_id, label, host, port,
    state, framing, frames_in, bytes_in, frames_out, bytes_out, opened_at, local, peer,
    role ("connect", "accept" or "relay"); an accepted session or relay leg adds
    listener_id, a relay leg pair_id and leg ("client" or "upstream")."""

    METHOD: ClassVar[str] = "list_sessions"


@message
class Ping(Command):
    """Liveness probe. Result: ``{"token": token, "at": engine monotonic time}``.

    ``token`` is required: it is how a controller matches a pong to its ping.
    """

    METHOD: ClassVar[str] = "ping"
    token: int


@message
class Shutdown(Command):
    """Close every session and exit. Result ``{}`` is sent before the engine exits."""

    METHOD: ClassVar[str] = "shutdown"


@message
class FlowControl(Command):
    """Switch on credit-based flow control for data events (``received``, ``sent``).

    Without it the engine relies on the pipe alone for back-pressure (fine for a client
    that reads only when it wants more). With it, the engine stops sending data events
    once ``window_bytes`` of them are unacknowledged; the controller sends ``ack``
    notifications as it consumes them. Control traffic is never held back by the window.
    QProcess reads its pipe eagerly into an unbounded buffer, so the Qt client needs this.
    """

    METHOD: ClassVar[str] = "flow_control"
    window_bytes: int


@message
class Ack(Command):
    """Controller -> engine *notification*: ``nbytes`` of data events were consumed."""

    METHOD: ClassVar[str] = "ack"
    nbytes: int


@message
class Attach(Command):
    """Subscribe this controller to the engine's events (the Unix-socket transport of a
    long-lived engine, ``--serve-ipc``; a stdio controller gets events from the start).

    The result is the engine as the events so far left it: ``{"controller_id": int,
    "sessions": [map, ...], "controllers": [map, ...], "history": {"frames": n,
    "bytes": n, "sessions": n}}`` (more keys may come: ``listeners``...). A session map is
    ``list_sessions``'s, for live sessions and for recently ended ones that still have
    history (``state`` "closed" or "failed", with ``closed_by``, ``closed_at``,
    ``error``). Then come ``history`` events (when ``history`` is true), one
    ``history_end``, and from there every live event, with nothing missed and nothing
    twice: the counters in the snapshot include exactly the frames of the events before
    the cut.
    """

    METHOD: ClassVar[str] = "attach"
    history: bool = True


# ------------------------------------------------------------------------------- events


class Event(_Message):
    """Engine -> controller notification."""

    __slots__ = ()


@message
class Hello(Event):
    """The engine's first message; also the result of ``get_api_info``."""

    METHOD: ClassVar[str] = "hello"
    protocol_version: int
    engine_version: str
    pid: int
    methods: list[str]
    events: list[str]
    framing_presets: dict[str, Any]
    clock_offset: float
    #: When the engine started, on its clock (``at`` of events): its uptime.
    started_at: float = 0.0


@message
class Connecting(Event):
    """A session was created and is connecting (``pair_id``: the relay pair whose
    upstream leg it is)."""

    METHOD: ClassVar[str] = "connecting"
    session_id: int
    host: str
    port: int
    framing: dict[str, Any]
    label: str = ""
    at: float
    pair_id: int | None = None


@message
class Connected(Event):
    """The session's TCP connection is up. ``local``/``peer`` are "host:port"."""

    METHOD: ClassVar[str] = "connected"
    session_id: int
    local: str
    peer: str
    at: float


@message
class ConnectFailed(Event):
    """The connection could not be made; the session is gone (no ``closed`` follows).

    ``details`` (add-only, may be empty): for ``reason`` "tls", ``{"tls_cause": str}``
    (``ipc.tls.TlsCause``: expired, not_yet_valid, hostname, unknown_ca, self_signed,
    untrusted, client_cert_required, client_cert_rejected, version, plaintext_peer,
    closed, timeout, handshake).
    """

    METHOD: ClassVar[str] = "connect_failed"
    session_id: int
    reason: ConnectFailReason
    message: str
    at: float
    details: dict[str, Any] = field(default_factory=dict)


@message
class TlsEstablished(Event):
    """A session's TLS handshake is done (right after ``connected``, or ``accepted``):
    ``tls`` is ``ipc.tls.TlsInfo.to_wire()``: side, version, cipher, bits, alpn,
    server_name, verified, verification (a sentence), peer_cert (subject, issuer, sans,
    not_before, not_after, serial, sha256; empty if the peer sent none). ``verified`` is
    False for an ``insecure`` session: show it as unverified wherever it appears."""

    METHOD: ClassVar[str] = "tls_established"
    session_id: int
    tls: dict[str, Any]
    at: float


@message
class Received(Event):
    """A batch of frames arrived on one session, in order (one event, many frames).

    A frame's time is when the engine read its last byte. ``at`` is the time of the first
    frame; when the frames came from several socket reads (a notification coalesces the
    reads that queued up), ``times`` (add-only, absent otherwise) is ``[[at, count],
    ...]``: the first ``count`` frames completed at ``at``, the next pair's frames at its
    time, and so on. ``spans()`` reads both forms.

    On a relay leg the frames are also being written to the other leg: ``pair_id`` and
    ``direction`` say so (``c2s`` read from the client, ``s2c`` from the upstream).
    """

    METHOD: ClassVar[str] = "received"
    session_id: int
    frames: list[bytes]
    at: float
    times: list[list[float]] = field(default_factory=list)
    pair_id: int | None = None
    direction: RelayDirection | None = None

    def spans(self) -> list[tuple[float, int]]:
        """``(time, count)`` runs covering ``frames`` in order (see the class docstring)."""
        return _frame_spans(self.at, self.times, len(self.frames))


@message
class Sent(Event):
    """A batch of frames is being written to one session's socket, in order.

    Emitted just before the write, so a reply's ``received`` never precedes the ``sent``
    of the request it answers; if the write fails, ``session_error`` and ``closed`` follow.
    """

    METHOD: ClassVar[str] = "sent"
    session_id: int
    frames: list[bytes]
    at: float
    #: As ``Received.times``: the time of each write when several were coalesced.
    times: list[list[float]] = field(default_factory=list)
    #: On a relay leg: frames injected with ``send`` (forwarded frames are reported once,
    #: as the other leg's ``received``), with the direction they travel.
    pair_id: int | None = None
    direction: RelayDirection | None = None

    def spans(self) -> list[tuple[float, int]]:
        """``(time, count)`` runs covering ``frames`` in order."""
        return _frame_spans(self.at, self.times, len(self.frames))


def _frame_spans(at: float, times: list[list[float]], frames: int) -> list[tuple[float, int]]:
    """The ``times`` runs of a frame event; one run at ``at`` when there are none, or when
    they are not ``[time, count]`` pairs adding up to the frames (a sloppy peer's frames
    keep one time rather than failing)."""
    spans = []
    for pair in times:
        if len(pair) != 2 or type(pair[1]) is not int or pair[1] < 0:
            return [(at, frames)]
        spans.append((pair[0], pair[1]))
    if not spans or sum(count for _, count in spans) != frames:
        return [(at, frames)]
    return spans


@message
class SessionError(Event):
    """Something went wrong on one session; a ``closed`` event follows.

    ``details`` (may be empty; older engines leave it out): ``{"diagnosis": map}`` when
    the bytes seen say what went wrong (``ipc.diagnosis.Diagnosis.to_wire``: kind,
    summary, suggestion, also, head); the summary also ends ``message``.
    """

    METHOD: ClassVar[str] = "session_error"
    session_id: int
    kind: SessionErrorKind
    message: str
    at: float
    details: dict[str, Any] = field(default_factory=dict)


@message
class Closed(Event):
    """The session is over; the counters are final.

    ``details`` (may be empty; older engines leave it out): ``{"diagnosis": map}`` when
    a session ends suspiciously without an error: no whole frame came back for what was
    sent, or part of a frame was left over that another framing explains better;
    ``{"reason": str}`` when this side closed it for a reason worth telling (an idle
    timeout, the other leg of a relay pair ending, an unreachable upstream).
    """

    METHOD: ClassVar[str] = "closed"
    session_id: int
    by: ClosedBy
    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    at: float
    details: dict[str, Any] = field(default_factory=dict)


@message
class Accepted(Event):
    """A listener accepted a client: a new session, already connected (``local`` and
    ``peer`` are "host:port"). ``pair_id``: the relay pair whose client leg it is."""

    METHOD: ClassVar[str] = "accepted"
    session_id: int
    listener_id: int
    local: str
    peer: str
    framing: dict[str, Any]
    label: str = ""
    at: float
    pair_id: int | None = None


@message
class Listening(Event):
    """A listener is accepting clients on ``local`` ("host:port"; ``port`` is the one
    bound, also when 0 was asked for). ``reachable``: bound to an address other than
    loopback, so reachable from the network. ``limits``: max_clients, idle_timeout,
    partial_frame_timeout (0: none). A relay's listener has ``upstream`` ("host:port")
    and ``upstream_framing``."""

    METHOD: ClassVar[str] = "listening"
    listener_id: int
    role: ListenerRole
    host: str
    port: int
    local: str
    reachable: bool
    framing: dict[str, Any]
    upstream: str = ""
    upstream_framing: dict[str, Any] = field(default_factory=dict)
    echo: bool = False
    label: str = ""
    limits: dict[str, Any] = field(default_factory=dict)
    at: float
    #: A TLS listener's options (``ipc.tls.ServerTls`` map; {}: plaintext), and a relay's
    #: upstream TLS options (None: plaintext).
    tls: dict[str, Any] = field(default_factory=dict)
    upstream_tls: dict[str, Any] | None = None


@message
class ListenerClosed(Event):
    """A listener stopped accepting (``by``: "local" for ``close_listener``, or
    "shutdown"); its sessions carry on unless they were closed too.
    ``accepted``/``refused``: the clients it took and turned away in all."""

    METHOD: ClassVar[str] = "listener_closed"
    listener_id: int
    by: ListenerClosedBy
    accepted: int = 0
    refused: int = 0
    at: float


@message
class PairOpened(Event):
    """Both legs of a relay pair are up: frames now pass between ``client`` and
    ``upstream`` ("host:port" each)."""

    METHOD: ClassVar[str] = "pair_opened"
    pair_id: int
    listener_id: int
    client_session_id: int
    upstream_session_id: int
    client: str
    upstream: str
    at: float


@message
class PairClosed(Event):
    """Both legs of a relay pair are over; the counts of frames relayed each way are
    final. ``reason``: how it ended (which leg first, and why)."""

    METHOD: ClassVar[str] = "pair_closed"
    pair_id: int
    listener_id: int
    reason: str
    frames_c2s: int = 0
    bytes_c2s: int = 0
    frames_s2c: int = 0
    bytes_s2c: int = 0
    at: float


@message
class Stats(Event):
    """Periodic engine-wide counters (totals since the engine started)."""

    METHOD: ClassVar[str] = "stats"
    sessions: int
    frames_in: int
    bytes_in: int
    frames_out: int
    bytes_out: int
    at: float
    extra: dict[str, Any] = field(default_factory=dict)


@message
class LogLine(Event):
    """A log line from the engine worth showing to the user."""

    METHOD: ClassVar[str] = "log"
    level: str
    message: str
    at: float


@message
class History(Event):
    """Frames a session received (``in``) or sent (``out``) before this controller
    attached, replayed after ``attach`` in the order they happened. They cost credit like
    ``received``; they are not new traffic, so the snapshot's counters include them."""

    METHOD: ClassVar[str] = "history"
    session_id: int
    direction: Direction
    frames: list[bytes]
    at: float
    #: As ``Received.times``: each frame's time when the batch held several.
    times: list[list[float]] = field(default_factory=list)

    def spans(self) -> list[tuple[float, int]]:
        """``(time, count)`` runs covering ``frames`` in order."""
        return _frame_spans(self.at, self.times, len(self.frames))


@message
class HistoryEnd(Event):
    """The replay after ``attach`` is over (``frames``/``bytes`` replayed); every event
    from here on is live."""

    METHOD: ClassVar[str] = "history_end"
    frames: int
    bytes: int
    at: float


@message
class ChannelClosed(Event):
    """The engine's last message on this channel before it closes it; the engine and the
    other controllers carry on (unless ``reason`` is ``shutdown``). ``reason``:
    ``fell_behind`` (events unread past the backlog bound), ``refused`` (another user,
    or too many controllers), ``shutdown`` (the engine is exiting),
    ``protocol_violation`` (the controller's bytes broke the stream: a size or count
    over its limit, a value that cannot start a message; see docs/ipc.md, "Bad input"),
    or another word a newer engine adds; ``message`` says it for a person.

    ``details`` (may be empty; older engines leave it out): for ``protocol_violation``,
    ``kind`` (``too_large``, ``too_deep``, ``not_a_message``, ``malformed``) and
    ``offset``, the byte of the controller's stream where the offending header starts.
    """

    METHOD: ClassVar[str] = "channel_closed"
    reason: str
    message: str
    at: float
    details: dict[str, Any] = field(default_factory=dict)


def _registry(*classes: type[_M]) -> dict[str, type[_M]]:
    for cls in classes:
        if "_field_names" not in cls.__dict__:
            raise TypeError(f"{cls.__name__} is not a @message class")
    return {cls.METHOD: cls for cls in classes}


COMMANDS: dict[str, type[Command]] = _registry(
    GetApiInfo,
    Open,
    Send,
    Close,
    Abort,
    ListSessions,
    Ping,
    Shutdown,
    FlowControl,
    Ack,
    Capture,
    Sniff,
    Attach,
    Listen,
    Relay,
    CloseListener,
    ListListeners,
)
EVENTS: dict[str, type[Event]] = _registry(
    Hello,
    Connecting,
    Connected,
    ConnectFailed,
    TlsEstablished,
    Received,
    Sent,
    SessionError,
    Closed,
    Stats,
    LogLine,
    History,
    HistoryEnd,
    ChannelClosed,
    Accepted,
    Listening,
    ListenerClosed,
    PairOpened,
    PairClosed,
)
