"""Where engines listen, as every program resolves it: the runtime folder, names and
paths, and which engine ``--attach`` picks when none is named."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

from ipc.socket_path import (
    MAX_SOCKET_PATH_BYTES,
    SocketPathError,
    engine_sockets,
    find_engine,
    is_live,
    runtime_folder,
    socket_path,
)


def test_the_runtime_folder_is_under_xdg_runtime_dir_else_the_temp_dir(tmp_path: Path) -> None:
    assert runtime_folder({"XDG_RUNTIME_DIR": str(tmp_path)}) == tmp_path / "framewire"
    fallback = Path(tempfile.gettempdir()) / f"framewire-{os.getuid()}"
    assert runtime_folder({}) == fallback
    assert runtime_folder({"XDG_RUNTIME_DIR": "relative/dir"}) == fallback
    assert runtime_folder({"XDG_RUNTIME_DIR": str(tmp_path / "missing")}) == fallback


def test_names_live_in_the_runtime_folder_and_paths_where_they_say(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    folder = tmp_path / "framewire"
    assert socket_path(None, env) == folder / "engine.sock"
    assert socket_path("work", env) == folder / "work.sock"
    assert socket_path("work.sock", env) == folder / "work.sock"
    assert socket_path("./here.sock", env) == Path.cwd() / "here.sock"
    assert socket_path("/run/x/e.sock", env) == Path("/run/x/e.sock")
    with pytest.raises(SocketPathError, match="not an engine name"):
        socket_path("..", env)
    with pytest.raises(SocketPathError, match="too long for a Unix socket"):
        socket_path("/" + "x" * MAX_SOCKET_PATH_BYTES, env)


def _listen(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(os.fspath(path))
    sock.listen()
    return sock


def test_attach_without_a_name_finds_the_default_or_the_only_live_engine(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    folder = tmp_path / "framewire"
    with pytest.raises(SocketPathError, match="no engine is running"):
        find_engine(None, env)
    folder.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(os.fspath(folder / "old.sock"))
    stale.close()
    with _listen(folder / "work.sock"):
        assert is_live(folder / "work.sock") and not is_live(folder / "old.sock")
        assert engine_sockets(env) == [folder / "old.sock", folder / "work.sock"]
        assert find_engine(None, env) == folder / "work.sock"
        with _listen(folder / "play.sock"):
            with pytest.raises(SocketPathError, match=r"several engines .*\(play, work\)"):
                find_engine(None, env)
            with _listen(folder / "engine.sock"):
                assert find_engine(None, env) == folder / "engine.sock"
    with pytest.raises(SocketPathError, match="--serve-ipc nothere"):
        find_engine("nothere", env)
