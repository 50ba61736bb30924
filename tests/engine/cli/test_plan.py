"""Bad command lines exit 2 with one line naming what is wrong, before connecting."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.main import main
from engine.cli.parse import build_parser
from engine.cli.plan import REPLY_TIMEOUT_SECONDS, make_plan
from tests.engine.cli.helpers import run_cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["127.0.0.1:9", "--send-hex", "zz"], "--send-hex 'zz': 'z' at column 1 is not a hex"),
        # an odd number of digits is said as such (issue 17, item 11)
        (["127.0.0.1:9", "--send-hex", "abc"], "--send-hex 'abc': odd number of hex digits (3)"),
        ([], "HOST:PORT is required"),
        (["localhost"], "expected HOST:PORT, got 'localhost'"),
        (["127.0.0.1:99999"], "port must be a number in 1..65535, got '99999'"),
        (["::1:9"], "write an IPv6 address in brackets, as [::1]:9"),
        (["127.0.0.1:9", "--timeout", "nan"], "expected 0 or a positive number of seconds"),
        (["127.0.0.1:9", "--timeout", "-1"], "expected 0 or a positive number of seconds"),
        (["127.0.0.1:9", "--connect-timeout", "0"], "expected a positive number of seconds"),
        (["127.0.0.1:9", "--framing", "le33"], "unknown framing 'le33'"),
        (["127.0.0.1:9", "--framing", "be32,offset=x"], "offset='x': not a number"),
        (["127.0.0.1:9", "--length-size", "5"], "must be 1, 2, 3, 4, 8 or varint"),
        (["127.0.0.1:9", "--length-varint", "--length-includes-header"], "cannot count"),
        (["127.0.0.1:9", "--framing", "pg", "--send", ""], "shorter than the 1 bytes before"),
        (["127.0.0.1:9", "--strip", "2", "--send", "x"], "frames cannot be sent with it"),
        (["127.0.0.1:9", "--encoding", "koi8"], "unknown text encoding 'koi8'"),
        (["127.0.0.1:9", "--encoding", "latin-1", "--send", "€"], "cannot be written in Latin-1"),
        (["--guess-from", "/nonexistent/x"], "cannot read --guess-from"),
        (["--to-pcapng", "/nonexistent/x", "/tmp/x.pcapng"], "--to-pcapng: /nonexistent/x"),
        # the option as typed, not the field inside (it said "max_frame_length must be")
        (["127.0.0.1:9", "--max-frame", "-1"], "bad framing: --max-frame must be an int"),
        (["127.0.0.1:9", "--max-frame", "2000000000"], "--max-frame must be an int from 1 to"),
        (["127.0.0.1:9", "--file", "/nonexistent/x"], "cannot read --file /nonexistent/x"),
        (["127.0.0.1:9", "--file-frame", "/nonexistent/x"], "cannot read --file-frame"),
        # the limit is named (issue 17, item 11)
        (
            ["127.0.0.1:9", "--send", "x" * 300, "--framing", "u8"],
            "a frame of 300 bytes is over the limit of u8: 255 bytes",
        ),
        (["127.0.0.1:9", "--output", "raw", "--show-sent"], "--show-sent does not go with"),
        (["127.0.0.1:9", "--timestamps", "utc"], "invalid choice: 'utc'"),
        (["127.0.0.1:9", "--proto-message", "a.B"], "needs both the descriptor file and the"),
        (["127.0.0.1:9", "--layout", "nope.py:M"], "layout file nope.py does not exist"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert message in err
    # one line, not the whole usage (issue 17, item 11)
    assert err.count("\n") == 1 and err.startswith("framewire-engine: error: "), err
    assert err.rstrip().endswith("(see framewire-engine --help)")
    assert out == ""


@pytest.mark.parametrize(
    "args",
    [["--stdio", "--stats-interval", "-1"], ["--stdio", "--stats-interval", "nan"]],
)
async def test_a_bad_stats_interval_exits_2(args: list[str]) -> None:
    result = await run_cli(*args)
    assert result.returncode == 2
    assert b"--stats-interval must be >= 0" in result.stderr
    assert result.stderr.count(b"\n") == 1
    assert result.stdout == b""


def plan_of(*argv: str):  # type: ignore[no-untyped-def]
    return make_plan(build_parser().parse_args(list(argv)))


def test_a_run_that_sends_gets_the_default_reply_timeout_and_a_listener_none() -> None:
    assert plan_of("127.0.0.1:9", "--send", "x").reply_timeout == REPLY_TIMEOUT_SECONDS
    assert plan_of("127.0.0.1:9", "--stdin").reply_timeout == REPLY_TIMEOUT_SECONDS
    listening = plan_of("127.0.0.1:9", "--count", "3")
    assert listening.reply_timeout is None and listening.timeout is None
    # --timeout replaces the default; --timeout 0 waits forever
    explicit = plan_of("127.0.0.1:9", "--send", "x", "--timeout", "2.5")
    assert (explicit.timeout, explicit.reply_timeout) == (2.5, None)
    never = plan_of("127.0.0.1:9", "--send", "x", "--timeout", "0")
    assert (never.timeout, never.reply_timeout) == (None, None)


def test_file_frame_sends_a_whole_binary_file_as_one_frame_in_command_line_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"a\nb\x00\xff\r\n")
    plan = plan_of(
        "127.0.0.1:9", "--send", "first", "--file-frame", str(path), "--send-hex", "00 01"
    )
    assert plan.frames == [b"first", b"a\nb\x00\xff\r\n", b"\x00\x01"]
