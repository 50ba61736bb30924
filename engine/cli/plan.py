"""A run's arguments, checked, with the frames to send decoded: the client mode's
``Plan``, the server roles' ``ServerPlan`` (``--listen``, ``--relay``).

Everything wrong with the command line is found here, before any connection, and raised
as ``UsageError`` (exit code 2). ``decode_line`` also serves ``--stdin`` lines as they
arrive.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from engine.cli.exits import UsageError
from engine.limits import Limits
from ipc.cli_args import parse_host_port
from ipc.errors import LocalProtocolError
from ipc.framing import FramingSpec, describe, encode_frames
from ipc.payload_text import HexError, parse_hex
from ipc.schema import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CLIENTS, DEFAULT_PARTIAL_FRAME_TIMEOUT
from ipc.text import TextEncodingError, encode_text
from ipc.tls import DEFAULT_MIN_VERSION, ClientTls, ServerTls

if TYPE_CHECKING:
    from decoders import Decoder

__all__ = [
    "REPLY_TIMEOUT_SECONDS",
    "Plan",
    "ServerPlan",
    "client_tls",
    "decode_line",
    "make_decoder",
    "make_plan",
    "make_server_plan",
    "make_spec",
    "server_limits",
]

#: Without --timeout, how long a run that sent frames waits for a reply it expects (from
#: the last frame sent or received) before it gives up with exit code 5 (issue 17).
REPLY_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What a client run does, checked and decoded from the arguments."""

    host: str
    port: int
    spec: FramingSpec
    frames: list[bytes]
    stdin: bool
    input_format: str
    output: str
    timestamps: str
    show_sent: bool
    count: int | None
    #: The whole run's bound (``--timeout S``); None: none.
    timeout: float | None
    #: The wait for an expected reply, when no --timeout was given; None: none.
    reply_timeout: float | None
    connect_timeout: float
    decoder: Decoder | None = None
    encoding: str = "utf-8"
    #: Where to capture every frame (``engine.capture``), its rotation size and count.
    capture: str | None = None
    capture_max_bytes: int = 0
    capture_keep: int = 0
    #: TLS to the server (None: plaintext).
    tls: ClientTls | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerPlan:
    """What a ``--listen`` or ``--relay`` run does, checked and decoded."""

    #: Where to listen.
    host: str
    port: int
    spec: FramingSpec
    #: ``--relay``: the server each client is relayed to, and its framing.
    upstream: tuple[str, int] | None
    upstream_spec: FramingSpec | None
    echo: bool
    #: Sent to each client as it connects (``--send`` and the like; ``--listen`` only).
    frames: list[bytes]
    limits: Limits
    output: str
    timestamps: str
    show_sent: bool
    #: Frames received in all (every client, or both directions of every pair) after
    #: which the run ends; None: until Ctrl-C or SIGTERM.
    count: int | None
    timeout: float | None
    connect_timeout: float
    decoder: Decoder | None = None
    encoding: str = "utf-8"
    capture: str | None = None
    capture_max_bytes: int = 0
    capture_keep: int = 0
    #: The listening side in TLS (None: plaintext); a relay's upstream in TLS.
    tls: ServerTls | None = None
    upstream_tls: ClientTls | None = None

    @property
    def role(self) -> str:
        return "listen" if self.upstream is None else "relay"


#: Options that only the server roles take, with their defaults.
_SERVER_ONLY = {
    "echo": False,
    "upstream_framing": None,
    "max_clients": None,
    "idle_timeout": None,
    "partial_frame_timeout": None,
}


