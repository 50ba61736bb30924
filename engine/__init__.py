"""framewire's network engine: Trio, many TCP sessions with length-prefixed framing.

Layout: ``session`` runs one TCP session around ``ipc.framing``'s sans-IO codec
(re-exported here: ``PRESETS``, ``FramingSpec``...), whatever its role (``streams``:
where its stream comes from; ``listener``, ``relay``, ``forward``, ``limits``, ``role``:
the server and relay roles); ``engine`` owns the sessions and listeners and is the
public async API (``capture`` writes its events to a file); the ``rpc``
package serves that API to a controller (the GUI) over MessagePack-RPC; the ``cli``
package is the headless command line (``python -m engine``). This package never imports
PySide6.

    async with open_engine() as engine:
        sid = await engine.connect("127.0.0.1", 9000)
        await engine.send(sid, [b"hello"])
        async for event in engine.events: ...

The names below are loaded on first use (``ipc.lazy_exports``), so ``import engine.cli``
costs only what the command line's mode imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipc.lazy_exports import exports, lazy_module_attributes

if TYPE_CHECKING:
    from engine.engine import (
        EVENT_BUFFER as EVENT_BUFFER,
        SHUTDOWN_GRACE_SECONDS as SHUTDOWN_GRACE_SECONDS,
        Engine as Engine,
        EngineStatistics as EngineStatistics,
        open_engine as open_engine,
    )
    from engine.errors import (
        ConnectFailed as ConnectFailed,
        EngineError as EngineError,
        ListenFailed as ListenFailed,
        SessionBroken as SessionBroken,
        SessionClosed as SessionClosed,
        TooManySessions as TooManySessions,
        UnknownListener as UnknownListener,
        UnknownSession as UnknownSession,
    )
    from engine.limits import Limits as Limits
    from ipc.framing import (
        DEFAULT as DEFAULT,
        DEFAULT_MAX_FRAME_LENGTH as DEFAULT_MAX_FRAME_LENGTH,
        PRESETS as PRESETS,
        FrameDecoder as FrameDecoder,
        FramingSpec as FramingSpec,
        encode_frame as encode_frame,
        encode_frames as encode_frames,
    )

_EXPORTS = {
    **exports(
        "engine.engine",
        ("EVENT_BUFFER", "SHUTDOWN_GRACE_SECONDS", "Engine", "EngineStatistics", "open_engine"),
    ),
    **exports(
        "engine.errors",
        (
            "ConnectFailed",
            "EngineError",
            "ListenFailed",
            "SessionBroken",
            "SessionClosed",
            "TooManySessions",
            "UnknownListener",
            "UnknownSession",
        ),
    ),
    **exports("engine.limits", ("Limits",)),
    **exports(
        "ipc.framing",
        (
            "DEFAULT",
            "DEFAULT_MAX_FRAME_LENGTH",
            "PRESETS",
            "FrameDecoder",
            "FramingSpec",
            "encode_frame",
            "encode_frames",
        ),
    ),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_module_attributes(__name__, _EXPORTS, globals())
