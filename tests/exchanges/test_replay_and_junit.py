"""Recordings as scripts (which side sends, which session, gaps), sessions saved as
scripts, and the JUnit report as a CI system parses it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from decoders import decoder_for
from exchanges import (
    Case,
    Runner,
    ScriptError,
    SendFrame,
    SessionFrame,
    Variables,
    junit_xml,
    parse_script,
    script_from_recording,
    script_text,
)
from ipc.recording import frame_line

RECORDING = [
    frame_line(10.0, 1, "out", b"hello", framing="be32"),
    frame_line(10.5, 1, "in", b"hi there", framing="be32"),
    frame_line(11.0, 2, "out", b"other session"),
    frame_line(12.0, 1, "out", b"bye", framing="be32"),
]


def test_a_client_replay_sends_its_frames_and_expects_the_servers() -> None:
    script = script_from_recording(RECORDING, path="r.jsonl", session=1, keep_timing=True)
    assert script.framing == "be32"
    assert [(s.kind, s.number, s.line) for s in script.steps] == [
        ("send", "frame 1", 1),
        ("expect", "frame 2", 2),
        ("wait", "frame 3", 4),
        ("send", "frame 3", 4),
    ]
    assert script.steps[2].seconds == pytest.approx(1.5)
    server = script_from_recording(RECORDING, path="r.jsonl", session=1, role="server")
    assert [s.kind for s in server.steps] == ["expect", "send", "expect"]


def test_a_replay_fails_at_the_frame_that_differs() -> None:
    script = script_from_recording(RECORDING, path="r.jsonl", session=1)
    runner = Runner(script, variables=Variables(), decoder=decoder_for("auto"))
    assert runner.start(0.0) == [SendFrame(b"hello")]
    runner.send_done(0.0)
    runner.frame_received(b"hi thera", 0.1)
    assert runner.outcome is not None
    assert runner.outcome.report.splitlines()[0] == (
        "r.jsonl:2: frame 2 failed: expect the recorded frame (in, 8 bytes)"
    )


def test_a_recording_of_several_sessions_asks_which() -> None:
    with pytest.raises(ScriptError) as raised:
        script_from_recording(RECORDING, path="r.jsonl")
    assert str(raised.value) == (
        "r.jsonl: the recording holds 2 sessions (1, 2): choose one with --session ID"
    )
    with pytest.raises(ScriptError, match=r"r\.jsonl:2: not a recording line: 'len' is 3"):
        script_from_recording(
            [RECORDING[0], RECORDING[1].replace('"len": 8', '"len": 3')], path="r.jsonl"
        )


def test_a_session_saved_as_a_script_reads_back_and_passes() -> None:
    text = script_text(
        [SessionFrame("out", b"hello"), SessionFrame("in", b"\x00\xffbin"),
         SessionFrame("in", b"reply")],
        name="saved session", framing="be32", comment="saved from #3",
    )  # fmt: skip
    assert text.startswith("# saved from #3\n")
    script = parse_script(text, "saved.toml")
    assert script.framing == "be32"
    runner = Runner(script, variables=Variables(), decoder=decoder_for("auto"))
    assert runner.start(0.0) == [SendFrame(b"hello")]
    runner.send_done(0.1)
    runner.frame_received(b"\x00\xffbin", 0.2)
    runner.frame_received(b"reply", 0.3)
    assert runner.outcome is not None and runner.outcome.passed


def test_the_junit_report_parses_and_names_the_failing_step() -> None:
    cases = [
        Case(name="login", classname="login", file="login.toml", seconds=0.12),
        Case(
            name="greeting", classname="greet", file="greet.toml", seconds=0.3,
            kind="expectation", message="step 4: expect text 'ok': first difference at byte 0",
            report="greet.toml:17: step 4 failed: expect text 'ok'\n  ...",
            transcript=("0.000 > hi", "0.001 < ko"),
        ),
        Case(name="down", classname="down", file="down.toml", seconds=0.0, kind="connection",
             message="cannot connect"),
    ]  # fmt: skip
    root = ET.fromstring(junit_xml(cases, suite="framewire-engine", timestamp="t", hostname="h"))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    failing = suite.findall("testcase")[1]
    failure = failing.find("failure")
    assert failure is not None and failure.get("type") == "expectation"
    assert failure.get("message", "").startswith("step 4: expect text 'ok'")
    assert (failure.text or "").startswith("greet.toml:17: step 4 failed")
    assert failing.findtext("system-out") == "0.000 > hi\n0.001 < ko"
    assert suite.findall("testcase")[2].find("error") is not None
