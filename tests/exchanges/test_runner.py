"""The sans-IO runner, driven by hand: events in, actions out, outcomes and reports."""

from __future__ import annotations

from decoders import decoder_for, encode_value
from exchanges import CloseConnection, Runner, SendFrame, Variables, parse_script
from exchanges.runner import MAX_PENDING


def kind_of(runner: Runner) -> str | None:
    """None while running, "" once passed, else the failure's kind."""
    outcome = runner.outcome
    return None if outcome is None else outcome.kind


def report_of(runner: Runner) -> str:
    assert runner.outcome is not None
    return runner.outcome.report


def message_of(runner: Runner) -> str:
    assert runner.outcome is not None
    return runner.outcome.message


def runner_for(text: str, **variables: object) -> Runner:
    script = parse_script(text, "s.toml", variables=set(variables))
    values = {**script.variables, **variables}
    return Runner(
        script,
        variables=Variables(values, clock=lambda: 1_700_000_000.25, random_hex=lambda n: "a" * n),
        decoder=decoder_for("auto"),
    )


def test_captured_values_are_reused_in_later_steps() -> None:
    runner = runner_for(
        """
[[steps]]
send.json = { op = "login", seq = "{{seq}}" }
send.encoding = "msgpack"
[[steps]]
expect.where = 'op == "welcome"'
capture.token = "session.token"
[[steps]]
expect.regex = 'user=(?P<user>\\w+)'
[[steps]]
send.text = "{{token}}/{{user}}/{{seq}}"
"""
    )
    assert runner.start(0.0) == [SendFrame(encode_value({"op": "login", "seq": 1}, "msgpack"))]
    assert runner.send_done(0.1) == []
    welcome = encode_value({"op": "welcome", "session": {"token": "T-9"}}, "msgpack")
    assert runner.frame_received(welcome, 0.2) == []
    assert runner.frame_received(b"user=ana", 0.3) == [SendFrame(b"T-9/ana/2")]
    assert kind_of(runner) is None
    runner.send_done(0.4)
    assert kind_of(runner) == ""


def test_repeat_counts_index_and_seq() -> None:
    runner = runner_for(
        """
[[steps]]
repeat = 3
  [[steps.steps]]
  send.text = "{{index}}:{{seq}}"
"""
    )
    sent = [runner.start(0.0)]
    for at in (1.0, 2.0, 3.0):
        sent.append(runner.send_done(at))
    assert sent == [[SendFrame(b"0:1")], [SendFrame(b"1:2")], [SendFrame(b"2:3")], []]
    assert kind_of(runner) == ""


def test_a_frame_that_differs_fails_with_the_step_and_both_frames() -> None:
    runner = runner_for('[[steps]]\nsend.text = "hello"\n\n[[steps]]\nexpect.text = "hello, ana"\n')
    runner.start(0.0)
    runner.send_done(0.0)
    runner.frame_received(b"hello, bob", 0.1)
    outcome = runner.outcome
    assert outcome is not None and not outcome.passed
    assert outcome.kind == "expectation"
    assert outcome.report == (
        "s.toml:4: step 2 failed: expect text 'hello, ana'\n"
        "  expected  text     hello, ana\n"
        "            hex      68 65 6c 6c 6f 2c 20 61 6e 61  (10 bytes)\n"
        "  got       text     hello, bob\n"
        "            hex      68 65 6c 6c 6f 2c 20 62 6f 62  (10 bytes)\n"
        "  first difference at byte 7: expected 61, got 62"
    )
    assert outcome.message == (
        "step 2: expect text 'hello, ana': first difference at byte 7: expected 61, got 62"
    )


