"""The argument parser of ``framewire-engine``: every option, the ``--help`` text and its
examples. Options of a new mode go in a group of their own here."""

from __future__ import annotations

import argparse
from typing import Any

from engine.rpc.history import DEFAULT_FRAMES_PER_SESSION, DEFAULT_TOTAL_BYTES
from ipc.cli_args import (
    HelpFormatter,
    OneLineErrorParser,
    listen_address,
    non_negative,
    positive,
)
from ipc.framing import LENGTH_SIZES, PRESETS, FramingSpec, parse_framing
from ipc.text import ENCODINGS, check_encoding
from ipc.tls import DEFAULT_MIN_VERSION, TLS_VERSIONS

__all__ = ["DECODER_CHOICES", "OUTPUTS", "PROG", "TIMESTAMPS", "build_parser"]

PROG = "framewire-engine"
#: decoders.DECODER_NAMES, spelled out: the decoders package (cbor2, protobuf, construct)
#: is imported only by a run that decodes, so every other run starts faster.
DECODER_CHOICES = ("auto", "json", "msgpack", "cbor", "protobuf", "text", "hex")
#: ``--output`` formats and ``--timestamps`` styles (engine.cli.output prints them).
OUTPUTS = ("text", "hex", "hexdump", "raw", "json")
TIMESTAMPS = ("time", "iso", "unix", "none")

USAGE = f"""\
{PROG} HOST:PORT [--send TEXT ...] [options]       (client)
       {PROG} --listen [HOST:]PORT [--echo] [options]     (server)
       {PROG} HOST:PORT --relay [HOST:]PORT [options]     (relay)
       {PROG} HOST:PORT --script FILE.toml | --replay FILE.jsonl
       {PROG} --serve-ipc [PATH] | --attach [PATH] ... | --list-engines
       {PROG} --guess-from FILE | --to-pcapng JSONL PCAPNG | --api-info"""

DESCRIPTION = """\
The netcat of length-prefixed framing: connect to HOST:PORT, send frames, print the
frames that come back with timestamps. Or be the server (--listen), or sit between a
client and its server and print what they say to each other (--relay).

Frames to send come from --send/--send-hex/--file-frame (in the order given), then
--file, then --stdin (each line of a file or of stdin is one frame, without its newline;
sent as soon as it is read, so the tool works interactively).

How many frames it prints: with --count N, the first N frames received. Without it, one
reply per frame sent: having sent N frames it prints the first N frames received and
closes, however the peer's bytes were split into reads (use --count for more); while
--stdin is still open every frame is printed. If it sends nothing, it prints frames until
the peer closes the connection.

Timeouts: a run that sends frames gives up (exit 5) when a reply it waits for has not
come within 10 s of the last frame sent or received; --timeout S instead bounds the
whole run to S seconds after connecting, and --timeout 0 waits forever. A run that only
listens has no timeout unless --timeout is given.

Listen and relay: --listen [HOST:]PORT accepts clients (HOST is 127.0.0.1 unless named;
another address makes the port reachable from the network, and a warning says so) and
prints every frame from every client, its session and peer on each line; --echo answers
each frame with itself, --send/--send-hex/--file-frame/--file frames go to each client as
it connects. HOST:PORT --relay [HOST:]PORT accepts clients and connects each one to
HOST:PORT, passing frames both ways and printing them ("> " client to server, "< " back;
--upstream-framing re-encodes for a server with another framing). The first line on
stderr is "listening on HOST:PORT" (with the port picked when PORT is 0); clients coming
and going are logged on stderr. --count N exits 0 after N frames received in all;
without it the run lasts until Ctrl-C or SIGTERM, then exits 0 (--timeout S: after S
seconds; with --count, exit 5 if they have not come)."""

