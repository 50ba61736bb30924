"""The output formats (JSON lines with sent frames, hex), through a real ``python -m
engine``."""

from __future__ import annotations

import json
import re
from datetime import datetime
from io import BytesIO

import trio

from engine.cli.output import Printer
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
    # The recording format: hex always (lossless), text only when it decodes.
    for direction, expected in [
        ("out", [(2, "hi", "6869"), (2, None, "00ff")]),
        ("in", [(5, "re:hi", "72653a6869"), (5, None, "72653a00ff")]),
    ]:
        got = [(r["len"], r.get("text"), r.get("hex")) for r in records if r["dir"] == direction]
        assert got == expected
    assert len(records) == 4
    assert {r["session"] for r in records} == {1}
    assert {(r["v"], r["peer"], r["framing"]) for r in records} == {
        (1, f"127.0.0.1:{port}", "le32")
    }
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


def test_each_frame_is_printed_with_its_own_time_in_the_chosen_style() -> None:
    """Item 7: frames of two reads keep their reads' times; iso has a full date."""

    # 1 hour past midnight UTC on 2026-11-24, as engine time 100.0 + offset
    unix = datetime.fromisoformat("2026-11-24T01:00:00+00:00").timestamp()
    spans = [(100.0, 2), (100.25, 1)]
    lines_by_style = {}
    for style in ("time", "iso", "unix", "none"):
        out = BytesIO()
        Printer("text", unix - 100.0, out, timestamps=style).frames(
            1, "in", [b"a", b"b", b"c"], spans
        )
        lines_by_style[style] = out.getvalue().decode().splitlines()
    assert lines_by_style["unix"] == [
        f"{unix:.6f} < a",
        f"{unix:.6f} < b",
        f"{unix + 0.25:.6f} < c",
    ]
    assert lines_by_style["none"] == ["< a", "< b", "< c"]
    iso = [datetime.fromisoformat(line.split()[0]) for line in lines_by_style["iso"]]
    assert [t.timestamp() for t in iso] == [unix, unix, unix + 0.25]
    assert all(t.tzinfo is not None for t in iso)  # a full date with its UTC offset
    local = [datetime.fromtimestamp(t) for t in (unix, unix, unix + 0.25)]
    assert [line.split()[0] for line in lines_by_style["time"]] == [
        t.strftime("%H:%M:%S.%f") for t in local
    ]


def test_json_lines_carry_each_frame_s_own_time() -> None:

    out = BytesIO()
    Printer("json", 1000.0, out).frames(2, "in", [b"a", b"\xff"], [(1.0, 1), (2.5, 1)])
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    # The recording format: hex always (lossless), text when it decodes.
    assert [(r["t"], r.get("text"), r.get("hex")) for r in records] == [
        (1001.0, "a", "61"),
        (1002.5, None, "ff"),
    ]


async def test_iso_timestamps_end_to_end(nursery: trio.Nursery) -> None:
    port = await start_server(nursery, echo)
    result = await run_cli(f"127.0.0.1:{port}", "--send", "hi", "--timestamps", "iso")
    assert result.returncode == 0, result.stderr
    (line,) = lines(result.stdout)
    stamp, arrow, text = line.split(" ")
    assert (arrow, text) == ("<", "re:hi")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d", stamp), stamp
