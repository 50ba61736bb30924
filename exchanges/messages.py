"""Saved messages and the project file that keeps them.

A message is text, hex, or JSON sent as JSON, MessagePack or CBOR, with ``{{name}}``
placeholders expanded when it is sent (``exchanges.variables``). In TOML::

    [messages.hello]
    text = "hello {{seq}}"

    [messages.ping]
    hex = "00 01 {{random_hex:4}}"

    [messages.login]
    json = { op = "login", user = "{{user}}", seq = "{{seq}}" }   # a TOML value...
    encoding = "msgpack"                                           # json (default), msgpack, cbor

    [messages.raw]
    json = '{"op": "raw", "blob": {"$hex": "00ff"}, "none": null}'  # ...or JSON text

A project file holds ``[messages.NAME]`` tables and ``[vars]`` (values the placeholders
take); a script file may hold them too. ``tomllib`` reads the file and ``tomli-w``
writes it (the window saves its panel this way; comments are not kept).
"""

from __future__ import annotations

import datetime
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import tomli_w

from decoders import ENCODINGS as JSON_ENCODINGS, EncodeError, encode_value
from exchanges.errors import ExpansionError, ScriptError
from exchanges.toml_lines import Locations, locate
from exchanges.variables import PLACEHOLDER, Variables, names_in
from ipc.payload_text import HexError, parse_hex
from ipc.text import DEFAULT_ENCODING, TextEncodingError, encode_text

__all__ = [
    "FORMS",
    "JSON_ENCODINGS",
    "FieldError",
    "Message",
    "Project",
    "dump_project",
    "load_project",
    "load_toml",
    "message_from_toml",
    "parse_project",
    "plain_value",
    "read_file",
]

#: The forms a message takes: one of these keys holds its body.
FORMS = ("text", "hex", "json")
_MESSAGE_KEYS = frozenset({*FORMS, "encoding"})


class FieldError(ValueError):
    """A value in a table is wrong; ``keys`` leads from the table to it (for its line)."""

    def __init__(self, message: str, *keys: str | int) -> None:
        super().__init__(message)
        self.keys = keys


@dataclass(frozen=True, slots=True)
class Message:
    """A message to send: ``form`` is text, hex or json; ``body`` its text, hex, or JSON
    (JSON text as a string, or a map or list); ``encoding`` what JSON is sent as."""

    form: str
    body: Any
    encoding: str = "json"

    def names(self) -> set[str]:
        """The placeholders it uses."""
        return names_in([self.body])

    def render(self, variables: Variables, text_encoding: str = DEFAULT_ENCODING) -> bytes:
        """The payload, placeholders expanded.

        Raises:
            ExpansionError: a placeholder without a value, or what it expanded to is not
                valid here (hex digits, a character the text encoding lacks, a value
                the encoding cannot carry).
        """
        if self.form == "text":
            text = variables.expand_text(self.body)
            try:
                return encode_text(text, text_encoding)
            except TextEncodingError as exc:
                raise ExpansionError(str(exc)) from None
        if self.form == "hex":
            spelled = variables.expand_text(self.body)
            try:
                return parse_hex(spelled)
            except HexError as exc:
                raise ExpansionError(f"hex {spelled!r}: {exc}") from None
        if isinstance(self.body, str) and self.encoding == "json" and not self.names():
            return self.body.strip().encode("utf-8")  # sent as written
        value = variables.expand_value(self.value())
        try:
            return encode_value(value, self.encoding)
        except EncodeError as exc:
            raise ExpansionError(str(exc)) from None

    def value(self) -> Any:
        """A JSON message's value before expansion."""
        if isinstance(self.body, str):
            return json.loads(self.body)
        return self.body

    def to_toml(self) -> dict[str, Any]:
        table: dict[str, Any] = {self.form: self.body}
        if self.form == "json" and self.encoding != "json":
            table["encoding"] = self.encoding
        return table

    def describe(self) -> str:
        """A short description for reports and lists: ``text 'hello'``, ``json as msgpack``."""
        if self.form == "json":
            body = self.body if isinstance(self.body, str) else json.dumps(self.body)
            shown = f"json {_cut(body)}"
            return shown if self.encoding == "json" else f"{shown} as {self.encoding}"
        return f"{self.form} {_cut(self.body)!r}" if self.form == "text" else f"hex {self.body}"


