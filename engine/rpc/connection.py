"""One controller's connection: its reader, its writer, its outbox and credit, its stats.

The *reader* decodes requests. Cheap commands (``ping``, ``get_api_info``,
``flow_control``, the ``ack`` notification) are answered inline; every other request
runs in its own task, so a slow ``open`` never delays a ``ping``. At most
``MAX_CONCURRENT_REQUESTS`` run at once; past that the reader stops reading, which
pushes back on the controller through its stream. It also stops while
``MAX_QUEUED_CONTROL_BYTES`` of responses wait for the writer (see ``outbox``).
The *writer* is the only task that writes to the stream: it drains the ``Outbox``.
The *stats* task queues a ``stats`` event every ``stats_interval`` seconds.

Bad input from the controller comes in two kinds (``ipc.codec``). A message that is
well formed MessagePack but wrong (an unknown method, a wrong type, an undecodable
string) gets an error response when it has a msgid, a log line otherwise (at most
``MAX_BAD_INPUT_LINES_PER_SECOND``), and costs only itself. Bytes that break the stream
(a size over its limit, a value that cannot start a message: ``ProtocolViolation``) end
*this channel* (``close_channel``, reason ``protocol_violation``): the replies queued so
far still go out, the request the bytes were part of is answered with ``BadMessage`` if
its msgid could be read, and ``channel_closed`` names the violation and its offset. The
engine, its sessions and any other controller's connection carry on; the stdio engine
exits because its only channel died (``violation`` says why).

``shutdown`` cancels the requests still running (or waiting for a slot) and answers each
with a ``ShuttingDown`` error after the ``shutdown`` response, since the controller still
listens; after EOF nobody does, so they get no answer. While ``server`` then closes the
sessions, ``read_after_shutdown`` keeps reading: ``ack`` still returns credit (the last
events may be more than a window), inline commands are still answered, and every other
request gets ``ShuttingDown``.

Everything here belongs to one controller; the engine-wide parts (the commands, the
event pump) are shared, so a transport with several controllers serves one
``Connection`` per stream, with handlers of its own for what concerns them all
(``extra_handlers``: ``attach``, an engine-wide ``shutdown``). ``close_channel`` ends one
controller's channel with a reason (a ``channel_closed`` notification is its last
message), leaving the engine and the other controllers alone.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import trio

from engine.errors import ConnectFailed, TlsFailed
from engine.rpc.commands import Commands, Handler
from engine.rpc.handshake import hello
from engine.rpc.outbox import Outbox
from ipc.codec import (
    BadMessage,
    ErrorInfo,
    Message,
    MessageDecoder,
    Notification,
    Request,
    decode_command,
    encode_notification,
    encode_response,
)
from ipc.errors import FramewireError, ProtocolViolation, SchemaError
from ipc.rpc import MAX_WINDOW_BYTES
from ipc.schema import (
    Ack,
    ChannelClosed,
    Command,
    FlowControl,
    GetApiInfo,
    Hello,
    Ping,
    Shutdown,
    Stats,
)

if TYPE_CHECKING:
    from engine.engine import Engine

__all__ = ["MAX_CONCURRENT_REQUESTS", "SHUTTING_DOWN", "Connection"]

log = logging.getLogger("framewire.rpc")

#: Bytes per read from the controller: requests are small; a big ``send`` takes a few.
READ_BYTES = 256 * 1024
#: Requests running at once; past this the reader stops reading the stream.
MAX_CONCURRENT_REQUESTS = 1024
#: Lines logged about bad input per second at most; the rest are counted.
MAX_BAD_INPUT_LINES_PER_SECOND = 20
#: The answer to requests cancelled by ``shutdown``.
SHUTTING_DOWN = ErrorInfo("ShuttingDown", "the engine is shutting down")


def _error_info(exc: FramewireError) -> ErrorInfo:
    data: dict[str, Any] = {}
    name = type(exc).__name__
    if isinstance(exc, ConnectFailed):
        data["reason"] = exc.reason
        if isinstance(exc, TlsFailed):  # still a ConnectFailed to controllers (add-only)
            name = "ConnectFailed"
            data["tls_cause"] = exc.cause
    return ErrorInfo(name, str(exc), data)


class Connection:
    """One controller: see the module docstring. The hello is queued first.

    ``name`` is how the log lines speak of it ("controller", "controller 3 (pid 812)").
    """

    def __init__(
        self,
        engine: Engine,
        commands: Commands,
        *,
        extra_handlers: Mapping[type[Command], Handler] | None = None,
        name: str = "controller",
    ) -> None:
        self._engine = engine
        self.name = name
        self._handlers: dict[type[Command], Handler] = {
            **commands.handlers,
            Shutdown: self._shutdown,
            **(extra_handlers or {}),
        }
        self.closed_reason: str | None = None  # set by close_channel
        self.outbox = Outbox()
        self._requests = trio.Semaphore(MAX_CONCURRENT_REQUESTS)
        self._shutdown_requested = trio.Event()
        # Cancelled by `shutdown` or when the controller stops reading; may be cancelled
        # before the reader enters it (then the reader stops at once).
        self._reader_scope = trio.CancelScope()
        # Kept across the reader's restart after `shutdown`: a message may be half read.
        self._decoder = MessageDecoder()
        self._clock_offset = time.time() - trio.current_time()
        self._bad_messages = 0
        #: Why this channel must close: the controller's bytes broke the stream.
        self.violation: ProtocolViolation | None = None
        self._warn_window_start = -math.inf
        self._warn_count = 0
        self._warn_suppressed = 0
        self.outbox.put_control(encode_notification(Hello.METHOD, self._hello().to_params()))

    def _hello(self) -> Hello:
        return hello(clock_offset=self._clock_offset, started_at=self._engine.started_at)

    @property
    def shutdown_requested(self) -> bool:
        """The controller sent ``shutdown`` (the reader has stopped)."""
        return self._shutdown_requested.is_set()

    # -- reading requests

    async def serve_requests(self, stream: trio.abc.ReceiveStream) -> None:
        """Read and run requests until EOF or ``shutdown``; cancels those still running
        (answering each after ``shutdown``)."""
        async with trio.open_nursery() as requests:
            with self._reader_scope:
                await self._read_requests(stream, requests)
            requests.cancel_scope.cancel()

    async def read_after_shutdown(self, stream: trio.abc.ReceiveStream) -> None:
        """Keep reading after ``shutdown`` (acks, inline commands) until EOF; every other
        request gets ``ShuttingDown``."""
        await self._read_requests(stream, None)

    async def _read_requests(
        self, stream: trio.abc.ReceiveStream, requests: trio.Nursery | None
    ) -> None:
        """Read and dispatch until EOF; ``requests`` is None once shutting down.

        Messages already buffered are dispatched before reading more: the reader restarted
        after ``shutdown`` may find some left by the one it replaces (an ack among them
        must not wait for the controller's next write).
        """
        decoder = self._decoder
        while True:
            while True:
                # Replies wait for the writer: stop reading while too many do.
                await self.outbox.wait_control_space()
                try:
                    msg = decoder.next_message()
                except BadMessage as exc:
                    self._on_bad_message(exc, exc.msgid)
                    continue
                except ProtocolViolation as exc:
                    self._on_violation(exc)
                    return
                if msg is None:
                    break
                await self._dispatch(msg, requests)
            try:
                data = await stream.receive_some(READ_BYTES)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                if decoder.buffered_bytes:
                    log.warning("%s closed its channel mid-message", self.name)
                log.info("%s closed its channel", self.name)
                return
            decoder.receive_data(data)

    def _on_bad_message(self, exc: SchemaError, msgid: int | None) -> None:
        self._bad_messages += 1
        if msgid is not None:
            self.outbox.put_control(encode_response(msgid, _error_info(exc)))
        else:
            self._warn("bad message from %s: %s", self.name, exc)

    def _on_violation(self, exc: ProtocolViolation) -> None:
        """The controller's bytes broke the stream: answer the request they were part of,
        then close the channel saying why and where."""
        self._bad_messages += 1
        self.violation = exc
        if exc.msgid is not None:
            self.outbox.put_control(encode_response(exc.msgid, ErrorInfo("BadMessage", str(exc))))
        log.error("closing %s's channel: it broke the IPC protocol: %s", self.name, exc)
        self.close_channel(
            "protocol_violation",
            f"the controller's bytes broke the IPC protocol: {exc}",
            details={"kind": exc.kind, "offset": exc.offset},
            keep_replies=True,
        )

    def _warn(self, message: str, *args: object) -> None:
        """Log a line about bad input, at most ``MAX_BAD_INPUT_LINES_PER_SECOND``: a
        megabyte of garbage must not become a million stderr lines."""
        now = trio.current_time()
        if now - self._warn_window_start >= 1.0:
            if self._warn_suppressed:
                log.warning("(%d more lines about bad input suppressed)", self._warn_suppressed)
            self._warn_window_start, self._warn_count, self._warn_suppressed = now, 0, 0
        if self._warn_count < MAX_BAD_INPUT_LINES_PER_SECOND:
            self._warn_count += 1
            log.warning(message, *args)
        else:
            self._warn_suppressed += 1

    async def _dispatch(self, msg: Message, requests: trio.Nursery | None) -> None:
        if isinstance(msg, Notification):
            if msg.method != Ack.METHOD:
                self._warn("ignoring notification %r from %s", msg.method, self.name)
                return
            try:
                ack = Ack.from_params(msg.params)
                if ack.nbytes < 0:
                    raise SchemaError(f"ack: nbytes must be >= 0, not {ack.nbytes}")
            except SchemaError as exc:
                self._on_bad_message(exc, None)
                return
            self.outbox.ack(ack.nbytes)
            return
        if not isinstance(msg, Request):
            self._warn("ignoring a response from %s (the engine sends no requests)", self.name)
            return
        try:
            command = decode_command(msg)
        except SchemaError as exc:
            self._on_bad_message(exc, msg.msgid)
            return
        if isinstance(command, Ping):
            self._reply(msg.msgid, {"token": command.token, "at": trio.current_time()})
        elif isinstance(command, GetApiInfo):
            self._reply(msg.msgid, self._hello().to_params())
        elif isinstance(command, FlowControl):
            if not 0 < command.window_bytes <= MAX_WINDOW_BYTES:
                # A window the engine can never fill would turn credit off while the
                # controller believes it is on.
                self._on_bad_message(
                    SchemaError(
                        f"flow_control: window_bytes must be from 1 to {MAX_WINDOW_BYTES:,}, "
                        f"not {command.window_bytes}"
                    ),
                    msg.msgid,
                )
            else:
                self.outbox.set_window(command.window_bytes)
                self._reply(msg.msgid, {"window_bytes": command.window_bytes})
        elif isinstance(command, Ack):
            self._on_bad_message(SchemaError("ack is a notification, not a request"), msg.msgid)
        elif requests is None or self._shutdown_requested.is_set():
            self.outbox.put_control(encode_response(msg.msgid, SHUTTING_DOWN))
        else:
            try:
                await self._requests.acquire()
            except trio.Cancelled:
                self._answer_cancelled(msg.msgid)
                raise
            requests.start_soon(self._run_request, msg.msgid, command)

    def _reply(self, msgid: int, result: Any) -> None:
        self.outbox.put_control(encode_response(msgid, None, result))

    async def _run_request(self, msgid: int, command: Command) -> None:
        try:
            result = await self._handlers[type(command)](command)
            # Encoded here: a result too large for one message (a session list with long
            # labels) is this request's error, like any other.
            reply = encode_response(msgid, None, result)
        except FramewireError as exc:
            reply = encode_response(msgid, _error_info(exc))
        except trio.Cancelled:
            self._answer_cancelled(msgid)
            raise
        finally:
            self._requests.release()
        self.outbox.put_control(reply)

    async def _shutdown(self, command: Shutdown) -> dict[str, Any]:
        self.begin_shutdown()
        return {}

    def begin_shutdown(self) -> None:
        """The engine is shutting down: stop reading requests (``serve_requests``
        returns; ``read_after_shutdown`` takes over) and answer the running ones with
        ``ShuttingDown``."""
        self._shutdown_requested.set()
        self._reader_scope.cancel()

    def close_channel(
        self,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        keep_replies: bool = False,
    ) -> None:
        """End this controller's channel: drop what waits for it (but the replies queued
        so far, with ``keep_replies``: the controller may still be reading), queue a
        ``channel_closed`` notification as its last message, stop reading. The transport
        then lets the writer flush that (within a deadline) and closes the stream."""
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        if keep_replies:
            self.outbox.close_events()
        else:
            self.outbox.discard()
        event = ChannelClosed(
            reason=reason, message=message, at=trio.current_time(), details=details or {}
        )
        self.outbox.put_control(encode_notification(event.METHOD, event.to_params()))
        self._reader_scope.cancel()

    def _answer_cancelled(self, msgid: int) -> None:
        """Answer a request cancelled by ``shutdown`` (synchronously: it is being
        cancelled). A cancel for any other reason means nobody listens any more."""
        if self._shutdown_requested.is_set():
            self.outbox.put_control(encode_response(msgid, SHUTTING_DOWN))

    # -- writing

    async def serve_writer(self, stream: trio.abc.SendStream) -> None:
        try:
            await self.outbox.serve_writer(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            # The controller closed its end: nobody is listening, so stop reading too.
            log.info("%s stopped reading its channel", self.name)
            self.outbox.discard()
            self._reader_scope.cancel()

    async def serve_stats(self, interval: float) -> None:
        while True:
            await trio.sleep(interval)
            stats = self._engine.statistics()
            extra: dict[str, Any] = dict(self.outbox.statistics())
            extra["bad_messages"] = self._bad_messages
            event = Stats(
                sessions=stats.sessions,
                frames_in=stats.frames_in,
                bytes_in=stats.bytes_in,
                frames_out=stats.frames_out,
                bytes_out=stats.bytes_out,
                at=trio.current_time(),
                extra=extra,
            )
            await self.outbox.put_event(encode_notification(event.METHOD, event.to_params()), 0)
