"""Claiming a long-lived engine's socket: permissions, stale sockets replaced, live ones
(ours or anyone's) never taken over, things that are not ours left alone."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from engine.rpc.socket_file import SocketInUse, claim_socket, peer_credentials
from ipc.socket_path import SocketPathError, runtime_folder


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_socket_is_0600_in_a_0700_folder_and_both_files_go_on_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    path = runtime_folder() / "engine.sock"
    claimed = claim_socket(path)
    try:
        assert _mode(path.parent) == 0o700
        assert stat.S_ISSOCK(path.lstat().st_mode) and _mode(path) == 0o600
        assert _mode(path.with_name("engine.sock.lock")) == 0o600
        assert path.with_name("engine.sock.lock").read_text() == f"{os.getpid()}\n"
    finally:
        claimed.listener.close()
        claimed.release()
    assert list(path.parent.iterdir()) == []


def test_the_socket_is_never_open_to_others_even_before_its_chmod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A user whose umask is 000, and a chmod that does not happen: the mode the socket
    # is born with must already be 0600.
    monkeypatch.setattr(os, "chmod", lambda *args, **kwargs: None)
    umask = os.umask(0)
    try:
        claimed = claim_socket(tmp_path / "e.sock")
        assert os.umask(0) == 0  # the user's umask is back after the bind
    finally:
        os.umask(umask)
    try:
        assert _mode(claimed.path) == 0o600
    finally:
        claimed.listener.close()
        claimed.release()


def test_a_runtime_folder_open_to_others_is_closed_and_one_of_another_user_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    folder = runtime_folder()
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    claimed = claim_socket(folder / "engine.sock")
    claimed.listener.close()
    claimed.release()
    assert _mode(folder) == 0o700
    os.chown(folder, 65534, 65534)
    with pytest.raises(SocketPathError, match="belongs to uid 65534"):
        claim_socket(folder / "engine.sock")


def test_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "e.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(os.fspath(path))  # an engine that died: the file stays, nobody listens
    dead.close()
    claimed = claim_socket(path)
    try:
        assert claimed.replaced_stale
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(os.fspath(path))  # the new engine listens there now
    finally:
        claimed.listener.close()
        claimed.release()


def test_a_live_engine_is_never_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "e.sock"
    first = claim_socket(path)
    try:
        with pytest.raises(SocketInUse) as in_use:
            claim_socket(path)
        assert in_use.value.pid == os.getpid() and "not taken over" in str(in_use.value)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(os.fspath(path))
            server, _ = first.listener.accept()  # still the first engine's socket
            server.close()
    finally:
        first.listener.close()
        first.release()


def test_a_socket_another_program_serves_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "e.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        other.bind(os.fspath(path))
        other.listen()
        with pytest.raises(SocketInUse, match="a running program"):
            claim_socket(path)
        assert path.exists()


def test_what_is_not_a_socket_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "e.sock"
    path.write_text("precious")
    with pytest.raises(SocketPathError, match="not a socket"):
        claim_socket(path)
    assert path.read_text() == "precious"


def test_peer_credentials_name_the_connecting_process(tmp_path: Path) -> None:
    path = tmp_path / "e.sock"
    claimed = claim_socket(path)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(os.fspath(path))
            server, _ = claimed.listener.accept()
            with server:
                creds = peer_credentials(server)
        assert creds is not None
        assert (creds.pid, creds.uid, creds.gid) == (os.getpid(), os.getuid(), os.getgid())
    finally:
        claimed.listener.close()
        claimed.release()
