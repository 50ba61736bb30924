"""Bad command lines exit 2 with a message naming what is wrong, before connecting."""

from __future__ import annotations

import pytest

from tests.engine.cli.helpers import run_cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["127.0.0.1:9", "--send-hex", "zz"], "--send-hex 'zz' is not hexadecimal"),
        ([], "HOST:PORT is required"),
        (["localhost"], "expected HOST:PORT, got 'localhost'"),
        (["127.0.0.1:99999"], "port must be a number in 1..65535, got '99999'"),
        (["::1:9"], "write an IPv6 address in brackets, as [::1]:9"),
        (["127.0.0.1:9", "--timeout", "nan"], "expected a positive number of seconds"),
        (["127.0.0.1:9", "--connect-timeout", "0"], "expected a positive number of seconds"),
        (["127.0.0.1:9", "--framing", "le24"], "invalid choice"),
        (["127.0.0.1:9", "--max-frame", "-1"], "bad framing: max_frame_length"),
        (["127.0.0.1:9", "--file", "/nonexistent/x"], "cannot read --file"),
        (["127.0.0.1:9", "--send", "x" * 300, "--framing", "u8"], "over the framing's limit"),
        (["--stdio", "--stats-interval", "-1"], "--stats-interval must be >= 0"),
        (["127.0.0.1:9", "--proto-message", "a.B"], "needs both the descriptor file and the"),
        (["127.0.0.1:9", "--layout", "nope.py:M"], "layout file nope.py does not exist"),
        (["--stdio", "--stats-interval", "nan"], "--stats-interval must be >= 0"),
    ],
)
async def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = await run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr.decode()
    assert result.stdout == b""
