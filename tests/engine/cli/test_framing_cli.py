"""Framing from the command line: extended specs, the diagnosis in the error line
(issue 15 part 2, issue 17 item 5), --guess-framing, encodings, capture and pcapng."""

from __future__ import annotations

import json
from pathlib import Path

import trio
from scapy.layers.inet import TCP
from scapy.utils import rdpcap

from ipc.framing import PRESETS, encode_frame, encode_frames
from tests.engine.cli.helpers import lines, payload, run_cli
from tests.engine.helpers import echo_with, reply_then_close, sleep_forever, start_server

GREETING = encode_frame(b"welcome, client!", PRESETS["be32"])


async def test_a_be32_greeting_read_as_le32_names_be32_in_the_error(
    nursery: trio.Nursery,
) -> None:
    port = await start_server(nursery, reply_then_close(GREETING))
    result = await run_cli(f"127.0.0.1:{port}")
    assert result.returncode == 4
    assert lines(result.stderr) == [
        "framewire-engine: frame length 268435456 > max 8388608: as be32, these 20 bytes "
        "are 1 whole frame: try --framing be32"
    ]


async def test_be16_against_a_be32_reply_warns_instead_of_passing_silently(
    nursery: trio.Nursery,
) -> None:
    reply = encode_frame(b"hello, client! you said: hello", PRESETS["be32"])
    port = await start_server(nursery, reply_then_close(reply))
    result = await run_cli(f"127.0.0.1:{port}", "--framing", "be16", "--send", "hello")
    assert result.returncode == 0, result.stderr
    assert payload(lines(result.stdout)[0]) == ""  # what be16 makes of the be32 header
    assert lines(result.stderr) == [
        "framewire-engine: warning: as be32, these 34 bytes are 1 whole frame: try --framing be32"
    ]


async def test_an_extended_spec_in_words_and_an_encoding(nursery: trio.Nursery) -> None:
    spec = PRESETS["pg"]
    port = await start_server(nursery, echo_with(spec))
    result = await run_cli(
        f"127.0.0.1:{port}", "--framing", "be32,offset=1,adjust=-4", "--encoding", "cp037",
        "--send", "QHELLO", "--output", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (record,) = [json.loads(line) for line in lines(result.stdout)]
    assert record["text"] == (b"re:" + "QHELLO".encode("cp037")).decode("cp037")
    assert record["enc"] == "cp037" and record["framing"] == "pg"
    assert bytes.fromhex(record["hex"]) == b"re:" + "QHELLO".encode("cp037")


async def test_guess_framing_ranks_what_the_server_sends(nursery: trio.Nursery) -> None:
    port = await start_server(
        nursery, reply_then_close(encode_frames([b"one", b"two", b"welcome, client!"]))
    )
    result = await run_cli(f"127.0.0.1:{port}", "--guess-framing")
    assert result.returncode == 0, result.stderr
    out = lines(result.stdout)
    assert out[0] == f"127.0.0.1:{port}: 34 bytes"
    best = out[out.index("framings that parse them, best first:") + 1].split()
    assert best[0] == "le32"
    assert out[-1].endswith("--framing le32")


async def test_guess_framing_says_when_the_server_waits_or_speaks_http(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await start_server(nursery, sleep_forever)
    silent = await run_cli(f"127.0.0.1:{port}", "--guess-framing", "--timeout", "0.3")
    assert silent.returncode == 5
    assert "sent nothing in 0.3 s: it may wait for a request first" in silent.stderr.decode()
    dump = tmp_path / "reply.bin"
    dump.write_bytes(b"HTTP/1.0 400 Bad Request\r\n\r\n")
    http = await run_cli("--guess-from", str(dump))
    assert http.returncode == 0
    assert "answered with an HTTP/1.0 response ('HTTP/1.0 400 Bad Request')" in http.stdout.decode()


async def test_capture_then_pcapng(nursery: trio.Nursery, tmp_path: Path) -> None:
    port = await start_server(nursery, echo_with(PRESETS["be16"]))
    capture, pcap = tmp_path / "cap.jsonl", tmp_path / "cap.pcapng"
    run = await run_cli(
        f"127.0.0.1:{port}", "--framing", "be16", "--send", "ping", "--capture", str(capture)
    )
    assert run.returncode == 0, run.stderr
    kinds = [json.loads(line).get("event") or json.loads(line)["dir"] for line in capture.open()]
    assert kinds == ["engine", "open", "out", "in", "close"]
    export = await run_cli("--to-pcapng", str(capture), str(pcap))
    assert export.returncode == 0, export.stderr
    data = [bytes(p[TCP].payload) for p in rdpcap(str(pcap)) if len(p[TCP].payload)]
    assert data == [b"\x00\x04ping", b"\x00\x07re:ping"]