def _cut(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message_from_toml(table: Mapping[str, Any]) -> Message:
    """A message from its TOML table (``text``/``hex``/``json``, ``encoding``).

    Raises:
        FieldError: a missing, unknown or bad key (its ``keys`` name it).
    """
    forms = [form for form in FORMS if form in table]
    unknown = sorted(set(table) - _MESSAGE_KEYS)
    if unknown:
        raise FieldError(
            f"unknown key {unknown[0]!r} in a message (it takes text, hex or json, and "
            "encoding with json)",
            unknown[0],
        )
    if len(forms) != 1:
        raise FieldError(
            "a message is exactly one of text, hex or json"
            + (f", not {' and '.join(forms)}" if forms else "")
        )
    form = forms[0]
    body = table[form]
    encoding = table.get("encoding", "json")
    if "encoding" in table and form != "json":
        raise FieldError("encoding is for json messages (json, msgpack or cbor)", "encoding")
    if encoding not in JSON_ENCODINGS:
        raise FieldError(
            f"encoding must be one of {', '.join(JSON_ENCODINGS)}, not {encoding!r}", "encoding"
        )
    if form in ("text", "hex") and not isinstance(body, str):
        raise FieldError(f"{form} must be a string", form)
    if form == "hex":
        try:
            parse_hex(PLACEHOLDER.sub("", body))
        except HexError as exc:
            raise FieldError(f"hex {body!r}: {exc}", form) from None
    if form == "json":
        if isinstance(body, str):
            try:
                json.loads(body)
            except json.JSONDecodeError as exc:
                raise FieldError(
                    f"json is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno} "
                    '(placeholders go inside strings: "{{seq}}")',
                    form,
                ) from None
        elif isinstance(body, dict | list):
            plain_value(body, form)
        else:
            raise FieldError("json must be JSON text (a string), a table or an array", form)
    return Message(form, body, encoding)


def plain_value(value: Any, *keys: str | int) -> Any:
    """Check that a TOML value is a JSON value (TOML dates and times are not).

    Raises:
        FieldError: where a date or time is.
    """
    if isinstance(value, datetime.date | datetime.time):
        raise FieldError("dates and times have no JSON form: write them as strings", *keys)
    if isinstance(value, dict):
        for key, item in value.items():
            plain_value(item, *keys, key)
    elif isinstance(value, list):
        for number, item in enumerate(value):
            plain_value(item, *keys, number)
    return value


@dataclass(slots=True)
class Project:
    """Saved messages by name (in file order) and the variables of ``[vars]``."""

    messages: dict[str, Message] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)

    def names(self) -> set[str]:
        return {name for message in self.messages.values() for name in message.names()}


def parse_project(data: Mapping[str, Any], locations: Locations, path: str = "") -> Project:
    """The ``[messages]`` and ``[vars]`` of a parsed TOML file.

    Raises:
        ScriptError: a bad message or variable, with its line.
    """
    project = Project()
    messages = data.get("messages", {})
    if not isinstance(messages, dict):
        raise ScriptError(
            "messages must be a table of [messages.NAME] tables",
            path=path,
            line=locations.line(("messages",)),
        )
    for name, table in messages.items():
        where = ("messages", name)
        if not isinstance(table, dict):
            raise ScriptError(
                f"message {name!r} must be a table: [messages.{name}] then text = ...",
                path=path,
                line=locations.line(where),
            )
        try:
            project.messages[name] = message_from_toml(table)
        except FieldError as exc:
            raise ScriptError(
                f"message {name!r}: {exc}", path=path, line=locations.line(where + exc.keys)
            ) from None
    variables = data.get("vars", {})
    if not isinstance(variables, dict):
        raise ScriptError("vars must be a table", path=path, line=locations.line(("vars",)))
    try:
        project.variables = plain_value(variables, "vars")
    except FieldError as exc:
        raise ScriptError(str(exc), path=path, line=locations.line(exc.keys)) from None
    return project


def load_toml(text: str, path: str) -> dict[str, Any]:
    """Parse TOML text.

    Raises:
        ScriptError: it is not TOML; the message has tomllib's line and column.
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line = _tomllib_place(str(exc))
        raise ScriptError(f"not valid TOML: {message}", path=path, line=line) from None


_TOMLLIB_PLACE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _tomllib_place(message: str) -> tuple[str, int | None]:
    """tomllib's "... (at line 3, column 5)" as ("... (column 5)", 3)."""
    match = _TOMLLIB_PLACE.search(message)
    if match is None:
        return message, None
    return f"{message[: match.start()]} (column {match.group(2)})", int(match.group(1))


def read_file(path: str) -> str:
    """A script or project file's text.

    Raises:
        ScriptError: it cannot be read or is not UTF-8.
    """
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise ScriptError(f"cannot read it: {exc.strerror}", path=path) from None
    except UnicodeDecodeError as exc:
        raise ScriptError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", path=path) from None


def load_project(path: str) -> Project:
    """Read a project file (any TOML file with ``[messages]``/``[vars]``; a script too).

    Raises:
        ScriptError: unreadable, not TOML, or a bad message (with its line).
    """
    text = read_file(path)
    return parse_project(load_toml(text, path), locate(text), path)


def dump_project(project: Project) -> str:
    """The project as TOML text (``tomli-w``): ``[vars]``, then each message."""
    data: dict[str, Any] = {}
    if project.variables:
        data["vars"] = project.variables
    data["messages"] = {name: m.to_toml() for name, m in project.messages.items()}
    return tomli_w.dumps(data, multiline_strings=False)
