"""The hello: the first message to every controller, also ``get_api_info``'s answer and
what ``framewire-engine --api-info`` prints."""

from __future__ import annotations

import importlib.metadata
import os
from typing import Any

from ipc.framing import PRESETS
from ipc.schema import COMMANDS, EVENTS, PROTOCOL_VERSION, Hello

__all__ = ["api_info", "hello"]


def _engine_version() -> str:
    try:
        return importlib.metadata.version("framewire")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def hello(*, clock_offset: float, started_at: float = 0.0) -> Hello:
    """The handshake: protocol and engine versions, pid, methods, events, presets, and
    when the engine started (``started_at``, on its clock)."""
    return Hello(
        protocol_version=PROTOCOL_VERSION,
        engine_version=_engine_version(),
        pid=os.getpid(),
        methods=sorted(COMMANDS),
        events=sorted(EVENTS),
        framing_presets={name: spec.to_wire() for name, spec in PRESETS.items()},
        clock_offset=clock_offset,
        started_at=started_at,
    )


def api_info() -> dict[str, Any]:
    """What ``framewire-engine --api-info`` prints: the hello's fields. Outside a running
    engine there is no engine clock, so ``clock_offset`` is 0.0 here."""
    return hello(clock_offset=0.0).to_params()
