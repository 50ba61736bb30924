"""Reading scripts: what a good one becomes, and the error (file:line: why) for a bad one."""

from __future__ import annotations

import pytest

from exchanges import Project, ScriptError, parse_script
from exchanges.messages import Message

GOOD = """\
name = "login"
framing = "be32"
timeout = 30
step_timeout = 2

[vars]
user = "ana"

[messages.ping]
text = "PING {{seq}}"

[[steps]]
send.json = { op = "login", user = "{{user}}" }
send.encoding = "msgpack"

[[steps]]
expect.where = 'op == "welcome"'
capture.token = "session.token"

[[steps]]
repeat = 2

  [[steps.steps]]
  send = "ping"

  [[steps.steps]]
  expect.regex = 'PONG (?P<n>\\d+) {{token}}'
  timeout = 0.5

[[steps]]
wait = 0.1

[[on]]
when.text = "HEARTBEAT"
send.text = "ALIVE"
"""


def test_a_good_script_reads_into_steps_with_their_lines() -> None:
    script = parse_script(GOOD, "login.toml")
    assert (script.name, script.framing, script.timeout, script.step_timeout) == (
        "login", "be32", 30.0, 2.0,
    )  # fmt: skip
    assert [(s.kind, s.number, s.line) for s in script.steps] == [
        ("send", "1", 12),
        ("expect", "2", 16),
        ("repeat", "3", 20),
        ("wait", "4", 30),
    ]
    repeat = script.steps[2]
    assert repeat.count == 2
    assert [(s.kind, s.number, s.line, s.timeout) for s in repeat.steps] == [
        ("send", "3.1", 23, None),
        ("expect", "3.2", 26, 0.5),
    ]
    assert repeat.steps[0].message == Message("text", "PING {{seq}}")
    assert repeat.steps[0].label == "send ping"
    expectation = script.steps[1].expectation
    assert expectation is not None and expectation.capture == {"token": ("session", "token")}
    assert script.rules[0].line == 33 and script.rules[0].send == (Message("text", "ALIVE"),)


def test_a_project_lends_its_messages_and_variables() -> None:
    project = Project(messages={"hi": Message("hex", "00 {{x}}")}, variables={"x": "ff"})
    script = parse_script('[[steps]]\nsend = "hi"\n', "s.toml", project)
    assert script.steps[0].message == Message("hex", "00 {{x}}")
    assert script.variables == {"x": "ff"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[[steps]]\nsend.text = 'a'\n[[steps]\n",
            "bad.toml:3: not valid TOML: Expected ']]' at the end of an array declaration "
            "(column 8)",
        ),
        (
            "[[steps]]\nsend.text = 'a'\n\n[[steps]]\nexpct.text = 'b'\n",
            "bad.toml:5: unknown step 'expct' (did you mean 'expect'?): a step is one of "
            "send, expect, wait, repeat, close",
        ),
        (
            "[[steps]]\nexpect.regex = 'you said (?P<x'\n",
            "bad.toml:2: bad regex /you said (?P<x/: missing >, unterminated name at "
            "position 13",
        ),
        (
            "[[steps]]\nexpect.txt = 'b'\n",
            "bad.toml:2: unknown condition 'txt' (did you mean 'text'?): expect takes hex, "
            "text, regex, fields, where, decoder, ignore, closed",
        ),
        (
            "[[steps]]\nsend.text = 'a'\n\n[[steps]]\nexpect.where = 'op == '\n",
            "bad.toml:5: bad where 'op == ': at the end: expected a value",
        ),
        (
            "[[steps]]\nsend.hex = '0g'\n",
            "bad.toml:2: hex '0g': 'g' at column 2 is not a hex digit",
        ),
        (
            "[[steps]]\nsend.text = 'hi {{tokn}}'\n[[steps]]\nexpect.text = 'x'\n"
            "capture.token = 'token'\n",
            "bad.toml:1: step 1: {{tokn}} is never set (did you mean 'token'?): it is not "
            "built in (seq, index, now, now_ms, now_iso, random_hex:N), not in [vars] or "
            "--var, and no step captures it",
        ),
        (
            "[[steps]]\nrepeat = 3\n",
            "bad.toml:1: a repeat needs its steps: [[steps.steps]] tables after it",
        ),
        (
            "[[steps]]\nclose = true\n[[steps]]\nsend.text = 'a'\n",
            "bad.toml:1: close ends the connection: it must be the last step",
        ),
        (
            "[[steps]]\nsend = 'nope'\n",
            "bad.toml:2: no saved message 'nope' ([messages.NAME] here or in --project; "
            "known: none)",
        ),
        (
            "tiemout = 3\n[[steps]]\nsend.text = 'a'\n",
            "bad.toml:1: unknown key 'tiemout' (did you mean 'timeout'?): a script has "
            "decoder, encoding, framing, messages, name, on, step_timeout, steps, timeout, vars",
        ),
        (
            "[[steps]]\nexpect.decoder = 'yaml'\n",
            "bad.toml:2: unknown decoder 'yaml'; choose one of auto, json, msgpack, cbor, "
            "protobuf, text, hex (or a --layout)",
        ),
        ("", "bad.toml: the script has no [[steps]] and no [[on]] rules"),
    ],
    ids=[
        "syntax", "unknown-step", "bad-regex", "unknown-condition", "bad-where", "bad-hex",
        "unset-variable", "repeat-without-steps", "close-not-last", "unknown-saved-message",
        "unknown-top-key", "unknown-decoder", "empty",
    ],
)  # fmt: skip
def test_a_bad_script_says_where_and_why(text: str, message: str) -> None:
    with pytest.raises(ScriptError) as raised:
        parse_script(text, "bad.toml")
    assert str(raised.value) == message


def test_a_variable_given_on_the_command_line_counts_as_set() -> None:
    text = "[[steps]]\nsend.text = 'hi {{who}}'\n"
    with pytest.raises(ScriptError):
        parse_script(text, "s.toml")
    assert parse_script(text, "s.toml", variables={"who"}).steps[0].kind == "send"