def make_plan(args: argparse.Namespace, *, address_required: bool = True) -> Plan:
    """Check the client-mode arguments and decode the frames to send.

    Without ``address_required`` (``--attach --session ID``: the session is there
    already) HOST:PORT may be left out; the plan's host is then "" and its port 0.

    Raises:
        UsageError: anything wrong with the arguments or the input file.
    """
    host, port = "", 0
    if args.address is None and address_required:
        raise UsageError(
            "HOST:PORT is required: the server to connect to (or --listen, --attach, "
            "--serve-ipc, --list-engines, --guess-from, --to-pcapng: see the usage lines)"
        )
    for name, default in _SERVER_ONLY.items():
        if getattr(args, name) != default:
            option = "--" + name.replace("_", "-")
            raise UsageError(f"{option} is for --listen or --relay")
    try:
        if args.address is not None:
            host, port = parse_host_port(args.address)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    spec = make_spec(args)
    encoding = args.encoding
    frames = _frames(args, spec)
    if args.count is not None and args.count < 0:
        raise UsageError(f"--count must be >= 0, not {args.count}")
    if args.output == "raw" and args.show_sent:
        raise UsageError("--show-sent does not go with --output raw (it prints payloads only)")
    timeout = args.timeout or None  # 0: wait forever
    # A run that sends waits for replies, so it gets a default; a listening run does not.
    if _server_tls_given(args) or client_tls(args, "upstream_") is not None:
        raise UsageError(
            "--tls-cert/--tls-key/--tls-client-ca and --upstream-* are for --listen and --relay"
        )
    sends = bool(frames) or args.stdin
    reply_timeout = REPLY_TIMEOUT_SECONDS if args.timeout is None and sends else None
    decoder = make_decoder(args)
    return Plan(
        host=host,
        port=port,
        spec=spec,
        frames=frames,
        stdin=args.stdin,
        input_format=args.input,
        output=args.output,
        timestamps=args.timestamps,
        show_sent=args.show_sent,
        count=args.count,
        timeout=timeout,
        reply_timeout=reply_timeout,
        connect_timeout=args.connect_timeout,
        decoder=decoder,
        encoding=encoding,
        capture=args.capture,
        capture_max_bytes=args.capture_max_bytes,
        capture_keep=args.capture_keep,
        tls=client_tls(args),
    )


def make_server_plan(args: argparse.Namespace) -> ServerPlan:
    """Check the arguments of ``--listen`` or ``--relay``.

    Raises:
        UsageError: anything wrong with the arguments or an input file.
    """
    if args.listen is not None and args.relay is not None:
        raise UsageError("--listen and --relay are two roles: give one")
    relay = args.relay is not None
    host, port = args.relay if relay else args.listen
    upstream = None
    if relay:
        if args.address is None:
            raise UsageError(
                "--relay needs the server to relay to, as in: 127.0.0.1:9000 --relay 9001"
            )
        try:
            upstream = parse_host_port(args.address)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    elif args.address is not None:
        raise UsageError(
            f"--listen takes no server address ({args.address}); to sit between a client "
            f"and that server, use {args.address} --relay [HOST:]PORT"
        )
    if args.stdin:
        raise UsageError("--stdin is for the client mode (each client would need its own)")
    if relay and (args.sends or args.file is not None):
        raise UsageError("--relay passes the client's frames on and sends none of its own")
    if relay and (args.echo or args.show_sent):
        raise UsageError("--echo and --show-sent are for --listen")
    if not relay and args.upstream_framing is not None:
        raise UsageError("--upstream-framing is for --relay")
    if args.count is not None and args.count < 0:
        raise UsageError(f"--count must be >= 0, not {args.count}")
    if args.output == "raw" and args.show_sent:
        raise UsageError("--show-sent does not go with --output raw (it prints payloads only)")
    spec = make_spec(args)
    upstream_spec = None
    if relay:
        upstream_spec = spec if args.upstream_framing is None else args.upstream_framing
    limits = server_limits(args)
    return ServerPlan(
        host=host,
        port=port,
        spec=spec,
        upstream=upstream,
        upstream_spec=upstream_spec,
        echo=args.echo,
        frames=_frames(args, spec),
        limits=limits,
        output=args.output,
        timestamps=args.timestamps,
        show_sent=args.show_sent,
        count=args.count,
        timeout=args.timeout or None,
        connect_timeout=args.connect_timeout,
        decoder=make_decoder(args),
        encoding=args.encoding,
        capture=args.capture,
        capture_max_bytes=args.capture_max_bytes,
        capture_keep=args.capture_keep,
        tls=server_tls(args),
        upstream_tls=client_tls(args, "upstream_") if relay else None,
    )


