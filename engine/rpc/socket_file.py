"""The socket file of a long-lived engine: claimed under a lock, stale ones replaced, live
ones never taken over; and who is at the other end of a connection.

``claim_socket`` runs before the engine's trio loop (plain blocking calls, one thread):

1. the folder: the runtime folder (``ipc.socket_path``) must be ours and 0700; a missing
   folder of any other path is created 0700;
2. ``PATH.lock``, held with ``flock`` for the engine's lifetime, says an engine owns
   ``PATH``: if another holds it, that engine is alive and ``SocketInUse`` names its pid;
   two engines starting at once cannot both win;
3. a socket file already at ``PATH`` belongs to a dead engine (we hold the lock): it is
   replaced, unless it is not a socket or not ours (never touched), or something answers
   on it (a program that takes no lock: ``SocketInUse``);
4. the socket is bound with mode 0600 (the umask is set around ``bind``, so it is never
   open to others, even for an instant).

``ClaimedSocket.release`` removes both files at exit; after a crash they stay behind and
step 3 replaces them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import stat
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ipc.socket_path import SocketPathError, is_live, make_private_folder, runtime_folder

__all__ = [
    "LISTEN_BACKLOG",
    "ClaimedSocket",
    "PeerCredentials",
    "SocketInUse",
    "claim_socket",
    "peer_credentials",
]

#: Connections the kernel queues before the engine accepts them.
LISTEN_BACKLOG = 64
_CLAIM_ATTEMPTS = 3


class SocketInUse(Exception):
    """A live engine (``pid``, when known) already serves at ``path``."""

    def __init__(self, path: Path, pid: int | None) -> None:
        who = f"engine pid {pid}" if pid else "a running program"
        super().__init__(f"{path} is in use by {who}; it is not taken over")
        self.path = path
        self.pid = pid


@dataclass(frozen=True, slots=True)
class PeerCredentials:
    """Who connected, as the kernel saw it at ``connect`` time."""

    pid: int
    uid: int
    gid: int


@dataclass(slots=True)
class ClaimedSocket:
    """A listening socket at ``path`` and the lock that makes it ours."""

    path: Path
    listener: socket.socket
    replaced_stale: bool
    _lock_fd: int
    _inode: int
    _released: bool = False

    def release(self) -> None:
        """Remove the socket file (if it is still the one we bound) and the lock file;
        once (later calls do nothing).

        The listener itself is closed by whoever serves it; call this once it is.
        """
        if self._released:
            return
        self._released = True
        with contextlib.suppress(OSError):
            if self.path.lstat().st_ino == self._inode:
                self.path.unlink()
        # Unlinked while still held: an engine starting now opens a fresh lock file.
        with contextlib.suppress(OSError):
            _lock_path(self.path).unlink()
        os.close(self._lock_fd)


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def claim_socket(path: Path) -> ClaimedSocket:
    """Claim ``path`` and listen there (see the module docstring).

    Raises:
        SocketInUse: a live engine (or another program) serves at ``path``.
        SocketPathError: the folder is not usable, or ``path`` is something we must not
            replace (not a socket, someone else's).
    """
    folder = path.parent
    if folder == runtime_folder() or not folder.exists():
        make_private_folder(folder)
    lock_fd = _lock(path)
    try:
        replaced = _clear_stale(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            umask = os.umask(0o177)
            try:
                listener.bind(os.fspath(path))
            finally:
                os.umask(umask)
            os.chmod(path, 0o600)
            listener.listen(LISTEN_BACKLOG)
            inode = path.lstat().st_ino
        except OSError as exc:
            listener.close()
            raise SocketPathError(f"cannot listen at {path}: {exc.strerror}") from None
    except BaseException:
        os.close(lock_fd)
        raise
    return ClaimedSocket(path, listener, replaced, lock_fd, inode)


def _lock(path: Path) -> int:
    """Take ``PATH.lock`` (and write our pid in it); return its fd."""
    lock_path = _lock_path(path)
    for _ in range(_CLAIM_ATTEMPTS):
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise SocketPathError(f"cannot open {lock_path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise SocketInUse(path, pid) from None
        try:
            same_file = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same_file = False
        if same_file:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)  # its owner removed it as we opened it: take the new one
    raise SocketPathError(f"{lock_path} keeps changing; is another engine starting there?")


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _clear_stale(path: Path) -> bool:
    """Remove a dead engine's socket at ``path``; True if there was one."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    if not stat.S_ISSOCK(info.st_mode):
        raise SocketPathError(f"{path} exists and is not a socket; it is left alone")
    if info.st_uid != os.getuid():
        raise SocketPathError(f"{path} belongs to uid {info.st_uid}; it is left alone")
    if is_live(path):
        raise SocketInUse(path, None)
    path.unlink()
    return True


class _Socket(Protocol):
    def getsockopt(self, level: int, option: int, buflen: int, /) -> bytes: ...


def peer_credentials(sock: _Socket) -> PeerCredentials | None:
    """The peer of a connected Unix socket (Linux ``SO_PEERCRED``); None where the
    platform does not say."""
    if not sys.platform.startswith("linux"):
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return PeerCredentials(pid, uid, gid)
