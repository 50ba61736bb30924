"""framewire's IPC: the one schema of commands and events, and the MessagePack-RPC codec.

Layout: ``schema`` holds every command and event (the contract between the engine, the
GUI and any other controller); ``codec`` turns bytes into typed messages and back,
without I/O, with ``header_guard`` checking each declared size against the limits as it
arrives; ``rpc`` is the controller-side msgid/credit bookkeeping; ``errors`` is the
root of the exception tree. The core imports neither trio nor Qt. Two small adapters
do: ``ipc.trio_channel`` (the only trio import here) and ``ipc.qt_channel`` (the only Qt
import); import them explicitly. The protocol is documented in ``docs/ipc.md``.

The names below are loaded on first use (``ipc.lazy_exports``): importing one module of
the package does not import the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipc.lazy_exports import exports, lazy_module_attributes

if TYPE_CHECKING:
    from ipc.codec import (
        BadMessage as BadMessage,
        ErrorInfo as ErrorInfo,
        MessageDecoder as MessageDecoder,
        MessageType as MessageType,
        Notification as Notification,
        Request as Request,
        Response as Response,
        UnknownMethod as UnknownMethod,
        encode as encode,
    )
    from ipc.errors import (
        FramewireError as FramewireError,
        LocalProtocolError as LocalProtocolError,
        ProtocolError as ProtocolError,
        ProtocolViolation as ProtocolViolation,
        RemoteProtocolError as RemoteProtocolError,
        SchemaError as SchemaError,
    )
    from ipc.rpc import (
        ClientConnection as ClientConnection,
        CommandFailed as CommandFailed,
        credit_cost as credit_cost,
    )
    from ipc.schema import (
        COMMANDS as COMMANDS,
        EVENTS as EVENTS,
        PROTOCOL_VERSION as PROTOCOL_VERSION,
    )

_EXPORTS = {
    **exports(
        "ipc.codec",
        (
            "BadMessage",
            "ErrorInfo",
            "MessageDecoder",
            "MessageType",
            "Notification",
            "Request",
            "Response",
            "UnknownMethod",
            "encode",
        ),
    ),
    **exports(
        "ipc.errors",
        (
            "FramewireError",
            "LocalProtocolError",
            "ProtocolError",
            "ProtocolViolation",
            "RemoteProtocolError",
            "SchemaError",
        ),
    ),
    **exports("ipc.rpc", ("ClientConnection", "CommandFailed", "credit_cost")),
    **exports("ipc.schema", ("COMMANDS", "EVENTS", "PROTOCOL_VERSION")),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_module_attributes(__name__, _EXPORTS, globals())
