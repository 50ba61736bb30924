"""The output formats (JSON lines with sent frames, hex), through a real ``python -m
engine``."""

from __future__ import annotations

import json

import trio

from tests.engine.cli.helpers import lines, payload, run_cli
from tests.engine.helpers import (
    echo,
    start_server,
)


async def test_json_output_with_sent_frames_and_hex_for_binary(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo)
    result = await run_cli(
        f"127.0.0.1:{port}", "--send", "hi", "--send-hex", "00ff", "--output", "json",
        "--show-sent",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in lines(result.stdout)]
    # "out" lines are printed once written; a reply may be printed before them.
    for direction, expected in [
        ("out", [(2, "hi", None), (2, None, "00ff")]),
        ("in", [(5, "re:hi", None), (5, None, "72653a00ff")]),
    ]:
        got = [(r["len"], r.get("text"), r.get("hex")) for r in records if r["dir"] == direction]
        assert got == expected
    assert len(records) == 4
    assert {r["session"] for r in records} == {1}
    assert all(isinstance(r["t"], float) for r in records)


async def test_stdin_lines_in_hex_and_hex_output(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo)
    result = await run_cli(
        f"127.0.0.1:{port}", "--stdin", "--input", "hex", "--output", "hex", stdin=b"61\n6262\n"
    )
    assert result.returncode == 0, result.stderr
    assert [payload(line) for line in lines(result.stdout)] == [
        "72653a61",
        "72653a6262",
    ]
