"""The engine CLI with TLS against the demo server's --tls (a real subprocess each): a
verified run, the tls line of json output, --insecure's warning, exit code 3 with the
cause for an unknown CA and for a plaintext client of the TLS server, 2 for a TLS option
naming a missing file."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.demo_server import spawn_demo_server


@pytest.fixture(scope="module")
def tls_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("demo-tls")
    with spawn_demo_server(
        "--tls", "--tls-dir", str(directory), "--mode", "classic", stderr=subprocess.DEVNULL
    ) as (host, port):
        yield f"{host}:{port}", directory / "ca.pem"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], capture_output=True, text=True, timeout=30
    )


def test_a_verified_run_and_its_tls_line(tls_demo: tuple[str, Path]) -> None:
    address, ca = tls_demo
    run = _run(address, "--cafile", str(ca), "--send", "hello", "--output", "json")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert lines[0]["event"] == "tls" and lines[0]["tls"]["verified"] is True
    assert "verified" in lines[0]["detail"]
    assert "IP:127.0.0.1" in lines[0]["tls"]["peer_cert"]["sans"]
    assert lines[1]["text"] == "hello, client! you said: hello"


def test_insecure_warns_and_marks_the_session(tls_demo: tuple[str, Path]) -> None:
    address, _ = tls_demo
    run = _run(address, "--insecure", "--send", "hello")
    assert run.returncode == 0, run.stderr
    assert "warning: --insecure" in run.stderr and "NOT VERIFIED" in run.stderr
    assert "you said: hello" in run.stdout


def test_an_unknown_ca_is_exit_3_with_the_cause(tls_demo: tuple[str, Path]) -> None:
    address, _ = tls_demo
    run = _run(address, "--tls", "--send", "hello")
    assert run.returncode == 3
    assert "unknown CA" in run.stderr and "--cafile" in run.stderr


def test_tls_options_are_checked_before_connecting(tmp_path: Path) -> None:
    run = _run("127.0.0.1:9", "--cafile", str(tmp_path / "missing.pem"), "--send", "x")
    assert run.returncode == 2 and "cannot read --cafile" in run.stderr


def test_a_plaintext_client_of_a_tls_server_is_exit_3_and_told_to_try_tls(
    tls_demo: tuple[str, Path],
) -> None:
    # The server reads our frame as a broken handshake and closes without a word.
    address, _ = tls_demo
    run = _run(address, "--send", "hello")
    assert run.returncode == 3
    assert "closed the connection early" in run.stderr and "try --tls" in run.stderr
