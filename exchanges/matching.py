"""What an ``expect`` step checks in a frame, and how a frame differs when it fails.

An ``Expectation`` holds any of these conditions, all of which must hold:

- ``hex``: exactly these bytes; ``text``: exactly this text (in the session's text
  encoding); both may leave out byte ranges or decoded fields (``ignore``);
- ``regex``: a regular expression found in the text (``re.search``; bytes that are not
  text read as ``\\xNN``); its named groups are captured into variables;
- ``fields``: the decoded value holds these fields with these values (a map may have
  more keys; lists are compared element by element; ``{"$hex": "00ff"}`` matches bytes);
- ``where``: a field expression (``decoders.compile_expression``) is true of the decoded
  value;
- ``closed``: instead of a frame, the peer closes the connection.

``capture`` names fields of the decoded value to keep as variables (``token =
"session.token"``). Decoding uses the step's ``decoder``, else the run's (``auto``).

``check`` returns a ``Match`` (with what it captured) or a ``Mismatch`` saying which
condition failed and where the frame differs (``exchanges.report`` words it).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from decoders import (
    Decoded,
    Decoder,
    ExpressionError,
    compile_expression,
    decode,
    decoder_for,
    parse_path,
    to_plain,
)
from exchanges.errors import ExpansionError
from exchanges.variables import PLACEHOLDER, Variables, names_in, placeholders
from ipc.payload_text import HexError, parse_hex
from ipc.text import DEFAULT_ENCODING, TextEncodingError, encode_text

__all__ = [
    "Expectation",
    "FrameView",
    "Ignore",
    "Match",
    "Mismatch",
    "check",
    "expected_payload",
    "format_path",
    "get_path",
    "parse_ignore",
]

FieldPath = tuple[str | int, ...]
_MISSING = object()
_RANGE = re.compile(r"(\d+)\s*-\s*(\d*)")


@dataclass(frozen=True, slots=True)
class Ignore:
    """What a comparison leaves out: bytes ``start``..``end`` (inclusive; ``end`` None:
    to the end), or the decoded field at ``path``."""

    text: str
    start: int = 0
    end: int | None = None
    path: FieldPath | None = None

    def covers(self, offset: int) -> bool:
        return (
            self.path is None and self.start <= offset and (self.end is None or offset <= self.end)
        )


def parse_ignore(text: str) -> Ignore:
    """``4-11`` (bytes 4 to 11), ``8-`` (8 to the end), ``7`` (byte 7), or a field path
    (``ts``, ``header.seq``, ``items[0].id``).

    Raises:
        ValueError: neither (the message says what is expected).
    """
    spelled = text.strip()
    match = _RANGE.fullmatch(spelled)
    if match is not None:
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else None
        if end is not None and end < start:
            raise ValueError(f"byte range {spelled!r} ends before it starts")
        return Ignore(spelled, start, end)
    if spelled.isdigit():
        return Ignore(spelled, int(spelled), int(spelled))
    try:
        return Ignore(spelled, path=parse_path(spelled))
    except ExpressionError as exc:
        raise ValueError(
            f"{spelled!r} is neither a byte range (4-11, 8-) nor a field path (ts, "
            f"header.seq): {exc}"
        ) from None


def format_path(path: FieldPath) -> str:
    """A field path as written: ``user.name``, ``items[0]``, ``["odd key"]``."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", step):
            out += f".{step}" if out else step
        else:
            out += f"[{json.dumps(step, ensure_ascii=False)}]"
    return out


