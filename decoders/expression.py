"""Field expressions: ``op == "login"``, ``seq > 100 and not error``, ``len > 1000``.

An expression is checked against a payload's *plain* decoded value (``to_plain``: the
JSON value ``--output json`` prints), so what a user sees is what they match. Grammar::

    expr    := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | compare
    compare := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "~") operand)?
    operand := path | NUMBER | STRING | true | false | null | "(" expr ")"
    path    := NAME ("." NAME | "[" INTEGER "]" | "[" STRING "]")*

- ``len`` is the payload's length in bytes and ``decoder`` the decoder's name; a field
  with one of those names is reached as ``["len"]``.
- A path that does not exist makes its comparison false; a bare path is true when the
  field exists and is not false, null, 0 or empty.
- ``~`` is "contains": a substring of a string, an element of a list, a key of a map.
- Numbers compare as numbers (``7 == 7.0``); ``<`` between a number and a string is
  false, never an error.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from decoders.errors import ExpressionError

__all__ = ["Expression", "compile_expression", "parse_path"]

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<op>==|!=|<=|>=|<|>|~|\(|\)|\[|\]|\.)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<bad>\S)
    )""",
    re.VERBOSE,
)
_COMPARISONS: dict[str, Callable[[object, object], bool]] = {
    "==": lambda a, b: _equal(a, b),
    "!=": lambda a, b: not _equal(a, b),
    "<": lambda a, b: _ordered(operator.lt, a, b),
    "<=": lambda a, b: _ordered(operator.le, a, b),
    ">": lambda a, b: _ordered(operator.gt, a, b),
    ">=": lambda a, b: _ordered(operator.ge, a, b),
    "~": lambda a, b: _contains(a, b),
}
_KEYWORDS = {"and", "or", "not", "true", "false", "null"}
_LITERALS = {"true": True, "false": False, "null": None}
_MISSING = object()


@dataclass(frozen=True, slots=True)
class _Record:
    value: object
    length: int
    decoder: str


_Eval = Callable[[_Record], object]


class Expression:
    """A compiled field expression; ``matches(plain, length, decoder)`` checks one payload."""

    def __init__(self, text: str, evaluate: _Eval) -> None:
        self.text = text
        self._evaluate = evaluate

    def matches(self, plain: object, length: int, decoder: str = "") -> bool:
        return _truthy(self._evaluate(_Record(plain, length, decoder)))

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def compile_expression(text: str) -> Expression:
    """Parse ``text``.

    Raises:
        ExpressionError: it does not parse; the message names the column and what was expected.
    """
    parser = _Parser(text)
    evaluate = parser.expression()
    if parser.peek() is not None:
        parser.fail("expected and, or, or the end")
    return Expression(text, evaluate)