EPILOG = f"""\
framing presets:
  {", ".join(PRESETS)}.
  The default, le32, is a 4-byte little-endian length of the payload (Twisted's
  IntNStringReceiver with "<L"). Netty, Twisted's Int32StringReceiver ("!I") and Tokio
  default to BIG-endian: use --framing be32 for them. --framing also takes a preset with
  changes, in words: "be32,offset=1,adjust=-4" (= pg), "le24,adjust=1" (= mysql),
  "varint,max=65536". The --length-* options, --strip and --max-frame override single
  fields. A framing mistake is diagnosed in the error line ("as be32, these 20 bytes are
  1 whole frame: try --framing be32"), or in a line on stderr once a frame has had no
  byte more for 3 s (the run waits on); --guess-framing ranks the framings that parse
  what a server sends.

output formats:
  text     "HH:MM:SS.ffffff < payload": printable text as is; \\\\, \\n, \\r, \\t escaped;
           any other byte as \\xNN (bytes beyond ASCII too, unless the whole payload
           is text in --encoding)
  hex      "HH:MM:SS.ffffff < 68656c6c6f"
  hexdump  "HH:MM:SS.ffffff < 5 bytes", then offset, hex and text columns (hexdump -C)
  raw      the payloads' bytes only, nothing between them (for pipes and files)
  json     the recording format (docs/recording.md), one object per frame: {{"v": 1,
           "t": unix time, "session": id, "dir": "in", "len": n, "hex": ..., "text":
           ... (only if it decodes), "peer": "host:port", "framing": "le32"}}
  --show-sent adds lines for sent frames (">" / "dir": "out"; not with raw).
  --capture FILE.jsonl writes every frame and session event in the same format, rotated
  by size; --to-pcapng turns such a file into a pcapng file Wireshark opens.

timestamps (--timestamps; text, hex and hexdump output):
  time  HH:MM:SS.ffffff, local time (the default)
  iso   2026-11-24T18:52:01.123456+01:00, local time with its UTC offset
  unix  seconds since 1970, with microseconds
  none  no timestamp
  A frame's time is when the engine read its last byte: frames that one socket read
  completed share that read's time.

decoding (--decode, --layout, --proto-*):
  auto tries JSON, MessagePack, CBOR, Protobuf, then text, then hex, and names the one it
  chose. Text output then shows a one-line summary, '[msgpack] {{op: "login", seq: 7}}';
  hex output adds it after the hex; JSON lines gain "decoder" and "decoded" (the value as
  JSON: maps, lists, numbers, strings; bytes as hex strings). A payload that does not
  decode shows where it failed: '[msgpack] ⚠ msgpack: truncated ... (at byte 12)'.
  --proto-descriptor takes a FileDescriptorSet ("protoc -o FILE", "buf build -o FILE");
  --layout takes a Python file that builds a construct layout, and the name of it.

exit codes:
  0    ok; --listen, --relay and --serve-ipc also after Ctrl-C or SIGTERM; also when
       the reader of stdout stops reading (| head)
  1    unexpected error (a bug: the message says where)
  2    usage error: a bad option, bad hex, an unreadable file, a bad script, project or
       recording (with its line); --attach: a session ID the engine does not have;
       --serve-ipc: the socket is in use or unusable
  3    connection failure: refused, DNS, connect timeout, reset, the peer closed before
       all replies arrived; a failed TLS handshake, a plaintext server on a TLS session
       or a TLS server on a plaintext one; --listen/--relay: the address cannot be
       listened on; --attach: no engine runs there, it refused, or it went away
  4    protocol error: a frame too large, a truncated frame; --stdio: the controller's
       bytes broke the IPC stream
  5    timeout: no reply within 10 s, --timeout elapsed, a script's step timed out
  6    an expectation failed (--script, --replay): stderr says which step, what was
       expected and what came, as text and hex
  130  interrupted (Ctrl-C while connecting or waiting for replies)
  With --listen or --relay a client's trouble is logged on stderr and ends only that
  client; --listen --script exits with the first client's failure once the run ends.

examples:
  {PROG} 127.0.0.1:9000 --send hello
      send "hello", print the reply, disconnect (the classic exchange)
  {PROG} 127.0.0.1:9000 --send-hex 68656c6c6f --output hex --timeout 5
  {PROG} [::1]:9000 --framing be32 --send ping --send ping --output json
  printf 'a\\nb\\n' | {PROG} 127.0.0.1:9000 --stdin
  {PROG} 127.0.0.1:9000 --file-frame request.bin --output raw > reply.bin
  {PROG} 127.0.0.1:9000 --count 100 --output json > frames.jsonl
      print the first 100 frames the server sends
  {PROG} 127.0.0.1:9000 --length-size 2 --byte-order big --max-frame 4096 --send hi
  {PROG} 127.0.0.1:5432 --framing pg --send-hex '51 53454c4543542031 00'
      a PostgreSQL Query message: type byte 'Q', then "SELECT 1" and its NUL
  {PROG} 127.0.0.1:9000 --guess-framing
      print the framings that parse what the server sends first, best first
  {PROG} example.com:9443 --tls --send hello
      TLS, verified against the system's CAs, SNI example.com
  {PROG} 127.0.0.1:9443 --cafile ca.pem --cert me.pem --key me.key --send hello
      a private CA, and a client certificate (mutual TLS)
  {PROG} 127.0.0.1:9000 --send hello --capture session.jsonl
  {PROG} --to-pcapng session.jsonl session.pcapng
  {PROG} 127.0.0.1:9000 --send '!samples' --count 5 --decode auto
      decode the demo server's sample messages
  {PROG} 127.0.0.1:9000 --send-hex 0801 --decode protobuf \\
      --proto-descriptor demo.desc --proto-message framewire.demo.Event
  {PROG} 127.0.0.1:9000 --count 10 --layout layouts.py:MESSAGE --output json
  {PROG} --listen 9000 --echo
      be an echo server on 127.0.0.1:9000
  {PROG} --listen 0 --send welcome --count 1 --output json
      on a free port (see stderr), greet each client, exit after its first frame
  {PROG} 127.0.0.1:9000 --relay 9001
      point your client at 127.0.0.1:9001 and watch it talk to its server
  {PROG} 127.0.0.1:9000 --relay 9001 --upstream-framing be32
      le32 clients in front of a be32 server
  {PROG} --serve-ipc &                     (a long-lived engine others attach to)
  sid=$({PROG} --attach 127.0.0.1:9000)    (open a session in it; it stays open)
  {PROG} --attach --session $sid --send hello
      send into that session, print the reply as above
  {PROG} --attach --session $sid --output json   (follow it until it closes)
  {PROG} --attach                         (its sessions and listeners)
  {PROG} --list-engines                   (the running engines)
  {PROG} 127.0.0.1:9000 --project messages.toml --send-saved login --send-saved ping
      send saved messages ({{{{seq}}}}, {{{{now}}}}, {{{{random_hex:8}}}} and [vars] expanded)
  {PROG} 127.0.0.1:9000 --script check.toml --junit report.xml
      run a send/expect script; exit 6 if an expectation fails; a JUnit report for CI
  {PROG} --listen 9000 --script server.toml
      a scripted server: each client gets the script
  {PROG} 127.0.0.1:9000 --send hello --output json --show-sent > hello.jsonl
  {PROG} 127.0.0.1:9000 --replay hello.jsonl --ignore 0-7 --ignore ts
      send the recorded frames again; every frame that comes must be the recorded one
  {PROG} --listen 9000 --replay hello.jsonl   (play the server's side to a client)
  {PROG} --stdio      (the GUI's engine: MessagePack-RPC on stdin/stdout)
  {PROG} --api-info   (print the IPC methods and events as JSON)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog=PROG,
        usage=USAGE,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "address", nargs="?", metavar="HOST:PORT", help="server to connect to ([::1]:PORT for IPv6)"
    )
    send = parser.add_argument_group("what to send")
    send.add_argument(
        "--send",
        dest="sends",
        action=_AppendTagged,
        tag="text",
        default=[],
        metavar="TEXT",
        help="send TEXT (in --encoding, UTF-8 by default) as one frame; repeatable",
    )
    send.add_argument(
        "--send-hex",
        dest="sends",
        action=_AppendTagged,
        tag="hex",
        metavar="HEX",
        help="send the bytes spelled in HEX (e.g. 'de ad be ef') as one frame; repeatable",
    )
    send.add_argument(
        "--file-frame",
        dest="sends",
        action=_AppendTagged,
        tag="file",
        metavar="PATH",
        help="send the whole of PATH (any bytes) as one frame; repeatable",
    )
    send.add_argument("--file", metavar="PATH", help="send each line of PATH as a frame")
    send.add_argument(
        "--stdin", action="store_true", help="send each line read from stdin as a frame"
    )
    send.add_argument(
        "--input",
        choices=("text", "hex"),
        default="text",
        help="how --file and --stdin lines are read (default: text)",
    )
    out = parser.add_argument_group("output")
    out.add_argument("--output", choices=OUTPUTS, default="text", help="see below (default: text)")
    out.add_argument(
        "--timestamps", choices=TIMESTAMPS, default="time", help="see below (default: time)"
    )
    out.add_argument("--show-sent", action="store_true", help="also print the frames sent")
    out.add_argument(
        "--encoding",
        type=_encoding,
        default="utf-8",
        metavar="NAME",
        help=f"text encoding of --send, text input and text output: {', '.join(ENCODINGS)} "
        "(default: utf-8)",
    )
    out.add_argument(
        "--capture",
        metavar="FILE",
        help="append every frame and session event to FILE (JSON lines), rotated by size",
    )
    out.add_argument(
        "--capture-max-bytes",
        type=positive(int, "number of bytes"),
        default=100 * 1024 * 1024,
        metavar="N",
        help="rotate the capture file at N bytes (default: 100 MiB)",
    )
    out.add_argument(
        "--capture-keep",
        type=non_negative(int, "number of files"),
        default=5,
        metavar="N",
        help="rotated capture files kept: FILE.1.jsonl ... FILE.N.jsonl (default: 5)",
    )
    decoding = parser.add_argument_group("decoding")
    decoding.add_argument(
        "--decode",
        choices=[*DECODER_CHOICES, "layout"],
        metavar="NAME",
        help=f"decode payloads: {', '.join(DECODER_CHOICES)} (or layout, with --layout)",
    )
    decoding.add_argument(
        "--proto-descriptor",
        metavar="FILE",
        help="a FileDescriptorSet for --decode protobuf (implies it); needs --proto-message",
    )
    decoding.add_argument(
        "--proto-message", metavar="NAME", help="the message type, e.g. my.pkg.Event"
    )
    decoding.add_argument(
        "--layout",
        metavar="FILE.py:NAME",
        help="decode with the construct layout NAME built in FILE.py (implies --decode layout)",
    )
    framing = parser.add_argument_group("framing")
    framing.add_argument(
        "--framing",
        type=_framing,
        default=PRESETS["le32"],
        metavar="SPEC",
        help="a preset, or a preset with changes in words (default: le32; see below)",
    )
    framing.add_argument(
        "--length-size",
        type=_length_size,
        metavar="N",
        help="the length field: 1, 2, 3, 4 or 8 bytes, or varint",
    )
    framing.add_argument(
        "--length-varint",
        dest="length_size",
        action="store_const",
        const="varint",
        help="the length is an unsigned LEB128 varint (Protobuf's delimited form)",
    )
    framing.add_argument(
        "--length-offset",
        type=int,
        metavar="N",
        help="bytes before the length field (kept in the frame unless --strip says otherwise)",
    )
    framing.add_argument(
        "--length-adjust",
        type=int,
        metavar="N",
        help="added to the length to get the bytes after it (negative: it counts itself)",
    )
    framing.add_argument(
        "--strip",
        type=_strip,
        metavar="N|none",
        help="deliver the frame less its first N bytes (0: whole frame; default none: "
        "drop the length field only)",
    )
    framing.add_argument(
        "--byte-order", choices=("little", "big"), help="byte order of the length field"
    )
    framing.add_argument(
        "--length-includes-header",
        action="store_true",
        default=None,
        help="the length field counts the header too",
    )
    framing.add_argument(
        "--max-frame",
        type=int,
        metavar="BYTES",
        help="largest number of bytes after the length field (default: 8 MiB)",
    )
    guess = parser.add_argument_group("guessing the framing")
    guess.add_argument(
        "--guess-framing",
        action="store_true",
        help="read what HOST:PORT sends (after the --send frames, if any) and rank the "
        "framings that parse it; --timeout bounds the wait (default: 3 s)",
    )
    guess.add_argument(
        "--guess-from",
        metavar="FILE",
        help="rank the framings that parse the bytes of FILE (raw, as on the wire; - for stdin)",
    )
    export = parser.add_argument_group("exporting")
    export.add_argument(
        "--to-pcapng",
        nargs=2,
        metavar=("RECORDING", "PCAPNG"),
        help="write the frames of a recording (--capture or --output json) as a pcapng "
        "file with synthetic TCP/IP headers",
    )
    roles = parser.add_argument_group("listen and relay (see above)")
    roles.add_argument(
        "--listen",
        type=listen_address,
        metavar="[HOST:]PORT",
        help="be the server: accept clients on PORT (0: a free one)",
    )
    roles.add_argument(
        "--relay",
        type=listen_address,
        metavar="[HOST:]PORT",
        help="accept clients on PORT and relay each one to the HOST:PORT given before",
    )
    roles.add_argument(
        "--echo", action="store_true", default=False, help="--listen: send each frame back"
    )
    roles.add_argument(
        "--upstream-framing",
        type=_framing,
        metavar="SPEC",
        help="--relay: the server's framing, when it is not --framing's: a preset, or one "
        "with changes in words (frames are re-encoded)",
    )
    roles.add_argument(
        "--max-clients",
        type=positive(int, "number of clients"),
        metavar="N",
        help="clients at once; the next one is closed at once (default: 1024)",
    )
    roles.add_argument(
        "--idle-timeout",
        type=non_negative(float, "number of seconds"),
        metavar="S",
        help="close a client after S seconds without a byte either way (0: never; default: 600)",
    )
    roles.add_argument(
        "--partial-frame-timeout",
        type=non_negative(float, "number of seconds"),
        metavar="S",
        help="end a client whose frame stays incomplete for S seconds (0: never; default: 30)",
    )
    timing = parser.add_argument_group("counts and timeouts")
    timing.add_argument(
        "--count",
        type=int,
        metavar="N",
        help="exit after N frames were received (0: do not wait for replies)",
    )
    timing.add_argument(
        "--timeout",
        type=non_negative(float, "number of seconds"),
        metavar="S",
        help="give up (exit 5) if the replies have not arrived S seconds after connecting "
        "(0: wait forever; default: 10 s without a reply, when frames were sent)",
    )
    timing.add_argument(
        "--connect-timeout",
        type=positive(float, "number of seconds"),
        default=10.0,
        metavar="S",
        help="give up connecting after S seconds (exit 3; default: 10)",
    )
    ipc = parser.add_argument_group("engine mode (used by the GUI)")
    ipc.add_argument(
        "--stdio",
        action="store_true",
        help="serve MessagePack-RPC on stdin/stdout instead of connecting",
    )
    ipc.add_argument(
        "--api-info", action="store_true", help="print the IPC API description as JSON"
    )
    ipc.add_argument(
        "--stats-interval",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between stats events in --stdio/--serve-ipc mode (default: 1; 0: none)",
    )
    _add_tls(parser)
    _add_server_tls(parser)
    _add_long_lived(parser)
    _add_scripts(parser)
    return parser


def _add_tls(parser: argparse.ArgumentParser) -> None:
    """The client side's TLS options (README, "TLS"); each implies --tls."""
    group = parser.add_argument_group(
        "TLS (client side; each option implies --tls)",
        "The server's certificate is verified: it must chain to a trusted CA (the system's, "
        "or --cafile's) and be for the host connected to (or --server-name). A failure is "
        "exit code 3, with the cause: expired, wrong host name, unknown CA, self-signed, "
        "client certificate required, version refused, a plaintext server.",
    )
    group.add_argument(
        "--tls",
        action="store_true",
        help="speak TLS to HOST:PORT (TLS 1.2 or later; SNI: the host name)",
    )
    group.add_argument(
        "--cafile", metavar="PATH", help="trust the CAs in PATH (PEM) instead of the system's"
    )
    group.add_argument(
        "--cert",
        metavar="PATH",
        help="present this client certificate (PEM; with its key, or give --key) for mutual TLS",
    )
    group.add_argument("--key", metavar="PATH", help="the client certificate's key (PEM)")
    group.add_argument(
        "--alpn",
        action="append",
        default=[],
        metavar="PROTO",
        help="offer this ALPN protocol (repeatable, or comma-separated; first preferred)",
    )
    group.add_argument(
        "--server-name",
        metavar="NAME",
        help="the name sent as SNI and checked against the certificate (default: the host)",
    )
    group.add_argument(
        "--tls-min",
        choices=TLS_VERSIONS,
        metavar="VERSION",
        help=f"lowest TLS version: {', '.join(TLS_VERSIONS)} (default: {DEFAULT_MIN_VERSION})",
    )
    group.add_argument(
        "--tls-max", choices=TLS_VERSIONS, metavar="VERSION", help="highest TLS version"
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        help="do NOT verify the server's certificate (says so on stderr, and the session "
        "is marked unverified)",
    )