@dataclass(frozen=True, slots=True)
class Expectation:
    """The conditions of an ``expect`` step (see the module docstring); placeholders are
    expanded when the step runs."""

    hex: str | None = None
    text: str | None = None
    regex: str | None = None
    fields: Any = _MISSING
    where: str | None = None
    decoder: str | None = None
    ignore: tuple[Ignore, ...] = ()
    closed: bool = False
    capture: Mapping[str, FieldPath] = field(default_factory=dict)

    @property
    def has_fields(self) -> bool:
        return self.fields is not _MISSING

    def names(self) -> set[str]:
        """The placeholders it uses."""
        found: set[str] = set()
        for text in (self.hex, self.text, self.regex, self.where):
            if text is not None:
                found |= placeholders(text)
        if self.has_fields:
            found |= names_in([self.fields])
        return found

    def captures(self) -> set[str]:
        """The variables it sets: ``capture`` names and the regex's named groups."""
        names = set(self.capture)
        if self.regex is not None:
            names |= set(re.compile(_without_placeholders(self.regex)).groupindex)
        return names

    def describe(self) -> str:
        """What it expects, in a few words (for reports): ``text 'ok'``, ``where op == 1``."""
        if self.closed:
            return "the peer to close the connection"
        parts = []
        if self.hex is not None:
            parts.append(f"hex {self.hex}")
        if self.text is not None:
            parts.append(f"text {self.text!r}")
        if self.regex is not None:
            parts.append(f"regex /{self.regex}/")
        if self.has_fields:
            parts.append(f"fields {json.dumps(self.fields, ensure_ascii=False)}")
        if self.where is not None:
            parts.append(f"where {self.where}")
        if not parts:
            parts.append("any frame")
        shown = " and ".join(parts)
        if self.ignore:
            shown += f" (ignoring {', '.join(i.text for i in self.ignore)})"
        return shown


def _without_placeholders(pattern: str) -> str:
    return PLACEHOLDER.sub("", pattern)


@dataclass(slots=True)
class FrameView:
    """A received frame, decoded once and only if a condition needs it."""

    payload: bytes
    decoder: Decoder
    encoding: str = DEFAULT_ENCODING
    decode_payload: Callable[[bytes, Decoder], Decoded] = field(default=decode)
    _decoded: dict[str, Decoded] = field(default_factory=dict)

    def decoded(self, name: str | None = None) -> Decoded:
        decoder = self.decoder if name is None else decoder_for(name)
        found = self._decoded.get(decoder.name)
        if found is None:
            found = self._decoded[decoder.name] = self.decode_payload(self.payload, decoder)
        return found

    def text(self) -> str:
        return self.payload.decode(self.encoding, "backslashreplace")


