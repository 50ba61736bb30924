"""A loopback demo server speaking length-prefixed frames: echo, the classic reply, streams.

It is what ``make run``, the tests and the benchmarks talk to. One server serves every
test because, in any mode, a client can ask for the behaviour it needs with a control
frame (a frame whose payload starts with one of these words):

``!stream N`` / ``!stream N SIZE``
    send N sequence-numbered frames of SIZE bytes (default: ``--size``) back-to-back.
``!stall``
    stop reading this connection forever (the peer's sends eventually block).
``!close``
    close this connection gracefully after everything before it was sent.
``!reset``
    reset this connection (RST, via SO_LINGER 0).
``!oversize``
    send a header announcing a frame longer than the framing's maximum.
``!truncate``
    send half a frame, then close gracefully (the peer sees EOF mid-frame).
``!samples`` / ``!samples N [FORMAT]``
    send structured sample messages (``tools/demo_messages.py``): one each in JSON,
    MessagePack, CBOR, Protobuf and the binary layout of ``tools/demo_layout.py``; or N
    of them, numbered 0..N-1, in FORMAT (default: the formats in turn). What the
    decoders are shown with.

A malformed control frame (``!stream abc``) is answered with one frame starting with
``!error``. Every other frame is answered according to the mode: ``echo`` sends the
payload back; ``classic`` answers like the classic Qt+Twisted sample's server, with
``CLASSIC_REPLY_PREFIX + payload`` -- so ``hello`` gets ``hello, client! you said: hello``.

A sequence-numbered frame's payload is the 8-byte big-endian sequence number (0..N-1)
followed by ``b"x"`` filler up to the frame size.

Theory of operation: each connection is served by one task that reads a chunk, decodes
its frames and answers them in order before it reads again. Sending uses ``send_all``
and so waits for TCP back-pressure; nothing is queued in the server, so a client that
does not read only ever costs one chunk of memory. Streams are built in C-speed batches
(one template frame multiplied, sequence bytes written with a strided slice) and sent in
chunks of about ``STREAM_CHUNK_BYTES``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import ipaddress
import logging
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Literal

import trio

from ipc.cli_args import framing_words
from ipc.errors import LocalProtocolError, RemoteProtocolError
from ipc.framing import (
    FrameDecoder,
    FramingSpec,
    encode_frame,
    encode_frames,
    encode_varint,
    parse_framing,
)
from tools.demo_messages import SAMPLE_FORMATS, sample_payload
from tools.demo_tls import TlsConnection, make_demo_certificates
from tools.lifecycle import die_with_parent
from tools.supervision import stop_process

__all__ = [
    "CLASSIC_REPLY_PREFIX",
    "LISTENING_PREFIX",
    "START_TIMEOUT_SECONDS",
    "STOP_GRACE_SECONDS",
    "DemoMode",
    "DemoServer",
    "DemoServerError",
    "main",
    "parse_listening_line",
    "sequence_frames",
    "serve_demo",
    "serve_demo_connection",
    "spawn_demo_server",
    "start_demo_server",
]

log = logging.getLogger("framewire.demo_server")

DemoMode = Literal["echo", "classic"]

#: Prefix of the first stdout line; the rest is ``HOST:PORT`` (``[::1]:PORT`` for IPv6).
LISTENING_PREFIX = "framewire demo server listening on "
#: The classic sample's server answered ``hello`` with a greeting that quotes it.
CLASSIC_REPLY_PREFIX = b"hello, client! you said: "
#: Bytes per receive call; many small frames per read, and big frames in few reads.
RECEIVE_BYTES = 256 * 1024
#: Streams are sent in chunks of about this size: big enough that the per-send cost of
#: trio and the kernel vanishes, small enough to stay cheap per connection.
STREAM_CHUNK_BYTES = 1024 * 1024
#: How long a graceful close waits for the peer's EOF before closing anyway. Closing
#: with unread input makes Linux send RST, which can destroy data still in flight.
CLOSE_GRACE_SECONDS = 5.0
#: A stream request over this many frames is refused (a typo should not run for hours).
MAX_STREAM_FRAMES = 1_000_000_000
#: ``!samples N`` sends its frames in writes of this many.
SAMPLES_PER_SEND = 1024
#: How long ``start_demo_server`` waits for the listening line (a cold start imports trio).
START_TIMEOUT_SECONDS = 15.0
#: How long the server gets to stop after SIGTERM before SIGKILL.
STOP_GRACE_SECONDS = 1.0

_FILLER = b"x"
#: Frames at least this long are streamed without copying (see ``sequence_frames``).
_LARGE_FRAME_BYTES = 64 * 1024
_SEQUENCE_BYTES = 8
_BYTE_VALUES = bytes(range(256))


class _Closed(Exception):
    """This connection is finished (closed, reset or stalled on purpose); stop serving it."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Config:
    framing: FramingSpec
    mode: DemoMode
    delay: float
    stream: int
    size: int
    stall: bool


