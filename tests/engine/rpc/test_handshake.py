"""The hello, ``get_api_info`` and ``--api-info`` tell the same thing."""

from __future__ import annotations

import json
import subprocess
import sys

import trio

from engine.rpc.handshake import api_info
from ipc.schema import EVENTS, PROTOCOL_VERSION
from tests.ipc.helpers import open_raw_engine


async def test_hello_comes_first_and_matches_get_api_info() -> None:
    with trio.fail_after(20):
        async with open_raw_engine() as engine:
            info = await engine.call(1, "get_api_info", {})
            assert info.result["protocol_version"] == PROTOCOL_VERSION
            assert info.result["pid"] == engine.process.pid
            assert set(info.result["events"]) == set(EVENTS)
            assert "le32" in info.result["framing_presets"]


def test_api_info_cli_prints_json() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "engine", "--api-info"],
        capture_output=True,
        check=True,
        timeout=30,
        text=True,
    ).stdout
    printed = json.loads(out)
    expected = api_info()
    assert {k: v for k, v in printed.items() if k != "pid"} == {
        k: v for k, v in expected.items() if k != "pid"
    }
