"""Send/expect scripts: the TOML format, read into a ``Script`` and checked up front.

A script is a list of steps and, optionally, rules; the same file drives a client
(``framewire-engine HOST:PORT --script FILE``) and a scripted server (``--listen PORT
--script FILE``)::

    name = "login works"          # the test case's name (default: the file name)
    framing = "be32"              # unless the command line names one
    timeout = 30                  # the whole script, seconds (default: none)
    step_timeout = 5              # each expect/send step unless it says (default: 10)

    [vars]
    user = "ana"

    [[steps]]
    send.json = { op = "login", user = "{{user}}", seq = "{{seq}}" }
    send.encoding = "msgpack"

    [[steps]]
    expect.where = 'op == "welcome"'
    capture.token = "session.token"

    [[steps]]
    send = "ping"                 # a saved message: [messages.ping] here or in --project

    [[steps]]
    repeat = 3
      [[steps.steps]]
      send.text = "echo {{index}}"
      [[steps.steps]]
      expect.text = "echo {{index}}"

    [[on]]                        # a rule: whenever a frame matches, answer
    when.text = "PING"
    send.text = "PONG"

A step is one of ``send`` (a message table, or the name of a saved message), ``expect``
(``exchanges.matching.Expectation``'s conditions, with ``capture`` and ``skip_others``
beside it), ``wait`` (seconds), ``repeat`` (N, with ``steps``), ``close`` (true: close
the connection; the last step). Any step may have ``name`` (how reports call it) and
``timeout``. A rule has ``when`` (the conditions), ``send`` (one message or a list),
``capture``, ``close``, ``name``.

Everything is checked when the file is read: TOML syntax, unknown keys, regular
expressions, field expressions and paths, decoders, framing, and every placeholder's name
(built in, in ``[vars]``, given on the command line, or captured by some step or rule);
a mistake is a ``ScriptError`` naming the line.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decoders import (
    DecoderConfigError,
    ExpressionError,
    compile_expression,
    decoder_for,
    parse_path,
)
from exchanges.errors import ScriptError
from exchanges.matching import Expectation, Ignore, parse_ignore
from exchanges.messages import (
    FieldError,
    Message,
    Project,
    load_toml,
    message_from_toml,
    parse_project,
    plain_value,
    read_file,
)
from exchanges.toml_lines import Locations, locate
from exchanges.variables import BUILTINS, PLACEHOLDER
from ipc.framing import parse_framing
from ipc.payload_text import HexError, parse_hex
from ipc.text import check_encoding

__all__ = [
    "DEFAULT_STEP_TIMEOUT",
    "Rule",
    "Script",
    "Step",
    "load_script",
    "parse_script",
]

#: How long an expect (or a send the peer does not take) waits unless the script says.
DEFAULT_STEP_TIMEOUT = 10.0
#: A repeat runs at most this many times (a typo of 1e9 should not run for a day).
MAX_REPEAT = 1_000_000
#: Steps in a script, nested ones included.
MAX_STEPS = 100_000

STEP_KINDS = ("send", "expect", "wait", "repeat", "close")
_STEP_KEYS = {
    "send": {"send", "name", "timeout"},
    "expect": {"expect", "capture", "skip_others", "name", "timeout"},
    "wait": {"wait", "name"},
    "repeat": {"repeat", "steps", "name"},
    "close": {"close", "name"},
}
_EXPECT_KEYS = ("hex", "text", "regex", "fields", "where", "decoder", "ignore", "closed")
_RULE_KEYS = {"when", "send", "capture", "close", "name"}
_TOP_KEYS = {
    "name",
    "framing",
    "encoding",
    "decoder",
    "timeout",
    "step_timeout",
    "vars",
    "messages",
    "steps",
    "on",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One step; ``kind`` says which fields matter. ``number`` is how reports count it
    (``3``, ``3.2`` inside a repeat), ``line`` where it is in the file."""

    kind: str
    number: str
    line: int | None
    label: str
    message: Message | None = None
    expectation: Expectation | None = None
    skip_others: bool = False
    seconds: float = 0.0
    #: None: the script's step timeout; 0: none.
    timeout: float | None = None
    count: int = 0
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """``[[on]]``: whenever a frame matches ``when``, send ``send`` (and maybe close)."""

    number: int
    line: int | None
    label: str
    when: Expectation
    send: tuple[Message, ...] = ()
    close: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Script:
    """A checked script."""

    name: str
    path: str
    steps: tuple[Step, ...]
    rules: tuple[Rule, ...] = ()
    variables: dict[str, Any] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    #: The whole script's bound, seconds; None: none.
    timeout: float | None = None
    step_timeout: float = DEFAULT_STEP_TIMEOUT
    framing: str | None = None
    decoder: str | None = None
    encoding: str | None = None

    def step_count(self) -> int:
        return _count(self.steps)


