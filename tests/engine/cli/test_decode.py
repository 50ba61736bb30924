"""--decode through a real ``python -m engine`` against the demo server's sample messages."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import trio

from tests.engine.cli.helpers import lines, payload, run_cli
from tools.demo_messages import DEMO_MESSAGE_NAME, descriptor_set_bytes
from tools.demo_server import serve_demo


async def start_demo(nursery: trio.Nursery) -> int:
    port: int = await nursery.start(functools.partial(serve_demo, port=0))
    return port


async def test_text_output_shows_each_payloads_summary_and_the_decoder_auto_chose(
    nursery: trio.Nursery,
) -> None:
    port = await start_demo(nursery)
    result = await run_cli(
        f"127.0.0.1:{port}", "--send", "!samples", "--count", "5", "--decode", "auto"
    )
    assert result.returncode == 0, result.stderr
    shown = [payload(line) for line in lines(result.stdout)]
    assert shown[0].startswith(
        '[json] {op: "login", user: "ana", seq: 0, tags: ["demo", "framewire"]'
    )
    assert shown[1].startswith('[msgpack] {op: "move", user: "ben", seq: 1')
    assert shown[2].startswith('[cbor] {op: "logout", user: "chloé", seq: 2')
    assert shown[3].startswith('[protobuf] {1: 1, 2: "dev", 3: 3')  # no schema: field numbers
    assert shown[4].startswith("[hex] <02 00 00 00 04")  # the binary layout, undecoded


async def test_json_lines_gain_the_decoded_value_with_a_schema_and_with_a_layout(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await start_demo(nursery)
    schema = tmp_path / "demo.desc"
    schema.write_bytes(descriptor_set_bytes())
    with_schema = await run_cli(
        f"127.0.0.1:{port}", "--send", "!samples 2 protobuf", "--count", "2", "--output", "json",
        "--proto-descriptor", str(schema), "--proto-message", DEMO_MESSAGE_NAME,
    )  # fmt: skip
    assert with_schema.returncode == 0, with_schema.stderr
    records = [json.loads(line) for line in lines(with_schema.stdout)]
    assert [r["decoder"] for r in records] == ["protobuf", "protobuf"]
    assert records[1]["decoded"] == {
        "op": "MOVE", "user": "ben", "seq": 1, "tags": ["demo", "framewire"],
        "at": {"x": -49, "y": 0.25}, "codes": [200, 405], "blob": "0100feff",
    }  # fmt: skip
    assert records[0]["hex"]  # the bytes stay, losslessly
    as_text = await run_cli(
        f"127.0.0.1:{port}", "--send", "!samples 1 protobuf", "--count", "1",
        "--proto-descriptor", str(schema), "--proto-message", DEMO_MESSAGE_NAME,
    )  # fmt: skip
    assert as_text.returncode == 0, as_text.stderr
    (line,) = lines(as_text.stdout)
    assert payload(line) == (
        '[protobuf] {op: "LOGIN", user: "ana", tags: ["demo", "framewire"], at: {x: -50}, '
        "codes: [200, 404], blob: <00 00 fe ff>}"
    )  # the tags were "[[[[[[…" (a repeated field's summary)
    with_layout = await run_cli(
        f"127.0.0.1:{port}", "--send", "!samples 2 layout", "--count", "2", "--output", "json",
        "--layout", "tools/demo_layout.py:MESSAGE",
    )  # fmt: skip
    assert with_layout.returncode == 0, with_layout.stderr
    decoded = [json.loads(line)["decoded"] for line in lines(with_layout.stdout)]
    assert decoded[0] == {"type": "login", "seq": 0, "body": {"user": "ana", "flags": 0}}
    assert decoded[1]["body"]["waypoints"] == [{"x": -49, "y": 0}, {"x": -48, "y": -1}]