def sequence_frames(count: int, size: int, spec: FramingSpec, *, start: int = 0) -> Iterator[bytes]:
    """Yield the wire bytes of frames ``start..start+count-1``, in chunks to send as they are.

    Each payload is the 8-byte big-endian sequence number, then filler up to ``size``.

    Strategy: small frames come in chunks of about ``STREAM_CHUNK_BYTES``. Within a block
    of up to 256 frames whose numbers share all but the last byte, every frame is
    identical except that byte, so a block is one template frame multiplied, with the
    last sequence byte written by one strided slice assignment: a few C calls per block
    instead of Python work per frame. A large frame is yielded as its header and number,
    then the one shared filler object: nothing of it is copied (fresh megabyte buffers
    cost more in page faults than the copy itself).

    Raises:
        LocalProtocolError: ``size`` is under 8 bytes or does not fit the framing.
    """
    if size < _SEQUENCE_BYTES:
        raise LocalProtocolError(f"stream frame size {size} < {_SEQUENCE_BYTES}")
    header = encode_frame(bytes(size), spec)[:-size]
    filler = _FILLER * (size - _SEQUENCE_BYTES)
    stride = len(header) + size
    end = start + count
    if stride >= _LARGE_FRAME_BYTES:
        for number in range(start, end):
            yield header + number.to_bytes(_SEQUENCE_BYTES, "big")
            yield filler
        return
    offset = len(header) + _SEQUENCE_BYTES - 1  # position of the last sequence byte
    per_block = min(256, STREAM_CHUNK_BYTES // stride)
    chunk: list[bytearray] = []
    chunk_bytes = 0
    number = start
    while number < end:
        low = number & 0xFF
        n = min(256 - low, end - number, per_block)
        template = header + (number >> 8).to_bytes(_SEQUENCE_BYTES - 1, "big") + b"\0" + filler
        block = bytearray(template * n)
        block[offset::stride] = _BYTE_VALUES[low : low + n]
        chunk.append(block)
        chunk_bytes += len(block)
        number += n
        if chunk_bytes >= STREAM_CHUNK_BYTES:
            yield b"".join(chunk)
            chunk, chunk_bytes = [], 0
    if chunk:
        yield b"".join(chunk)


def _oversize_header(spec: FramingSpec) -> bytes | None:
    """A header announcing a frame over ``spec``'s limit, or None if none fits the field."""
    announced = spec.max_frame_length + 1 - spec.total_adjust(spec.min_header_size)
    if announced > spec.field_max:
        return None  # the field itself is the limit (u8 carries at most 255 bytes)
    prefix = bytes(spec.length_offset)
    if spec.length_size == "varint":
        return prefix + encode_varint(announced)
    return prefix + announced.to_bytes(int(spec.length_size), spec.byte_order)


class _Connection:
    """Serves one client stream according to the server's config."""

    def __init__(self, stream: trio.abc.HalfCloseableStream, config: _Config) -> None:
        self._stream = stream
        self._config = config
        self._decoder = FrameDecoder(config.framing)
        self.frames_in = 0
        self.frames_out = 0

    async def serve(self) -> None:
        if self._config.stall:
            await trio.sleep_forever()
        if self._config.stream:
            await self._send_stream(self._config.stream, self._config.size)
        while True:
            data = await self._stream.receive_some(RECEIVE_BYTES)
            frames = self._decoder.feed(data)  # b"" = EOF: raises if mid-frame
            self.frames_in += len(frames)
            await self._answer(frames)
            if self._decoder.failed:
                self._decoder.frames()  # raises the error found after those frames
            if not data:
                await self._close_gracefully()
                return

    async def _answer(self, frames: list[bytes]) -> None:
        replies: list[bytes] = []
        for payload in frames:
            if payload.startswith(b"!") and payload.split(None, 1)[0] in _CONTROL_WORDS:
                await self._send_replies(replies)
                replies = []
                await self._control(payload)
            elif self._config.delay > 0:
                await trio.sleep(self._config.delay)
                await self._send_replies([self._reply_to(payload)])
            else:
                replies.append(self._reply_to(payload))
        await self._send_replies(replies)

    def _reply_to(self, payload: bytes) -> bytes:
        if self._config.mode == "classic":
            payload = CLASSIC_REPLY_PREFIX + payload
            if len(payload) > self._config.framing.payload_limit:
                return self._error_payload("reply would exceed the maximum frame length")
        return payload

    def _error_payload(self, message: str) -> bytes:
        # Cut to what the framing can carry (a u8 field holds 255 bytes at most).
        return (b"!error " + message.encode())[: self._config.framing.payload_limit]

    async def _send_replies(self, replies: list[bytes]) -> None:
        if replies:
            await self._stream.send_all(encode_frames(replies, self._config.framing))
            self.frames_out += len(replies)

    async def _control(self, payload: bytes) -> None:
        word, *args = payload.decode("ascii", "replace").split()
        if word == "!stream":
            await self._control_stream(args)
        elif word == "!samples":
            await self._control_samples(args)
        elif word == "!stall":
            log.info("stalling on request")
            await trio.sleep_forever()
        elif word == "!close":
            await self._close_gracefully()
            raise _Closed
        elif word == "!reset":
            await self._reset()
            raise _Closed
        elif word == "!oversize":
            header = _oversize_header(self._config.framing)
            if header is None:
                await self._send_error("this framing cannot announce an oversize frame")
            else:
                await self._stream.send_all(header)
        elif word == "!truncate":
            size = min(self._config.size, self._config.framing.payload_limit)
            frame = encode_frame(_FILLER * max(size, 2), self._config.framing)
            await self._stream.send_all(frame[: len(frame) // 2])
            await self._close_gracefully()
            raise _Closed

    async def _control_stream(self, args: Sequence[str]) -> None:
        try:
            if len(args) not in (1, 2):
                raise ValueError("usage: !stream N [SIZE]")
            count = int(args[0])
            size = int(args[1]) if len(args) == 2 else self._config.size
            if not 0 <= count <= MAX_STREAM_FRAMES:
                raise ValueError(f"N must be 0..{MAX_STREAM_FRAMES}")
            await self._send_stream(count, size)
        except (ValueError, LocalProtocolError) as exc:
            await self._send_error(f"bad !stream request: {exc}")

    async def _control_samples(self, args: Sequence[str]) -> None:
        try:
            if len(args) > 2:
                raise ValueError("usage: !samples [N [FORMAT]]")
            count = int(args[0]) if args else len(SAMPLE_FORMATS)
            formats = [args[1]] if len(args) == 2 else list(SAMPLE_FORMATS)
            if not 0 <= count <= MAX_STREAM_FRAMES:
                raise ValueError(f"N must be 0..{MAX_STREAM_FRAMES}")
            for start in range(0, count, SAMPLES_PER_SEND):
                batch = [
                    sample_payload(formats[seq % len(formats)], seq)
                    for seq in range(start, min(count, start + SAMPLES_PER_SEND))
                ]
                if max(map(len, batch)) > self._config.framing.payload_limit:
                    raise ValueError("a sample is longer than this framing's maximum frame")
                await self._send_replies(batch)
        except ValueError as exc:
            await self._send_error(f"bad !samples request: {exc}")

    async def _send_stream(self, count: int, size: int) -> None:
        log.info("streaming %d frames of %d bytes", count, size)
        for chunk in sequence_frames(count, size, self._config.framing):
            await self._stream.send_all(chunk)
        self.frames_out += count

    async def _send_error(self, message: str) -> None:
        await self._send_replies([self._error_payload(message)])

    async def _close_gracefully(self) -> None:
        """Send EOF, wait (bounded) for the peer's EOF, then close."""
        await self._stream.send_eof()
        with trio.move_on_after(CLOSE_GRACE_SECONDS):
            while await self._stream.receive_some(RECEIVE_BYTES):
                pass
        await self._stream.aclose()

    async def _reset(self) -> None:
        sock = getattr(self._stream, "socket", None)
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await self._stream.aclose()


_CONTROL_WORDS = frozenset(
    w.encode()
    for w in ("!stream", "!stall", "!close", "!reset", "!oversize", "!truncate", "!samples")
)


async def serve_demo_connection(
    stream: trio.abc.HalfCloseableStream,
    *,
    framing: FramingSpec,
    mode: DemoMode = "echo",
    delay: float = 0.0,
    stream_count: int = 0,
    size: int = 100,
    stall: bool = False,
    name: str = "client",
) -> None:
    """Serve one already-connected stream until it ends; errors end only this stream.

    This is the per-connection half of ``serve_demo``; tests may run it over a
    ``trio.testing.memory_stream_pair`` (with a MockClock to check ``delay``).
    """
    config = _Config(
        framing=framing, mode=mode, delay=delay, stream=stream_count, size=size, stall=stall
    )
    conn = _Connection(stream, config)
    log.info("%s connected", name)
    outcome = "closed by peer"
    try:
        await conn.serve()
    except _Closed:
        outcome = "closed on request"
    except RemoteProtocolError as exc:
        outcome = f"protocol error: {exc}"
    except LocalProtocolError as exc:  # a reply this framing cannot carry: drop the client
        outcome = f"cannot answer: {exc}"
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        outcome = f"connection lost: {exc.__cause__ or exc}"
    finally:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(stream)
        log.info(
            "%s %s (%d frame%s in, %d out)",
            name,
            outcome,
            conn.frames_in,
            "" if conn.frames_in == 1 else "s",
            conn.frames_out,
        )


def _check_loopback(host: str) -> str:
    """Return ``host`` as a loopback address literal, or raise ValueError."""
    if host == "localhost":
        return "127.0.0.1"
    refusal = f"host must be a loopback address (127.0.0.1, ::1), not {host!r}"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(refusal) from None
    if not address.is_loopback:
        raise ValueError(refusal)
    return host


_DEFAULT_FRAMING = FramingSpec()


async def serve_demo(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    framing: FramingSpec = _DEFAULT_FRAMING,
    mode: DemoMode = "echo",
    delay: float = 0.0,
    stream: int = 0,
    size: int = 100,
    stall: bool = False,
    tls: ssl.SSLContext | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on a loopback ``host``:``port`` and serve every client until cancelled.

    Start it with ``port = await nursery.start(serve_demo)``: ``task_status.started``
    receives the bound port (the real one when ``port`` is 0). With ``tls`` (a server
    side ``SSLContext``) every client is served in TLS (``tools.demo_tls``).

    Raises:
        ValueError: ``host`` is not a loopback address, or ``mode``/``size``/``stream``
            are invalid.
        OSError: the port could not be bound.
    """
    host = _check_loopback(host)
    if mode not in ("echo", "classic"):
        raise ValueError(f"mode must be 'echo' or 'classic', not {mode!r}")
    if stream < 0 or (stream and not _SEQUENCE_BYTES <= size <= framing.payload_limit):
        raise ValueError(
            f"stream needs N >= 0 and {_SEQUENCE_BYTES} <= size <= {framing.payload_limit}"
        )
    if delay < 0:
        raise ValueError("delay must be >= 0")
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound_port: int = listeners[0].socket.getsockname()[1]
    counter = 0

    async def handle(client: trio.SocketStream) -> None:
        nonlocal counter
        counter += 1
        peer = client.socket.getpeername()
        await serve_demo_connection(
            client if tls is None else TlsConnection(client, tls),
            framing=framing,
            mode=mode,
            delay=delay,
            stream_count=stream,
            size=size,
            stall=stall,
            name=f"#{counter} {peer[0]}:{peer[1]}",
        )

    log.info("listening on %s port %d (%s mode%s)", host, bound_port, mode, ", TLS" if tls else "")
    task_status.started(bound_port)
    await trio.serve_listeners(handle, listeners)


def parse_listening_line(line: str) -> tuple[str, int]:
    """Split the server's first stdout line into ``(host, port)``.

    Raises:
        ValueError: the line is not a listening line.
    """
    if not line.startswith(LISTENING_PREFIX):
        raise ValueError(f"not a demo server listening line: {line!r}")
    host, _, port = line[len(LISTENING_PREFIX) :].strip().rpartition(":")
    return host.strip("[]"), int(port)


class DemoServerError(Exception):
    """The demo server did not start: it exited, printed something else, or said nothing."""


@dataclasses.dataclass(frozen=True, slots=True)
class DemoServer:
    """A running ``python -m tools.demo_server`` and where it listens."""

    process: subprocess.Popen[bytes]
    host: str
    port: int


def start_demo_server(
    *args: str,
    timeout: float = START_TIMEOUT_SECONDS,
    niceness: int = 0,
    **popen_kwargs: Any,
) -> DemoServer:
    """Start ``python -m tools.demo_server --port 0 *args``; wait for its listening line.

    ``popen_kwargs`` go to ``subprocess.Popen`` (stdin, stderr, process group, ...); its
    stdout is this function's: the first line is read, then the pipe is closed (the
    server prints nothing else there). With ``niceness`` > 0 the server runs that much
    nicer than we do once it listens (best effort): it stands in for a remote machine,
    and should not take the CPU of whatever its client measures. The caller stops it
    (``stop_process(server.process, STOP_GRACE_SECONDS)``), or uses ``spawn_demo_server``.

    Raises:
        DemoServerError: it exited, printed something else, or said nothing within
            ``timeout`` (it is stopped before this is raised).
    """
    cmd = [sys.executable, "-m", "tools.demo_server", "--port", "0", *args]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, **popen_kwargs)
    assert process.stdout is not None
    try:
        line = _read_line_within(process.stdout, timeout)
    except BaseException:  # a stop signal during start-up: leave nothing behind
        stop_process(process, STOP_GRACE_SECONDS)
        raise
    process.stdout.close()
    try:
        host, port = parse_listening_line(line.decode("utf-8", "replace"))
    except ValueError:
        code = stop_process(process, STOP_GRACE_SECONDS)
        if not line:
            how = f"exited with code {code}" if code is not None else "did not start in time"
            raise DemoServerError(f"the demo server {how}") from None
        raise DemoServerError(f"the demo server said {line!r} instead of its address") from None
    if niceness > 0 and sys.platform != "win32":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, process.pid, os.nice(0) + niceness)
    return DemoServer(process, host, port)


@contextlib.contextmanager
def spawn_demo_server(
    *args: str,
    timeout: float = START_TIMEOUT_SECONDS,
    niceness: int = 0,
    **popen_kwargs: Any,
) -> Iterator[tuple[str, int]]:
    """``start_demo_server`` as a context manager: yields ``(host, port)``, and stops the
    server on exit (SIGTERM, SIGKILL after ``STOP_GRACE_SECONDS``, reaped).

    Raises:
        DemoServerError: as ``start_demo_server``.
    """
    server = start_demo_server(*args, timeout=timeout, niceness=niceness, **popen_kwargs)
    try:
        yield server.host, server.port
    finally:
        stop_process(server.process, STOP_GRACE_SECONDS)


def _read_line_within(stream: IO[bytes], timeout: float) -> bytes:
    """Read one line, or b"" after ``timeout`` (a thread: select() cannot wait on Windows
    pipes). On timeout the thread stays blocked until the caller kills the writer."""
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else b""


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.demo_server",
        description=(
            "Loopback demo server for length-prefixed frames. Control frames, in any mode: "
            "'!stream N [SIZE]', '!stall', '!close', '!reset', '!oversize', '!truncate', "
            "'!samples [N [FORMAT]]' (structured sample messages)."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address only (default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument(
        "--framing",
        default="le32",
        type=framing_words,
        metavar="SPEC",
        help="length-prefix preset or framing words, e.g. be32 or 'le24,adjust=1' "
        "(default %(default)s: 4-byte little-endian)",
    )
    parser.add_argument("--max-frame-length", type=int, help="override the preset's maximum")
    parser.add_argument(
        "--mode",
        choices=("echo", "classic"),
        default="echo",
        help="echo: reply with the payload; classic: reply "
        f"{CLASSIC_REPLY_PREFIX.decode()!r} + payload (default %(default)s)",
    )
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument(
        "--stream", type=int, default=0, metavar="N", help="on connect, send N numbered frames"
    )
    parser.add_argument("--size", type=int, default=100, help="stream frame size, >= 8 bytes")
    parser.add_argument("--stall", action="store_true", help="accept, never read nor reply")
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve in TLS with a certificate from a throwaway CA made at start; the CA "
        "file's path is printed on stderr (trust it with framewire-engine --cafile PATH)",
    )
    parser.add_argument(
        "--tls-dir",
        metavar="DIR",
        help="with --tls: write the CA (ca.pem) and the server's key and certificate "
        "(server.pem) in DIR (default: a temporary folder, removed at exit)",
    )
    args = parser.parse_args(argv)
    if args.tls_dir is not None and not args.tls:
        parser.error("--tls-dir goes with --tls")
    try:
        args.host = _check_loopback(args.host)
    except ValueError as exc:
        parser.error(str(exc))
    if not 0 <= args.port <= 65535:
        parser.error("--port must be 0..65535")
    if args.delay < 0:
        parser.error("--delay must be >= 0")
    if args.stream < 0 or args.size < _SEQUENCE_BYTES:
        parser.error(f"--stream must be >= 0 and --size >= {_SEQUENCE_BYTES}")
    args.framing = parse_framing(args.framing)
    if args.max_frame_length is not None:
        try:
            args.framing = dataclasses.replace(args.framing, max_frame_length=args.max_frame_length)
        except (ValueError, LocalProtocolError) as exc:
            parser.error(f"--max-frame-length: {exc}")
    if args.stream and args.size > args.framing.payload_limit:
        parser.error(
            f"--size {args.size} does not fit this framing (max {args.framing.payload_limit})"
        )
    return args


async def _run(args: argparse.Namespace, tls: ssl.SSLContext | None = None) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(
                functools.partial(
                    serve_demo,
                    host=args.host,
                    port=args.port,
                    framing=args.framing,
                    mode=args.mode,
                    delay=args.delay,
                    stream=args.stream,
                    size=args.size,
                    stall=args.stall,
                    tls=tls,
                )
            )
            shown = f"[{args.host}]" if ":" in args.host else args.host
            print(f"{LISTENING_PREFIX}{shown}:{port}", flush=True)
            async for signum in signals:
                log.info("%s received, stopping", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo server until SIGINT/SIGTERM or the parent's death; return the exit code."""
    args = _parse_args(argv)
    die_with_parent()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="demo-server: %(message)s")
    with contextlib.ExitStack() as cleanup:
        tls = None
        if args.tls:
            directory = args.tls_dir or cleanup.enter_context(
                tempfile.TemporaryDirectory(prefix="framewire-demo-tls-")
            )
            try:
                certificates = make_demo_certificates(Path(directory))
            except OSError as exc:
                print(f"demo-server: error: cannot write the TLS files: {exc}", file=sys.stderr)
                return 1
            tls = certificates.context()
            log.info(
                "TLS: a throwaway CA made at start signed this server's certificate "
                "(localhost, 127.0.0.1, ::1); trust it with --cafile %s",
                certificates.ca,
            )
        try:
            trio.run(_run, args, tls)
        except OSError as exc:
            print(f"demo-server: error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
