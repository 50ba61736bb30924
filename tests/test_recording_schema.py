"""The CLI's ``--output json --show-sent`` lines and the window's "Save… as JSON lines"
are one schema (docs/recording.md): the same frame gives the same line, key for key."""

from __future__ import annotations

import io
import json

import pytest

from engine.cli.output import Printer
from ui.formatting import log_row_json


@pytest.mark.parametrize(
    ("payload", "encoding"),
    [(b"hello", "utf-8"), (b"\x00\xffbin", "utf-8"), ("héllo".encode("latin-1"), "latin-1")],
)
@pytest.mark.parametrize("direction", ["in", "out"])
def test_cli_and_window_write_the_same_line(payload: bytes, encoding: str, direction: str) -> None:
    out = io.BytesIO()
    printer = Printer("json", 1_700_000_000.0, out, encoding=encoding, framing="be32")
    printer.peer = "127.0.0.1:9000"
    printer.frames(3, direction, [payload], [(0.25, 1)])
    cli = json.loads(out.getvalue())
    window = json.loads(
        log_row_json(
            1_700_000_000.25, "#3", direction, payload,
            peer="127.0.0.1:9000", framing="be32", encoding=encoding,
        )
    )  # fmt: skip
    assert cli == window
    assert set(cli) >= {"v", "t", "session", "dir", "len", "hex", "peer", "framing"}