def parse_path(text: str) -> tuple[str | int, ...]:
    """A field path alone (``user.name``, ``items[0]``, ``["odd key"].x``) as its steps:
    map keys (str) and list indexes (int). Scripts capture and ignore fields by path.

    Raises:
        ExpressionError: it is not a path; the message names the column.
    """
    parser = _Parser(text)
    steps: list[str | int] = []
    kind, name, _ = parser.take()
    if kind == "name":
        steps.append(name)
    elif kind == "op" and name == "[":
        parser.index -= 1
    else:
        parser.index -= 1
        parser.fail("expected a field name or [")
    while parser.peek() is not None:
        steps.append(parser.step())
    return tuple(steps)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup
            if kind is None:
                continue
            if kind == "bad":
                raise ExpressionError(
                    f"column {match.start(kind) + 1}: unexpected {match.group(kind)!r}"
                )
            self.tokens.append((kind, match.group(kind), match.start(kind)))
        if not self.tokens:
            raise ExpressionError("empty expression")
        self.index = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            self.fail("expected a value")
        self.index += 1
        return token

    def at(self, kind: str, text: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == kind and token[1] == text

    def fail(self, message: str) -> NoReturn:
        token = self.peek()
        where = f"column {token[2] + 1} ({token[1]!r})" if token else "at the end"
        raise ExpressionError(f"{where}: {message}")

    def expression(self) -> _Eval:
        left = self.conjunction()
        while self.at("name", "or"):
            self.index += 1
            left = _or(left, self.conjunction())
        return left

    def conjunction(self) -> _Eval:
        left = self.unary()
        while self.at("name", "and"):
            self.index += 1
            left = _and(left, self.unary())
        return left

    def unary(self) -> _Eval:
        if self.at("name", "not"):
            self.index += 1
            inner = self.unary()
            return lambda record: not _truthy(inner(record))
        return self.comparison()

    def comparison(self) -> _Eval:
        left = self.operand()
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in _COMPARISONS:
            self.index += 1
            right = self.operand()
            compare = _COMPARISONS[token[1]]
            return lambda record: _compare(compare, left(record), right(record))
        return left

    def operand(self) -> _Eval:
        kind, text, _ = self.take()
        if kind == "number":
            number = float(text) if any(c in text for c in ".eE") else int(text)
            return lambda record: number
        if kind == "string":
            literal = _unquote(text)
            return lambda record: literal
        if kind == "op" and text == "(":
            inner = self.expression()
            if not self.at("op", ")"):
                self.fail("expected ')'")
            self.index += 1
            return inner
        if kind == "op" and text == "[":
            self.index -= 1
            return self.path(lambda record: record.value)
        if kind == "name" and text in _LITERALS:
            literal_value = _LITERALS[text]
            return lambda record: literal_value
        if kind == "name" and text not in _KEYWORDS:
            if text == "len":
                return self.path(lambda record: record.length)
            if text == "decoder":
                return self.path(lambda record: record.decoder)
            return self.path(_step(lambda record: record.value, text))
        self.index -= 1
        self.fail("expected a field, a number, a string, true, false or null")

    def path(self, base: _Eval) -> _Eval:
        getter = base
        while self.at("op", ".") or self.at("op", "["):
            getter = _step(getter, self.step())
        return getter

    def step(self) -> str | int:
        """One ``.name`` or ``[index]``/``["key"]`` of a path."""
        if self.at("op", "."):
            self.index += 1
            kind, text, _ = self.take()
            if kind != "name":
                self.index -= 1
                self.fail("expected a field name after '.'")
            return text
        if not self.at("op", "["):
            self.fail("expected '.' or '['")
        self.index += 1
        kind, text, _ = self.take()
        key: str | int
        if kind == "number" and re.fullmatch(r"-?\d+", text):
            key = int(text)
        elif kind == "string":
            key = _unquote(text)
        else:
            self.index -= 1
            self.fail("expected an index or a quoted key inside [ ]")
        if not self.at("op", "]"):
            self.fail("expected ']'")
        self.index += 1
        return key


def _unquote(text: str) -> str:
    if text.startswith("'"):
        text = '"' + text[1:-1].replace('\\"', '"').replace('"', '\\"') + '"'
    try:
        return str(json.loads(text))
    except json.JSONDecodeError:
        return text[1:-1]


def _step(base: _Eval, key: str | int) -> _Eval:
    def get(record: _Record) -> object:
        value = base(record)
        if isinstance(value, dict):
            return value.get(str(key), _MISSING) if isinstance(key, str | int) else _MISSING
        if isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
            return value[key]
        return _MISSING

    return get


def _or(left: _Eval, right: _Eval) -> _Eval:
    return lambda record: _truthy(left(record)) or _truthy(right(record))


def _and(left: _Eval, right: _Eval) -> _Eval:
    return lambda record: _truthy(left(record)) and _truthy(right(record))


def _truthy(value: object) -> bool:
    return value is not _MISSING and bool(value)


def _compare(compare: Callable[[object, object], bool], left: object, right: object) -> bool:
    if left is _MISSING or right is _MISSING:
        return False
    return compare(left, right)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(left: object, right: object) -> bool:
    if _is_number(left) and _is_number(right):
        return left == right
    return type(left) is type(right) and left == right


def _ordered(compare: Callable[[Any, Any], Any], left: object, right: object) -> bool:
    if (_is_number(left) and _is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    ):
        return bool(compare(left, right))
    return False


def _contains(container: object, item: object) -> bool:
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, list):
        return any(_equal(element, item) for element in container)
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    return False