@dataclass(frozen=True, slots=True)
class Match:
    captured: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Why a frame is not what was expected.

    ``condition``: which failed (``hex``, ``text``, ``regex``, ``fields``, ``where``,
    ``capture``, ``closed``); ``expected``: the expected bytes when the condition is
    exact; ``expected_text``: what was expected, in words; ``detail``: where the frame
    differs (``first difference at byte 27: ...``); ``decoder``: the decoding used.
    """

    condition: str
    expected_text: str
    detail: str = ""
    expected: bytes | None = None
    decoder: str | None = None


def check(expectation: Expectation, frame: FrameView, variables: Variables) -> Match | Mismatch:
    """Check ``frame`` against ``expectation`` (placeholders expanded from ``variables``).

    Raises:
        ExpansionError: a placeholder without a value, or a bad expanded pattern.
    """
    if expectation.closed:
        return Mismatch("closed", "the peer to close the connection", "a frame came instead")
    captured: dict[str, Any] = {}
    for exact in ("hex", "text"):
        spelled = getattr(expectation, exact)
        if spelled is None:
            continue
        expected = _exact_bytes(exact, spelled, variables, frame.encoding)
        detail = _compare_bytes(expected, frame, expectation.ignore, expectation.decoder)
        if detail is not None:
            shown = f"text {variables.expand_text(spelled)!r}" if exact == "text" else "these bytes"
            return Mismatch(exact, shown, detail, expected, _decoder_used(expectation, frame))
    if expectation.regex is not None:
        pattern = variables.expand_regex(expectation.regex)
        try:
            found = re.search(pattern, frame.text(), re.DOTALL)
        except re.error as exc:
            raise ExpansionError(f"regex /{pattern}/: {exc}") from None
        if found is None:
            return Mismatch("regex", f"text matching /{pattern}/", "the text does not match")
        captured.update({k: v for k, v in found.groupdict().items() if v is not None})
    needs_decoding = expectation.has_fields or expectation.where is not None or expectation.capture
    if needs_decoding:
        decoded = frame.decoded(expectation.decoder)
        plain = to_plain(decoded.root)
        if expectation.has_fields:
            wanted = variables.expand_value(expectation.fields)
            difference = _subset_difference(wanted, plain, ())
            if difference is not None:
                shown = f"fields {json.dumps(wanted, ensure_ascii=False)}"
                return Mismatch("fields", shown, difference, decoder=decoded.decoder)
        if expectation.where is not None:
            text = variables.expand_expression(expectation.where)
            try:
                condition = compile_expression(text)
            except ExpressionError as exc:
                raise ExpansionError(f"where {text!r}: {exc}") from None
            if not condition.matches(plain, len(frame.payload), decoded.decoder):
                return Mismatch(
                    "where",
                    f"a frame where {text}",
                    "the condition is false",
                    decoder=decoded.decoder,
                )
        for name, path in expectation.capture.items():
            value = get_path(plain, path)
            if value is _MISSING:
                return Mismatch(
                    "capture",
                    f"a field {format_path(path)} to capture as {name}",
                    f"the frame has no field {format_path(path)}",
                    decoder=decoded.decoder,
                )
            captured[name] = value
    return Match(captured)


def _decoder_used(expectation: Expectation, frame: FrameView) -> str | None:
    if any(i.path is not None for i in expectation.ignore):
        return frame.decoded(expectation.decoder).decoder
    return None


def _exact_bytes(kind: str, spelled: str, variables: Variables, encoding: str) -> bytes:
    text = variables.expand_text(spelled)
    try:
        return parse_hex(text) if kind == "hex" else encode_text(text, encoding)
    except (HexError, TextEncodingError) as exc:
        raise ExpansionError(f"{kind} {text!r}: {exc}") from None


def _compare_bytes(
    expected: bytes, frame: FrameView, ignore: tuple[Ignore, ...], decoder: str | None
) -> str | None:
    """None when the frame is ``expected`` (outside the ignored ranges, or, with ignored
    fields, decoded equal outside them); else where it differs."""
    got = frame.payload
    ranges = [i for i in ignore if i.path is None]
    paths = [i.path for i in ignore if i.path is not None]
    byte_difference = _byte_difference(expected, got, ranges)
    if byte_difference is None:
        return None
    if not paths:
        return byte_difference
    chosen = decoder_for(decoder) if decoder is not None else frame.decoder
    expected_decoded = frame.decode_payload(expected, chosen)
    got_decoded = frame.decoded(decoder)
    if not (expected_decoded.ok and got_decoded.ok):
        return byte_difference
    if expected_decoded.decoder != got_decoded.decoder:
        return (
            f"{byte_difference}; it decodes as {got_decoded.decoder}, the expected frame as "
            f"{expected_decoded.decoder}"
        )
    left = _without(to_plain(expected_decoded.root), paths)
    right = _without(to_plain(got_decoded.root), paths)
    difference = _first_difference(left, right, ())
    if difference is None:
        return None
    return f"{difference} (decoded as {got_decoded.decoder})"


def _byte_difference(expected: bytes, got: bytes, ranges: list[Ignore]) -> str | None:
    """Where ``got`` differs from ``expected`` outside ``ranges`` (an open range ``N-``
    leaves out the rest of both, whatever their lengths), or None."""
    open_from = min((i.start for i in ranges if i.end is None), default=None)
    compared = max(len(expected), len(got)) if open_from is None else open_from
    for offset in range(min(len(expected), len(got), compared)):
        if expected[offset] != got[offset] and not any(i.covers(offset) for i in ranges):
            return (
                f"first difference at byte {offset}: expected {expected[offset]:02x}, "
                f"got {got[offset]:02x}"
            )
    if min(len(expected), compared) != min(len(got), compared):
        same = min(len(expected), len(got), compared)
        return (
            f"the frame is {len(got)} bytes, expected {len(expected)} (the first {same} are "
            "the same)"
        )
    return None


def get_path(value: Any, path: FieldPath) -> Any:
    """The value at ``path``, or ``_MISSING``."""
    for step in path:
        if isinstance(value, dict) and isinstance(step, str):
            value = value.get(step, _MISSING)
        elif isinstance(value, list) and isinstance(step, int) and -len(value) <= step < len(value):
            value = value[step]
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def _without(value: Any, paths: list[FieldPath]) -> Any:
    """A copy of ``value`` without the fields at ``paths`` (a missing one is no error)."""
    result = copy.deepcopy(value)
    for path in paths:
        parent = get_path(result, path[:-1])
        last = path[-1]
        if isinstance(parent, dict) and isinstance(last, str):
            parent.pop(last, None)
        elif (
            isinstance(parent, list)
            and isinstance(last, int)
            and -len(parent) <= last < len(parent)
        ):
            parent[last] = None  # keep the other elements' positions
    return result


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    if isinstance(expected, int | float) and isinstance(got, int | float):
        return expected == got
    return type(expected) is type(got) and expected == got


def _hex_value(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("$hex"), str):
        try:
            return bytes.fromhex(value["$hex"]).hex()
        except ValueError:
            return None
    return None


def _shown(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    return json.dumps(value, ensure_ascii=False)


def _subset_difference(expected: Any, got: Any, path: FieldPath) -> str | None:
    """Where ``got`` does not hold ``expected`` (maps may have more keys), or None."""
    where = format_path(path) or "the value"
    as_hex = _hex_value(expected)
    if as_hex is not None:
        return None if got == as_hex else f"at {where}: expected bytes {as_hex}, got {_shown(got)}"
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"at {where}: expected a map, got {_shown(got)}"
        for key, value in expected.items():
            if key not in got:
                return f"no field {format_path((*path, key))}"
            difference = _subset_difference(value, got[key], (*path, key))
            if difference is not None:
                return difference
        return None
    if isinstance(expected, list):
        if not isinstance(got, list):
            return f"at {where}: expected a list, got {_shown(got)}"
        if len(expected) != len(got):
            return f"at {where}: expected {len(expected)} elements, got {len(got)}"
        for number, (item, other) in enumerate(zip(expected, got, strict=True)):
            difference = _subset_difference(item, other, (*path, number))
            if difference is not None:
                return difference
        return None
    if not _same(expected, got):
        return f"at {where}: expected {_shown(expected)}, got {_shown(got)}"
    return None


def _first_difference(expected: Any, got: Any, path: FieldPath) -> str | None:
    """Where two decoded values differ (both ways: extra keys count), or None."""
    where = format_path(path) or "the value"
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in expected:
            if key not in got:
                return f"no field {format_path((*path, key))}"
            difference = _first_difference(expected[key], got[key], (*path, key))
            if difference is not None:
                return difference
        extra = [key for key in got if key not in expected]
        if extra:
            return f"an extra field {format_path((*path, extra[0]))}"
        return None
    if isinstance(expected, list) and isinstance(got, list):
        for number, (item, other) in enumerate(zip(expected, got, strict=False)):
            difference = _first_difference(item, other, (*path, number))
            if difference is not None:
                return difference
        if len(expected) != len(got):
            return f"at {where}: expected {len(expected)} elements, got {len(got)}"
        return None
    if not _same(expected, got):
        return f"at {where}: expected {_shown(expected)}, got {_shown(got)}"
    return None


def expected_payload(expectation: Expectation, variables: Variables, encoding: str) -> bytes | None:
    """The exact bytes an expectation wants (``hex`` or ``text``), None if it has neither.

    Raises:
        ExpansionError: a placeholder without a value, or not hex once expanded.
    """
    if expectation.hex is not None:
        return _exact_bytes("hex", expectation.hex, variables, encoding)
    if expectation.text is not None:
        return _exact_bytes("text", expectation.text, variables, encoding)
    return None
