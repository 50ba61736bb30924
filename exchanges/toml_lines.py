"""Where things are in a TOML file: the line of a table or key, for error messages.

``tomllib`` parses a file into plain dicts and lists and forgets where each value was.
A script with an unknown step key or a bad regular expression must still say on which
line it is, so ``locate`` scans the source once more, line by line, and records the line
of every table header (``[vars]``, ``[[steps]]``, ``[[steps.steps]]``) and every
``key = value`` line under the path ``tomllib`` gives that value: ``("steps", 2,
"expect", "regex")`` is the ``expect.regex`` key of the third ``[[steps]]``.

The scan only runs on files ``tomllib`` accepted, so it can be simple: it skips the
bodies of multi-line strings and arrays (a key inside an inline table or an array of
inline tables is found at the line of the key holding it). ``Locations.line`` answers
with the line of the longest known prefix of a path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Locations", "locate"]

Path = tuple[str | int, ...]

_BARE = r"[A-Za-z0-9_-]+"
_BASIC = r'"(?:[^"\\]|\\.)*"'
_LITERAL = r"'[^']*'"
_KEY_PART = rf"(?:{_BARE}|{_BASIC}|{_LITERAL})"
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_ARRAY_HEADER = re.compile(rf"\s*\[\[\s*({_DOTTED})\s*\]\]")
_TABLE_HEADER = re.compile(rf"\s*\[\s*({_DOTTED})\s*\]")
_KEY_LINE = re.compile(rf"\s*({_DOTTED})\s*=\s*(.*)")
_PART = re.compile(rf"\s*({_KEY_PART})\s*\.?")
_STRING = re.compile(rf'"""|\'\'\'|{_BASIC}|{_LITERAL}')


@dataclass(slots=True)
class Locations:
    """Lines (1-based) by value path."""

    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its longest prefix that has one."""
        key = tuple(path)
        while key:
            found = self.lines.get(key)
            if found is not None:
                return found
            key = key[:-1]
        return None


def locate(source: str) -> Locations:
    """Scan ``source`` (a file ``tomllib`` parsed) for where its tables and keys are."""
    found = Locations()
    table: Path = ()
    counts: dict[Path, int] = {}
    lines = source.splitlines()
    number = 0
    while number < len(lines):
        text = lines[number]
        number += 1
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        header = _ARRAY_HEADER.match(text)
        if header is not None:
            table = _array_element(_split(header.group(1)), counts)
            found.lines.setdefault(table, number)
            continue
        header = _TABLE_HEADER.match(text)
        if header is not None:
            table = _resolve(_split(header.group(1)), counts)
            found.lines.setdefault(table, number)
            continue
        key_line = _KEY_LINE.match(text)
        if key_line is None:
            continue
        path = table + _split(key_line.group(1))
        for end in range(len(table) + 1, len(path) + 1):
            found.lines.setdefault(path[:end], number)
        number = _skip_value(key_line.group(2), lines, number)
    return found


def _split(dotted: str) -> tuple[str, ...]:
    parts: list[str] = []
    for match in _PART.finditer(dotted):
        part = match.group(1)
        if part.startswith('"'):
            part = part[1:-1].encode("utf-8").decode("unicode_escape")
        elif part.startswith("'"):
            part = part[1:-1]
        parts.append(part)
    return tuple(parts)


def _resolve(names: tuple[str, ...], counts: dict[Path, int]) -> Path:
    """A header's path, with the element index of each array of tables it goes through."""
    path: Path = ()
    for name in names:
        path += (name,)
        count = counts.get(path)
        if count is not None:
            path += (count - 1,)
    return path


def _array_element(names: tuple[str, ...], counts: dict[Path, int]) -> Path:
    parent = _resolve(names[:-1], counts)
    array = (*parent, names[-1])
    counts[array] = counts.get(array, 0) + 1
    # A new element: the arrays of tables below the previous one start over.
    for key in [k for k in counts if len(k) > len(array) and k[: len(array)] == array]:
        del counts[key]
    return (*array, counts[array] - 1)


def _skip_value(value: str, lines: list[str], number: int) -> int:
    """The index of the line after a value that may span lines (a multi-line string or
    array, or an inline table holding one)."""
    depth, open_quote = _scan(value, 0, None)
    while (depth > 0 or open_quote is not None) and number < len(lines):
        depth, open_quote = _scan(lines[number], depth, open_quote)
        number += 1
    return number


def _scan(text: str, depth: int, open_quote: str | None) -> tuple[int, str | None]:
    """Bracket depth and open multi-line string after ``text``, strings and comments
    skipped."""
    position = 0
    if open_quote is not None:
        end = text.find(open_quote)
        if end < 0:
            return depth, open_quote
        position = end + 3
    while position < len(text):
        char = text[position]
        if char == "#":
            break
        if char in "\"'":
            match = _STRING.match(text, position)
            if match is None:
                break
            if match.group(0) in ('"""', "'''"):
                quote = match.group(0)
                end = text.find(quote, match.end())
                if end < 0:
                    return depth, quote
                position = end + 3
                continue
            position = match.end()
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        position += 1
    return depth, None
