"""Variables and ``{{name}}`` placeholders: what saved messages and scripts expand.

A placeholder is ``{{name}}`` or ``{{name:N}}``. The names built in:

- ``seq``: the number of this send, 1 for the first message a script run (or the
  window's saved-messages panel, or a ``--send-saved`` run) sends, then 2, 3, ...;
- ``index``: inside a ``repeat``, the iteration, from 0;
- ``now`` (Unix seconds, an integer), ``now_ms`` (milliseconds), ``now_iso`` (UTC, ISO
  8601 with milliseconds): one reading of the clock per message;
- ``random_hex:N``: N random hex digits (``{{random_hex:8}}``: 4 random bytes as hex),
  new at each use.

Every other name is a variable: from the file's ``[vars]``, ``--var NAME=VALUE``, or
captured from an earlier reply (``capture``); a name with no value is an error
(``UnsetVariable``), never an empty string.

How a value is put in depends on where the placeholder is:

- in text and hex, as text: a string as it is, a number as digits, true/false/null, a
  list or map as compact JSON;
- in a JSON value, a string that is one placeholder and nothing else takes the value
  with its type (``"{{seq}}"`` becomes the number 7, a captured map a map); a
  placeholder inside a longer string is put in as text;
- in a regular expression, as text matched literally (``re.escape``);
- in a field expression (``where``), as a literal: ``token == {{token}}`` reads
  ``token == "abc"``, quotes and escapes included.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from exchanges.errors import ExpansionError, UnsetVariable

__all__ = ["BUILTINS", "PLACEHOLDER", "Variables", "names_in", "placeholders", "value_text"]

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*(\d+)\s*)?\}\}")
#: The names every script and message knows (``random_hex`` takes ``:N``).
BUILTINS = frozenset({"seq", "index", "now", "now_ms", "now_iso", "random_hex"})
#: The most digits one ``{{random_hex:N}}`` makes.
MAX_RANDOM_DIGITS = 1 << 16


def placeholders(text: str) -> set[str]:
    """The names of the placeholders in ``text``."""
    return {match.group(1) for match in PLACEHOLDER.finditer(text)}


def value_text(value: object) -> str:
    """A value as placeholders put it into text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Variables:
    """The values a run's placeholders take: ``[vars]``, captures, and the built-ins.

    ``clock`` (Unix seconds) and ``random_hex`` are injectable so tests get fixed values.
    """

    def __init__(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        random_hex: Callable[[int], str] | None = None,
    ) -> None:
        self.values: dict[str, Any] = dict(values or {})
        self.seq = 0
        self.index: int | None = None
        self._clock = clock
        self._random_hex = random_hex or _random_hex

    def known(self) -> set[str]:
        """The names that have a value now (the built-ins included)."""
        return set(self.values) | BUILTINS

    def set(self, name: str, value: Any) -> None:
        self.values[name] = value

    def update(self, values: Mapping[str, Any]) -> None:
        self.values.update(values)

    def expand_text(self, text: str) -> str:
        """``text`` with every placeholder replaced by its value as text.

        Raises:
            UnsetVariable: a name with no value.
        """
        reading = _Reading(self)
        return PLACEHOLDER.sub(lambda m: value_text(reading.value(m.group(1), m.group(2))), text)

    def expand_value(self, value: Any) -> Any:
        """A JSON-like value with the placeholders in its strings (keys included) expanded;
        a string that is one placeholder alone takes the value's type.

        Raises:
            UnsetVariable: a name with no value.
        """
        return _expand(value, _Reading(self))

    def expand_regex(self, pattern: str) -> str:
        """A regular expression with each placeholder's text escaped to match literally."""
        reading = _Reading(self)
        return PLACEHOLDER.sub(
            lambda m: re.escape(value_text(reading.value(m.group(1), m.group(2)))), pattern
        )

    def expand_expression(self, text: str) -> str:
        """A field expression with each placeholder written as a literal of its value."""
        reading = _Reading(self)
        return PLACEHOLDER.sub(lambda m: _literal(reading.value(m.group(1), m.group(2))), text)


class _Reading:
    """One expansion: the clock is read once, so ``{{now}}`` twice in a message agrees."""

    def __init__(self, variables: Variables) -> None:
        self.variables = variables
        self.now: float | None = None

    def value(self, name: str, argument: str | None) -> Any:
        variables = self.variables
        if name in variables.values:
            return variables.values[name]
        if name == "seq":
            return variables.seq
        if name == "index":
            if variables.index is None:
                raise UnsetVariable(name)
            return variables.index
        if name == "random_hex":
            digits = int(argument) if argument is not None else 8
            return variables._random_hex(min(digits, MAX_RANDOM_DIGITS))
        if name in ("now", "now_ms", "now_iso"):
            if self.now is None:
                self.now = variables._clock()
            if name == "now":
                return int(self.now)
            if name == "now_ms":
                return int(self.now * 1000)
            return datetime.fromtimestamp(self.now, UTC).isoformat(timespec="milliseconds")
        raise UnsetVariable(name)


def _expand(value: Any, reading: _Reading) -> Any:
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value.strip())
        if whole is not None:
            return reading.value(whole.group(1), whole.group(2))
        return PLACEHOLDER.sub(lambda m: value_text(reading.value(m.group(1), m.group(2))), value)
    if isinstance(value, dict):
        return {_expand_key(k, reading): _expand(v, reading) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, reading) for v in value]
    return value


def _expand_key(key: str, reading: _Reading) -> str:
    return PLACEHOLDER.sub(lambda m: value_text(reading.value(m.group(1), m.group(2))), key)


def _literal(value: object) -> str:
    if isinstance(value, str | bool | int | float) or value is None:
        return json.dumps(value, ensure_ascii=False)
    raise ExpansionError(
        f"a {type(value).__name__} cannot be written in a field expression "
        "(only strings, numbers, true, false and null)"
    )


def _random_hex(digits: int) -> str:
    return secrets.token_hex((digits + 1) // 2)[:digits]


def names_in(values: Iterable[Any]) -> set[str]:
    """The placeholder names in a JSON-like value's strings."""
    found: set[str] = set()
    for value in values:
        if isinstance(value, str):
            found |= placeholders(value)
        elif isinstance(value, dict):
            found |= names_in(value.keys()) | names_in(value.values())
        elif isinstance(value, list):
            found |= names_in(value)
    return found
