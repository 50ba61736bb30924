"""Saved messages and project files: render, read, write back."""

from __future__ import annotations

import tomllib

import cbor2
import msgpack
import pytest

from exchanges import Message, Project, ScriptError, Variables, dump_project
from exchanges.errors import UnsetVariable
from exchanges.messages import load_toml, parse_project
from exchanges.toml_lines import locate

PROJECT = """\
[vars]
user = "ana"

[messages.login]
json = { op = "login", user = "{{user}}", seq = "{{seq}}", at = "t={{now}}" }
encoding = "cbor"

[messages.raw]
json = '{"blob": {"$hex": "00ff"}, "none": null}'
encoding = "msgpack"

[messages.ping]
hex = "01 {{random_hex:4}}"
"""


def project(text: str = PROJECT) -> Project:
    return parse_project(load_toml(text, "p.toml"), locate(text), "p.toml")


def test_messages_render_with_typed_placeholders() -> None:
    loaded = project()
    variables = Variables(
        loaded.variables, clock=lambda: 1_700_000_000.9, random_hex=lambda n: "ab" * (n // 2)
    )
    variables.seq = 7
    login = cbor2.loads(loaded.messages["login"].render(variables))
    assert login == {"op": "login", "user": "ana", "seq": 7, "at": "t=1700000000"}
    raw = msgpack.unpackb(loaded.messages["raw"].render(variables))
    assert raw == {"blob": b"\x00\xff", "none": None}
    assert loaded.messages["ping"].render(variables) == b"\x01\xab\xab"


def test_a_project_written_back_reads_the_same() -> None:
    loaded = project()
    again = project(dump_project(loaded))
    assert again == loaded
    assert tomllib.loads(dump_project(loaded))["messages"]["ping"] == {"hex": "01 {{random_hex:4}}"}


def test_text_with_no_value_for_a_placeholder_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(UnsetVariable, match=r"\{\{who\}\} has no value"):
        Message("text", "hi {{who}}").render(Variables())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[messages.a]\ntext = "x"\nhex = "00"\n',
         "p.toml:1: message 'a': a message is exactly one of text, hex or json, not text and hex"),
        ("[messages.a]\njson = '{\"seq\": {{seq}}}'\n",
         "p.toml:2: message 'a': json is not JSON: Expecting property name enclosed in double "
         "quotes at line 1 column 10 "
         '(placeholders go inside strings: "{{seq}}")'),
        ('[messages.a]\njson = { at = 2026-01-01 }\n',
         "p.toml:2: message 'a': dates and times have no JSON form: write them as strings"),
        ('[messages.a]\ntext = "x"\nencoding = "cbor"\n',
         "p.toml:3: message 'a': encoding is for json messages (json, msgpack or cbor)"),
    ],
)  # fmt: skip
def test_a_bad_message_names_its_line(text: str, message: str) -> None:
    with pytest.raises(ScriptError) as raised:
        project(text)
    assert str(raised.value) == message