def _add_server_tls(parser: argparse.ArgumentParser) -> None:
    """The TLS options of --listen and --relay: the listening side's, and the upstream's."""
    group = parser.add_argument_group(
        "TLS for --listen and --relay",
        "--tls-cert makes the listening side TLS (--alpn, --tls-min and --tls-max then apply "
        "to it); each client's handshake is logged, a failed one with its cause. The "
        "relay's upstream takes the client options with an --upstream- prefix, so a TLS "
        "client ⇄ framewire ⇄ TLS server relay shows the plaintext frames.",
    )
    group.add_argument(
        "--tls-cert", metavar="PATH", help="listen in TLS with this certificate (PEM, chain)"
    )
    group.add_argument(
        "--tls-key", metavar="PATH", help="its key (PEM; default: in the --tls-cert file)"
    )
    group.add_argument(
        "--tls-client-ca",
        metavar="PATH",
        help="require a client certificate issued by a CA in PATH (mutual TLS)",
    )
    group.add_argument(
        "--upstream-tls", action="store_true", help="--relay: speak TLS to the upstream"
    )
    for name, meta, what in (
        ("cafile", "PATH", "trust the CAs in PATH for the upstream"),
        ("cert", "PATH", "present this client certificate to the upstream"),
        ("key", "PATH", "its key"),
        ("server-name", "NAME", "the name sent as SNI to the upstream and checked"),
    ):
        group.add_argument(f"--upstream-{name}", metavar=meta, help=f"--relay: {what}")
    group.add_argument(
        "--upstream-alpn",
        action="append",
        default=[],
        metavar="PROTO",
        help="--relay: offer this ALPN protocol to the upstream (repeatable)",
    )
    for name in ("min", "max"):
        group.add_argument(
            f"--upstream-tls-{name}",
            choices=TLS_VERSIONS,
            metavar="VERSION",
            help=f"--relay: the upstream's {'lowest' if name == 'min' else 'highest'} TLS version",
        )
    group.add_argument(
        "--upstream-insecure",
        action="store_true",
        help="--relay: do NOT verify the upstream's certificate (said on stderr)",
    )