def server_tls(args: argparse.Namespace) -> ServerTls | None:
    """The listening side's TLS options (--tls-cert...), or None for plaintext.

    Raises:
        UsageError: a file cannot be read, or client-side options were given.
    """
    role = "--relay" if args.relay is not None else "--listen"
    if args.tls or args.insecure or args.cafile or args.cert or args.key or args.server_name:
        raise UsageError(
            f"--tls, --cafile, --cert, --key, --server-name and --insecure are for a client: "
            f"{role} listens in TLS with --tls-cert (a relay's upstream: --upstream-tls...)"
        )
    if args.relay is None and client_tls(args, "upstream_") is not None:
        raise UsageError("the --upstream-* options are for --relay")
    if args.tls_cert is None:
        if args.tls_key is not None or args.tls_client_ca is not None:
            raise UsageError("--tls-key and --tls-client-ca go with --tls-cert")
        if args.alpn or args.tls_min or args.tls_max:
            raise UsageError(f"--alpn, --tls-min and --tls-max need --tls-cert with {role}")
        return None
    for option, path in (
        ("--tls-cert", args.tls_cert),
        ("--tls-key", args.tls_key),
        ("--tls-client-ca", args.tls_client_ca),
    ):
        if path is not None:
            _check_readable(path, option)
    try:
        return ServerTls(
            cert=args.tls_cert,
            key=args.tls_key or "",
            client_ca=args.tls_client_ca or "",
            alpn=tuple(p for value in args.alpn for p in value.split(",") if p),
            min_version=args.tls_min or DEFAULT_MIN_VERSION,
            max_version=args.tls_max or "",
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _server_tls_given(args: argparse.Namespace) -> bool:
    return any(getattr(args, n, None) for n in ("tls_cert", "tls_key", "tls_client_ca"))


def server_limits(args: argparse.Namespace) -> Limits:
    """The limits on accepted clients: ``--max-clients``, ``--idle-timeout``,
    ``--partial-frame-timeout``.

    Raises:
        UsageError: a value out of range.
    """
    try:
        return Limits.from_wire(
            _given(args.max_clients, DEFAULT_MAX_CLIENTS),
            _given(args.idle_timeout, DEFAULT_IDLE_TIMEOUT),
            _given(args.partial_frame_timeout, DEFAULT_PARTIAL_FRAME_TIMEOUT),
        )
    except LocalProtocolError as exc:
        raise UsageError(str(exc)) from None


_T = TypeVar("_T", int, float)


def _given(value: _T | None, default: _T) -> _T:
    return default if value is None else value


def _frames(args: argparse.Namespace, spec: FramingSpec) -> list[bytes]:
    """The frames of --send, --send-hex, --file-frame and --file, checked against ``spec``.

    Raises:
        UsageError: bad hex or text, an unreadable file, a frame the framing cannot carry.
    """
    encoding = args.encoding
    saved = None
    if any(tag == "saved" for tag, _ in args.sends):
        from engine.cli.saved import SavedMessages  # only runs that send saved messages

        saved = SavedMessages(args)
    frames = [
        saved.render(value) if saved is not None and tag == "saved"
        else _decode_input(value, tag, encoding)
        for tag, value in args.sends
    ]  # fmt: skip
    if args.file is not None:
        try:
            with open(args.file, "rb") as f:
                lines = f.read().split(b"\n")
        except OSError as exc:
            raise UsageError(f"cannot read --file {args.file}: {exc.strerror}") from None
        if lines and lines[-1] == b"":
            lines.pop()
        for number, line in enumerate(lines, 1):
            frames.append(decode_line(line, args.input, f"{args.file} line {number}", encoding))
    if frames and spec.encode_refusal is not None:
        raise UsageError(f"cannot send with {describe(spec)}: {spec.encode_refusal}")
    for frame in frames:
        if len(frame) > spec.payload_limit:
            raise UsageError(
                f"a frame of {len(frame):,} bytes is over the limit of {describe(spec)}: "
                f"{spec.payload_limit:,} bytes (raise it with --max-frame)"
            )
    try:
        encode_frames(frames, spec)  # what else the layout cannot express (a short prefix)
    except LocalProtocolError as exc:
        raise UsageError(f"cannot send with framing {describe(spec)}: {exc}") from None
    return frames


def client_tls(args: argparse.Namespace, prefix: str = "") -> ClientTls | None:
    """The TLS options of a client side (``prefix`` "upstream_" for a relay's upstream),
    or None for plaintext. Any of them implies TLS.

    Raises:
        UsageError: a file cannot be read, or the options do not go together.
    """
    option = "--" + prefix.replace("_", "-")

    def get(name: str) -> Any:
        return getattr(args, prefix + name, None)

    alpn = [p for value in get("alpn") or () for p in value.split(",") if p]
    given = [get(n) for n in ("cafile", "cert", "key", "server_name", "tls_min", "tls_max")]
    if not (get("tls") or get("insecure") or alpn or any(v is not None for v in given)):
        return None
    for name in ("cafile", "cert", "key"):
        path = get(name)
        if path is not None:
            _check_readable(path, f"{option}{name}")
    if get("key") is not None and get("cert") is None:
        raise UsageError(f"{option}key needs {option}cert (the certificate of that key)")
    if get("insecure") and get("cafile") is not None:
        raise UsageError(f"{option}insecure skips verification: {option}cafile would not be used")
    try:
        return ClientTls(
            cafile=get("cafile") or "",
            cert=get("cert") or "",
            key=get("key") or "",
            alpn=tuple(alpn),
            server_name=get("server_name") or "",
            insecure=bool(get("insecure")),
            min_version=get("tls_min") or DEFAULT_MIN_VERSION,
            max_version=get("tls_max") or "",
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _check_readable(path: str, option: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot read {option} {path}: {exc.strerror}") from None


def make_spec(args: argparse.Namespace) -> FramingSpec:
    """``--framing`` with the single-field options applied.

    Raises:
        UsageError: the combination is not a valid framing.
    """
    fields: dict[str, Any] = args.framing.to_wire()
    overrides = {
        "length_size": args.length_size,
        "byte_order": args.byte_order,
        "length_includes_header": args.length_includes_header,
        "max_frame_length": args.max_frame,
        "length_offset": args.length_offset,
        "length_adjust": args.length_adjust,
    }
    fields.update({k: v for k, v in overrides.items() if v is not None})
    if args.strip is not None:
        fields["strip"] = None if args.strip == "none" else args.strip
    try:
        return FramingSpec(**fields)
    except LocalProtocolError as exc:
        message = str(exc)
        for field, option in _FRAMING_OPTIONS.items():  # as the user spelled it
            message = message.replace(field, option)
        raise UsageError(f"bad framing: {message}") from None


#: The framing fields a FramingSpec names in its errors, and the options that set them.
_FRAMING_OPTIONS = {
    "max_frame_length": "--max-frame",
    "length_offset": "--length-offset",
    "length_adjust": "--length-adjust",
    "length_size": "--length-size",
    "byte_order": "--byte-order",
}


def make_decoder(args: argparse.Namespace) -> Decoder | None:
    """The decoder the --decode/--proto-*/--layout options ask for (None: no decoding)."""
    schema = args.proto_descriptor is not None or args.proto_message is not None
    if args.decode is None and not schema and args.layout is None:
        return None
    name = args.decode or ("protobuf" if schema else "auto")
    from decoders import DecoderConfigError, decoder_for  # only runs that decode pay for it

    try:
        return decoder_for(
            name,
            proto_descriptor=args.proto_descriptor,
            proto_message=args.proto_message,
            layout=args.layout,
        )
    except DecoderConfigError as exc:
        raise UsageError(str(exc)) from None


def _decode_input(value: str, tag: str, encoding: str) -> bytes:
    """One frame of --send (text, in ``encoding``), --send-hex (hex) or --file-frame (a
    file's bytes)."""
    if tag == "text":
        try:
            return encode_text(value, encoding)
        except TextEncodingError as exc:
            raise UsageError(f"--send {value!r}: {exc}") from None
    if tag == "file":
        try:
            with open(value, "rb") as f:
                return f.read()
        except OSError as exc:
            raise UsageError(f"cannot read --file-frame {value}: {exc.strerror}") from None
    try:
        return parse_hex(value)
    except HexError as exc:
        raise UsageError(f"--send-hex {value!r}: {exc}") from None


def decode_line(line: bytes, input_format: str, where: str, encoding: str = "utf-8") -> bytes:
    """A line of --file or --stdin (without its newline) as a frame: its bytes as they are
    (text; re-encoded from UTF-8 for another ``--encoding``) or the bytes its hex spells."""
    if line.endswith(b"\r"):
        line = line[:-1]
    if input_format == "text":
        if encoding == "utf-8":
            return line
        try:
            return encode_text(line.decode("utf-8"), encoding)
        except (UnicodeDecodeError, TextEncodingError) as exc:
            raise UsageError(f"{where}: {exc}") from None
    try:
        return parse_hex(line.decode("ascii"))
    except UnicodeDecodeError:
        raise UsageError(f"{where} is not hexadecimal: {line[:40]!r}") from None
    except HexError as exc:
        raise UsageError(f"{where}: {exc}") from None