def _count(steps: Iterable[Step]) -> int:
    return sum(1 + _count(step.steps) for step in steps)


def load_script(
    path: str, project: Project | None = None, *, variables: Iterable[str] = ()
) -> Script:
    """Read and check a script file.

    ``project`` adds saved messages and variables (the script's own win); ``variables``
    names the ones the command line sets (``--var``).

    Raises:
        ScriptError: unreadable, not TOML, or a mistake in it (with the line).
    """
    return parse_script(read_file(path), path, project, variables=variables)


def parse_script(
    text: str, path: str = "", project: Project | None = None, *, variables: Iterable[str] = ()
) -> Script:
    """``load_script`` for a file's text."""
    data = load_toml(text, path)
    return _Reader(data, locate(text), path, project, set(variables)).script()


class _Reader:
    def __init__(
        self,
        data: dict[str, Any],
        locations: Locations,
        path: str,
        project: Project | None,
        given: set[str],
    ) -> None:
        self.data = data
        self.locations = locations
        self.path = path
        own = parse_project(data, locations, path)
        base = project or Project()
        self.messages = {**base.messages, **own.messages}
        self.variables = {**base.variables, **own.variables}
        self.given = given
        self.steps_seen = 0

    def fail(self, message: str, *where: str | int) -> ScriptError:
        return ScriptError(message, path=self.path, line=self.locations.line(where))

    def script(self) -> Script:
        data = self.data
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise self.fail(
                f"unknown key {unknown[0]!r}{_did_you_mean(unknown[0], _TOP_KEYS)}: a script "
                f"has {', '.join(sorted(_TOP_KEYS))}",
                unknown[0],
            )
        name = data.get("name", Path(self.path).stem if self.path else "script")
        if not isinstance(name, str) or not name:
            raise self.fail("name must be a string", "name")
        framing = self.checked_option("framing", parse_framing)
        encoding = self.checked_option("encoding", check_encoding)
        decoder = data.get("decoder")
        if decoder is not None:
            self.check_decoder(decoder, "decoder")
        timeout = self.seconds(data.get("timeout", 0), "timeout")
        step_timeout = self.seconds(data.get("step_timeout", DEFAULT_STEP_TIMEOUT), "step_timeout")
        steps = self.steps(data.get("steps", []), ("steps",), "")
        rules = self.rules(data.get("on", []))
        if not steps and not rules:
            raise self.fail("the script has no [[steps]] and no [[on]] rules")
        script = Script(
            name=name,
            path=self.path,
            steps=steps,
            rules=rules,
            variables=self.variables,
            messages=self.messages,
            timeout=timeout or None,
            step_timeout=step_timeout,
            framing=framing,
            decoder=decoder,
            encoding=encoding,
        )
        self.check_names(script)
        return script

    def checked_option(self, key: str, check: Callable[[str], object]) -> Any:
        """The script's ``key`` (None if absent), once ``check`` took it as text."""
        value = self.data.get(key)
        if value is not None:
            try:
                check(str(value))
            except ValueError as exc:
                raise self.fail(f"{key}: {exc}", key) from None
        return value

    def seconds(self, value: Any, *where: str | int) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value < 0
            or not math.isfinite(value)
        ):
            raise self.fail(f"{where[-1]} must be a number of seconds >= 0, not {value!r}", *where)
        return float(value)

    def check_decoder(self, name: Any, *where: str | int) -> str:
        if not isinstance(name, str):
            raise self.fail("decoder must be a string", *where)
        try:
            decoder_for(name)
        except DecoderConfigError as exc:
            raise self.fail(str(exc), *where) from None
        return name

    # ---------------------------------------------------------------- steps

    def steps(self, tables: Any, where: tuple[str | int, ...], prefix: str) -> tuple[Step, ...]:
        if not isinstance(tables, list):
            raise self.fail("steps must be an array of tables: [[steps]]", *where)
        steps = []
        for index, table in enumerate(tables):
            number = f"{prefix}{index + 1}"
            steps.append(self.step(table, (*where, index), number))
        for index, step in enumerate(steps[:-1]):
            if step.kind == "close":
                raise self.fail(
                    "close ends the connection: it must be the last step", *where, index
                )
        return tuple(steps)

    def step(self, table: Any, where: tuple[str | int, ...], number: str) -> Step:
        self.steps_seen += 1
        if self.steps_seen > MAX_STEPS:
            raise self.fail(f"more than {MAX_STEPS:,} steps", *where)
        if not isinstance(table, dict):
            raise self.fail("a step must be a table", *where)
        kinds = [kind for kind in STEP_KINDS if kind in table]
        if len(kinds) != 1:
            unknown = sorted(set(table) - {"name", "timeout", "capture", "skip_others", "steps"})
            if not kinds and unknown:
                raise self.fail(
                    f"unknown step {unknown[0]!r}{_did_you_mean(unknown[0], STEP_KINDS)}: a "
                    f"step is one of {', '.join(STEP_KINDS)}",
                    *where,
                    unknown[0],
                )
            raise self.fail(
                f"a step is one of {', '.join(STEP_KINDS)}"
                + (f", not {' and '.join(kinds)} at once" if kinds else ""),
                *where,
            )
        kind = kinds[0]
        unknown = sorted(set(table) - _STEP_KEYS[kind])
        if unknown:
            allowed = ", ".join(sorted(_STEP_KEYS[kind] - {kind}))
            raise self.fail(
                f"unknown key {unknown[0]!r} in a {kind} step (it takes {allowed})",
                *where,
                unknown[0],
            )
        label = table.get("name")
        if label is not None and not isinstance(label, str):
            raise self.fail("name must be a string", *where, "name")
        line = self.locations.line(where)
        timeout = None
        if "timeout" in table:
            timeout = self.seconds(table["timeout"], *where, "timeout")
        if kind == "send":
            message, described = self.message(table["send"], (*where, "send"))
            return Step(
                kind=kind,
                number=number,
                line=line,
                label=label or f"send {described}",
                message=message,
                timeout=timeout,
            )
        if kind == "expect":
            expectation = self.expectation(
                table["expect"], table.get("capture", {}), (*where, "expect"), where
            )
            skip = table.get("skip_others", False)
            if not isinstance(skip, bool):
                raise self.fail("skip_others must be true or false", *where, "skip_others")
            return Step(
                kind=kind,
                number=number,
                line=line,
                label=label or f"expect {expectation.describe()}",
                expectation=expectation,
                skip_others=skip,
                timeout=timeout,
            )
        if kind == "wait":
            seconds = self.seconds(table["wait"], *where, "wait")
            return Step(
                kind=kind,
                number=number,
                line=line,
                label=label or f"wait {seconds:g} s",
                seconds=seconds,
            )
        if kind == "repeat":
            count = table["repeat"]
            if (
                isinstance(count, bool)
                or not isinstance(count, int)
                or not 0 <= count <= MAX_REPEAT
            ):
                raise self.fail(
                    f"repeat must be a whole number from 0 to {MAX_REPEAT:,}, not {count!r}",
                    *where,
                    "repeat",
                )
            if "steps" not in table:
                raise self.fail("a repeat needs its steps: [[steps.steps]] tables after it", *where)
            inner = self.steps(table["steps"], (*where, "steps"), f"{number}.")
            return Step(
                kind=kind,
                number=number,
                line=line,
                label=label or f"repeat {count} times",
                count=count,
                steps=inner,
            )
        if table["close"] is not True:
            raise self.fail("close = true closes the connection (or leave the step out)", *where)
        return Step(kind=kind, number=number, line=line, label=label or "close")

    def message(self, value: Any, where: tuple[str | int, ...]) -> tuple[Message, str]:
        """A send's message: a table, or a saved message's name."""
        if isinstance(value, str):
            found = self.messages.get(value)
            if found is None:
                known = ", ".join(sorted(self.messages)) or "none"
                raise self.fail(
                    f"no saved message {value!r}{_did_you_mean(value, self.messages)} "
                    f"([messages.NAME] here or in --project; known: {known})",
                    *where,
                )
            return found, value
        if not isinstance(value, dict):
            raise self.fail(
                'send takes a message (send.text = "hi", send.hex = "00ff", send.json = ...) '
                "or a saved message's name",
                *where,
            )
        try:
            message = message_from_toml(value)
        except FieldError as exc:
            raise self.fail(str(exc), *where, *exc.keys) from None
        return message, message.describe()

    def expectation(
        self,
        table: Any,
        capture: Any,
        where: tuple[str | int, ...],
        step: tuple[str | int, ...],
        key: str = "expect",
    ) -> Expectation:
        if not isinstance(table, dict):
            raise self.fail(
                f'{key} takes a table of conditions: {", ".join(_EXPECT_KEYS)} ({key}.text = "ok")',
                *where,
            )
        unknown = sorted(set(table) - set(_EXPECT_KEYS))
        if unknown:
            raise self.fail(
                f"unknown condition {unknown[0]!r}{_did_you_mean(unknown[0], _EXPECT_KEYS)}: "
                f"{key} takes {', '.join(_EXPECT_KEYS)}",
                *where,
                unknown[0],
            )
        values: dict[str, Any] = {}
        for name in ("hex", "text", "regex", "where"):
            if name in table:
                if not isinstance(table[name], str):
                    raise self.fail(f"{name} must be a string", *where, name)
                values[name] = table[name]
        if "hex" in values:
            self.check_hex(values["hex"], *where, "hex")
        if "regex" in values:
            try:
                re.compile(PLACEHOLDER.sub("", values["regex"]))
            except re.error as exc:
                raise self.fail(f"bad regex /{values['regex']}/: {exc}", *where, "regex") from None
        if "where" in values:
            try:
                compile_expression(PLACEHOLDER.sub("null", values["where"]))
            except ExpressionError as exc:
                raise self.fail(f"bad where {values['where']!r}: {exc}", *where, "where") from None
        if "fields" in table:
            try:
                values["fields"] = plain_value(table["fields"], "fields")
            except FieldError as exc:
                raise self.fail(str(exc), *where, *exc.keys) from None
        if "decoder" in table:
            values["decoder"] = self.check_decoder(table["decoder"], *where, "decoder")
        if "ignore" in table:
            values["ignore"] = self.ignores(table["ignore"], (*where, "ignore"))
        if "closed" in table:
            if table["closed"] is not True:
                raise self.fail("closed = true expects the peer to close", *where, "closed")
            if len(table) > 1:
                raise self.fail("closed = true goes alone: no frame is checked", *where)
            values["closed"] = True
        if not isinstance(capture, dict):
            raise self.fail(
                'capture takes a table of NAME = "field.path" (capture.token = "token")',
                *step,
                "capture",
            )
        paths = {}
        for name, spelled in capture.items():
            if not isinstance(spelled, str):
                raise self.fail(
                    f"capture.{name} must be a field path string", *step, "capture", name
                )
            try:
                paths[name] = parse_path(spelled)
            except ExpressionError as exc:
                raise self.fail(
                    f"capture.{name}: bad field path {spelled!r}: {exc}", *step, "capture", name
                ) from None
        if paths and values.get("closed"):
            raise self.fail("nothing to capture from a closed connection", *step, "capture")
        return Expectation(capture=paths, **values)

    def check_hex(self, spelled: str, *where: str | int) -> None:
        try:
            parse_hex(PLACEHOLDER.sub("", spelled))
        except HexError as exc:
            raise self.fail(f"hex {spelled!r}: {exc}", *where) from None

    def ignores(self, value: Any, where: tuple[str | int, ...]) -> tuple[Ignore, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise self.fail('ignore takes byte ranges and field paths: ["0-7", "ts"]', *where)
        try:
            return tuple(parse_ignore(item) for item in items)
        except ValueError as exc:
            raise self.fail(f"ignore: {exc}", *where) from None

    # ---------------------------------------------------------------- rules

    def rules(self, tables: Any) -> tuple[Rule, ...]:
        if not isinstance(tables, list):
            raise self.fail("on must be an array of tables: [[on]]", "on")
        rules = []
        for index, table in enumerate(tables):
            where = ("on", index)
            if not isinstance(table, dict):
                raise self.fail("a rule must be a table", *where)
            unknown = sorted(set(table) - _RULE_KEYS)
            if unknown:
                raise self.fail(
                    f"unknown key {unknown[0]!r} in a rule (it takes "
                    f"{', '.join(sorted(_RULE_KEYS))})",
                    *where,
                    unknown[0],
                )
            when = self.expectation(
                table.get("when", {}), table.get("capture", {}), (*where, "when"), where, "when"
            )
            if when.closed:
                raise self.fail("a rule answers frames: when.closed does not go here", *where)
            sends = table.get("send", [])
            if not isinstance(sends, list):
                sends = [sends]
            messages = []
            described = []
            for position, value in enumerate(sends):
                spot = (
                    (*where, "send")
                    if not isinstance(table.get("send"), list)
                    else (*where, "send", position)
                )
                message, shown = self.message(value, spot)
                messages.append(message)
                described.append(shown)
            close = table.get("close", False)
            if not isinstance(close, bool):
                raise self.fail("close must be true or false", *where, "close")
            if not messages and not close and not when.capture:
                raise self.fail("a rule needs send, close or capture: what it does", *where)
            label = table.get("name") or f"on {when.describe()}"
            rules.append(
                Rule(
                    number=index + 1,
                    line=self.locations.line(where),
                    label=str(label),
                    when=when,
                    send=tuple(messages),
                    close=close,
                )
            )
        return tuple(rules)

    # ---------------------------------------------------------------- names

    def check_names(self, script: Script) -> None:
        """Every placeholder names something that will have a value."""
        defined = set(BUILTINS) | set(self.variables) | self.given
        for step in _walk(script.steps):
            if step.expectation is not None:
                defined |= step.expectation.captures()
        for rule in script.rules:
            defined |= rule.when.captures()
        for name, message in self.messages.items():
            self.check_used(message.names(), defined, ("messages", name), f"message {name!r}")
        for step, where in _walk_where(script.steps, ("steps",)):
            used: set[str] = set()
            if step.message is not None:
                used = step.message.names()
            elif step.expectation is not None:
                used = step.expectation.names()
            self.check_used(used, defined, where, f"step {step.number}")
        for index, rule in enumerate(script.rules):
            used = rule.when.names().union(*(m.names() for m in rule.send))
            self.check_used(used, defined, ("on", index), f"rule {rule.number}")

    def check_used(
        self, used: set[str], defined: set[str], where: Sequence[str | int], what: str
    ) -> None:
        for name in sorted(used - defined):
            raise self.fail(
                f"{what}: {{{{{name}}}}} is never set{_did_you_mean(name, defined)}: it is not "
                "built in (seq, index, now, now_ms, now_iso, random_hex:N), not in [vars] or "
                "--var, and no step captures it",
                *where,
            )


def _walk(steps: Iterable[Step]) -> Iterable[Step]:
    for step in steps:
        yield step
        yield from _walk(step.steps)


def _walk_where(
    steps: Sequence[Step], where: tuple[str | int, ...]
) -> Iterable[tuple[Step, tuple[str | int, ...]]]:
    for index, step in enumerate(steps):
        yield step, (*where, index)
        yield from _walk_where(step.steps, (*where, index, "steps"))


def _did_you_mean(name: str, choices: Iterable[str] | Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
