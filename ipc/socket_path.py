"""Where long-lived engines listen: the Unix-socket paths that ``framewire-engine
--serve-ipc``, ``--attach``, ``--list-engines``, ``framewire-gui --attach`` and the
launcher agree on (stdlib only: neither trio nor Qt).

Engines listen in a private folder: ``$XDG_RUNTIME_DIR/framewire/`` when the session has
a runtime directory, else ``framewire-UID/`` in the temporary directory (``$TMPDIR`` or
``/tmp``). Either is created mode 0700 and used only while it is a real folder owned by
this user and closed to everyone else. The default engine's socket is ``engine.sock``
there; ``NAME`` (no slash) means ``NAME.sock`` there, so several engines can run and be
listed; a value with a slash is a path of its own choosing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "DEFAULT_NAME",
    "MAX_SOCKET_PATH_BYTES",
    "SUFFIX",
    "NoEngine",
    "SocketPathError",
    "check_private_folder",
    "engine_sockets",
    "find_engine",
    "is_live",
    "make_private_folder",
    "runtime_folder",
    "socket_path",
]

DEFAULT_NAME = "engine"
SUFFIX = ".sock"
#: ``sun_path`` holds 108 bytes on Linux (104 on macOS and the BSDs), the final NUL included.
MAX_SOCKET_PATH_BYTES = 107 if sys.platform.startswith("linux") else 103
#: How long ``is_live`` waits for a connection (a live engine's kernel queue answers at
#: once, even while the engine is busy or stopped).
PROBE_SECONDS = 1.0


class SocketPathError(Exception):
    """The socket path cannot be used; the message says why, for a person."""


class NoEngine(SocketPathError):
    """No engine runs where one was looked for."""


def runtime_folder(environ: Mapping[str, str] = os.environ) -> Path:
    """The folder engines listen in by default (see the module docstring)."""
    runtime = environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        return Path(runtime) / "framewire"
    return Path(tempfile.gettempdir()) / f"framewire-{os.getuid()}"


def socket_path(spec: str | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The socket ``spec`` names: None for the default engine, a NAME (no slash) for
    ``NAME.sock`` in the runtime folder, anything with a slash for that path.

    Raises:
        SocketPathError: an empty name, or a path too long for a Unix socket.
    """
    if spec is None:
        path = runtime_folder(environ) / (DEFAULT_NAME + SUFFIX)
    elif "/" in spec:
        path = Path(spec).absolute()
    elif spec.strip(".") == "":
        raise SocketPathError(f"{spec!r} is not an engine name")
    else:
        path = runtime_folder(environ) / (spec if spec.endswith(SUFFIX) else spec + SUFFIX)
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        raise SocketPathError(
            f"{path}: too long for a Unix socket ({len(os.fsencode(path))} bytes, at most "
            f"{MAX_SOCKET_PATH_BYTES}); choose a shorter path"
        )
    return path


def check_private_folder(folder: Path) -> None:
    """Make sure ``folder`` is a folder (not a link) owned by this user and closed to
    others; a folder of ours with looser permissions is closed (0700).

    Raises:
        SocketPathError: it is missing, not a folder, or someone else's.
    """
    try:
        info = folder.lstat()
    except OSError as exc:
        raise SocketPathError(f"{folder}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise SocketPathError(f"{folder} is not a folder (a link or a file is not used)")
    if info.st_uid != os.getuid():
        raise SocketPathError(
            f"{folder} belongs to uid {info.st_uid}, not to you (uid {os.getuid()}): "
            "refusing to use it for engine sockets"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` with mode 0700 if it is missing (its parents as needed), then
    ``check_private_folder`` it.

    Raises:
        SocketPathError: it cannot be created, or it is not private (see above).
    """
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise SocketPathError(f"cannot create {folder}: {exc.strerror}") from None
    check_private_folder(folder)


def engine_sockets(environ: Mapping[str, str] = os.environ) -> list[Path]:
    """The sockets in the runtime folder (live or stale: see ``is_live``), by name."""
    folder = runtime_folder(environ)
    try:
        check_private_folder(folder)
    except SocketPathError:
        return []
    return sorted(p for p in folder.glob("*" + SUFFIX) if p.is_socket())


def is_live(path: Path, timeout: float = PROBE_SECONDS) -> bool:
    """Whether something accepts connections on the Unix socket ``path`` (a socket file
    left by an engine that died refuses them)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect(os.fspath(path))
        except OSError:
            return False
        with contextlib.suppress(OSError):
            probe.shutdown(socket.SHUT_RDWR)
        return True


def find_engine(spec: str | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The socket of the engine to attach to: ``socket_path(spec)``; without ``spec``,
    the default engine's, or else the only engine running in the runtime folder.

    Raises:
        NoEngine: no such engine (the message says how to start one).
        SocketPathError: several engines and none named (the message lists them), or a
            name that cannot be a socket.
    """
    path = socket_path(spec, environ)
    if spec is not None:
        if not path.exists():
            raise NoEngine(
                f"no engine at {path} (start one with: framewire-engine --serve-ipc {spec})"
            )
        return path
    if path.exists():
        return path
    live = [p for p in engine_sockets(environ) if is_live(p)]
    if len(live) == 1:
        return live[0]
    if not live:
        raise SocketPathError(
            f"no engine is running in {path.parent} (start one with: framewire-engine --serve-ipc)"
        )
    names = ", ".join(p.stem for p in live)
    raise SocketPathError(f"several engines are running ({names}): name the one to attach to")