def test_a_step_timeout_fails_as_a_timeout_at_the_deadline() -> None:
    runner = runner_for('step_timeout = 2\n[[steps]]\nexpect.hex = "00 01"\n')
    runner.start(10.0)
    assert runner.deadline == 12.0
    assert runner.tick(11.9) == [] and runner.outcome is None
    runner.tick(12.0)
    assert kind_of(runner) == "timeout"
    assert report_of(runner) == (
        "s.toml:2: step 1 failed: expect hex 00 01\n"
        "  expected  text     \\x00\\x01\n"
        "            hex      00 01  (2 bytes)\n"
        "  got       nothing in 2 s"
    )


def test_the_script_timeout_bounds_every_step() -> None:
    runner = runner_for("timeout = 1\n[[steps]]\nwait = 5\n")
    runner.start(0.0)
    assert runner.deadline == 1.0
    runner.tick(1.0)
    assert kind_of(runner) == "timeout"
    assert message_of(runner) == "step 1: wait 5 s: the script's timeout of 1 s passed"


def test_rules_answer_and_the_steps_never_see_those_frames() -> None:
    runner = runner_for(
        """
[[steps]]
expect.text = "hello"
[[on]]
when.text = "PING"
send.text = "PONG {{seq}}"
"""
    )
    runner.start(0.0)
    assert runner.frame_received(b"PING", 0.1) == [SendFrame(b"PONG 1")]
    assert kind_of(runner) is None
    runner.send_done(0.2)
    runner.frame_received(b"hello", 0.3)
    assert kind_of(runner) == ""
    # The steps are over; the rules still answer.
    assert runner.frame_received(b"PING", 0.4) == [SendFrame(b"PONG 2")]


def test_skip_others_passes_over_frames_that_do_not_match() -> None:
    runner = runner_for('[[steps]]\nexpect.text = "ok"\nskip_others = true\n')
    runner.start(0.0)
    runner.frame_received(b"heartbeat", 0.1)
    assert kind_of(runner) is None
    runner.frame_received(b"ok", 0.2)
    assert kind_of(runner) == ""


def test_frames_that_came_early_wait_for_their_step() -> None:
    runner = runner_for('[[steps]]\nsend.text = "a"\n[[steps]]\nexpect.text = "b"\n')
    runner.start(0.0)
    runner.frame_received(b"b", 0.1)  # before the send was written
    assert kind_of(runner) is None
    runner.send_done(0.2)
    assert kind_of(runner) == ""


def test_the_connection_ending_fails_a_waiting_step_and_closing_is_expected() -> None:
    runner = runner_for('[[steps]]\nexpect.text = "b"\n')
    runner.start(0.0)
    runner.connection_ended("the peer closed the connection", 0.5)
    assert kind_of(runner) == "expectation"
    assert report_of(runner).endswith("  got       the peer closed the connection")

    closing = runner_for('[[steps]]\nsend.text = "bye"\n[[steps]]\nexpect.closed = true\n')
    closing.start(0.0)
    closing.send_done(0.1)
    assert kind_of(closing) is None
    closing.connection_ended("the peer closed the connection", 0.2)
    assert kind_of(closing) == ""


def test_close_step_closes_after_the_sends() -> None:
    runner = runner_for('[[steps]]\nsend.text = "bye"\n[[steps]]\nclose = true\n')
    assert runner.start(0.0) == [SendFrame(b"bye")]
    assert runner.send_done(0.1) == [CloseConnection()]
    assert kind_of(runner) == ""


def test_a_placeholder_without_a_value_at_run_time_is_a_script_error() -> None:
    runner = runner_for('[[steps]]\nsend.text = "{{index}}"\n')
    runner.start(0.0)
    assert kind_of(runner) == "script"
    assert "{{index}} has no value" in report_of(runner)


def test_frames_nobody_expects_are_bounded() -> None:
    runner = runner_for('[[steps]]\nwait = 100\n[[steps]]\nexpect.text = "x"\n')
    runner.start(0.0)
    for _ in range(MAX_PENDING):
        runner.frame_received(b"y", 0.1)
    assert kind_of(runner) is None
    runner.frame_received(b"y", 0.1)
    assert kind_of(runner) == "expectation"