def _add_scripts(parser: argparse.ArgumentParser) -> None:
    """Saved messages, ``--script``, ``--replay`` (README, "Check your service in CI")."""
    group = parser.add_argument_group(
        "saved messages, scripts and replay",
        "A project or script file is TOML (their formats: docs/scripts.md). Scripts and "
        "replays run as the client with HOST:PORT, as the server with --listen.",
    )
    group.add_argument(
        "--project", metavar="FILE", help="a project file: [messages.NAME] tables and [vars]"
    )
    group.add_argument(
        "--send-saved",
        dest="sends",
        action=_AppendTagged,
        tag="saved",
        metavar="NAME",
        help="send the saved message NAME of --project (placeholders expanded); repeatable",
    )
    group.add_argument(
        "--var",
        dest="variables",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable for {{NAME}} (VALUE is read as JSON if it can be, else as "
        "text); repeatable",
    )
    group.add_argument(
        "--script",
        dest="scripts",
        action="append",
        default=[],
        metavar="FILE.toml",
        help="run a send/expect script (each in a connection of its own); repeatable",
    )
    group.add_argument(
        "--junit",
        metavar="REPORT.xml",
        help="with --script/--replay: write a JUnit XML report, one test case per script",
    )
    group.add_argument(
        "--replay",
        metavar="FILE.jsonl",
        help="send the frames of a recording again and check that every frame coming back "
        "is the recorded one",
    )
    group.add_argument(
        "--keep-timing",
        action="store_true",
        help="with --replay: wait the recorded gaps before sending",
    )
    group.add_argument(
        "--ignore",
        dest="ignores",
        action="append",
        default=[],
        metavar="PATH_OR_RANGE",
        help="with --replay: leave bytes (4-11, 8-) or a decoded field (ts, header.seq) out "
        "of each comparison; repeatable",
    )
    group.add_argument(
        "--clients",
        type=positive(int, "number of clients"),
        metavar="N",
        help="with --listen --script/--replay: end after N clients' scripts ended "
        "(default: serve until Ctrl-C or SIGTERM)",
    )


def _add_long_lived(parser: argparse.ArgumentParser) -> None:
    """``--serve-ipc``, ``--list-engines``, ``--attach`` (README, "Keep the engine running")."""
    group = parser.add_argument_group(
        "long-lived engine",
        "PATH: a socket path (with a slash), or a NAME for NAME.sock in the runtime folder "
        "($XDG_RUNTIME_DIR/framewire/, else framewire-UID/ in the temporary folder); "
        "without it, the default engine (engine.sock there).",
    )
    group.add_argument(
        "--serve-ipc",
        nargs="?",
        const="",
        metavar="PATH",
        help="run headless, serve MessagePack-RPC on a Unix socket to the controllers that "
        "attach, until shutdown or SIGTERM",
    )
    group.add_argument(
        "--history-frames",
        type=non_negative(int, "number of frames"),
        default=DEFAULT_FRAMES_PER_SESSION,
        metavar="N",
        help="with --serve-ipc: frames of each session kept for controllers that attach "
        f"later (default: {DEFAULT_FRAMES_PER_SESSION:,}, at most 16 MiB; 0: none)",
    )
    group.add_argument(
        "--history-mib",
        type=positive(int, "number of MiB"),
        default=DEFAULT_TOTAL_BYTES // 2**20,
        metavar="MIB",
        help="with --serve-ipc: memory the history of all sessions may take "
        f"(default: {DEFAULT_TOTAL_BYTES // 2**20})",
    )
    group.add_argument(
        "--list-engines",
        action="store_true",
        help="list the engines running in the runtime folder: socket, pid, uptime, sessions",
    )
    group.add_argument(
        "--attach",
        nargs="?",
        const="",
        metavar="PATH",
        help="work in a running engine: with HOST:PORT open a session there (it stays open) "
        "and print its id; with --session ID send into that session (--send...) and print "
        "the replies, or follow it; alone, list its sessions and listeners (--output json: "
        "JSON lines)",
    )
    group.add_argument(
        "--session",
        type=positive(int, "session id"),
        metavar="ID",
        help="with --attach: the session to send into and print replies from; with "
        "--replay: the session of the recording to replay",
    )
    group.add_argument(
        "--label",
        metavar="TEXT",
        help="with --attach HOST:PORT: a name for the session (the window shows it)",
    )


def _framing(text: str) -> FramingSpec:
    try:
        return parse_framing(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _length_size(text: str) -> int | str:
    if text == "varint":
        return text
    if text.isdigit() and int(text) in LENGTH_SIZES:
        return int(text)
    raise argparse.ArgumentTypeError(f"must be 1, 2, 3, 4, 8 or varint, not {text!r}")


def _strip(text: str) -> int | str:
    if text == "none":
        return text  # told apart from "not given" (None) by the plan
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number or none, not {text!r}") from None


def _encoding(text: str) -> str:
    try:
        return check_encoding(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _AppendTagged(argparse.Action):
    """Append ``(tag, value)`` so --send and --send-hex keep their command-line order."""

    def __init__(self, *args: Any, tag: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tag = tag

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        items = [*(getattr(namespace, self.dest, None) or []), (self.tag, values)]
        setattr(namespace, self.dest, items)
