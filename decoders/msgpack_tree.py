"""MessagePack → tree, with spans, on ``msgpack.Unpacker``.

Strategy: the Unpacker reads the payload item by item. Before each item the walker looks
at its first byte: a map or array is opened with ``read_map_header``/``read_array_header``
and its items walked; anything else is one ``unpack()``. ``tell()`` before and after gives
every span. Items past ``max_children`` are passed over with ``skip()`` (C speed), and a
header announcing more items than there are bytes left is an error at once, so a 5-byte
payload cannot make the walker count to four billion.
"""

from __future__ import annotations

import msgpack

from decoders.tree import (
    Budget,
    Enough,
    Kind,
    Limits,
    Node,
    OutOfTime,
    Span,
    error_tree,
    left_out,
    more_node,
    stop_here,
    stopped_node,
)

__all__ = ["decode_msgpack", "key_name"]

_MAP_BYTES = frozenset([*range(0x80, 0x90), 0xDE, 0xDF])
_ARRAY_BYTES = frozenset([*range(0x90, 0xA0), 0xDC, 0xDD])
_FLOAT_TYPES = {0xCA: "float32", 0xCB: "float64"}
# What the msgpack library raises for bad input: UnpackException covers OutOfData,
# FormatError and StackError; ValueError covers invalid UTF-8 in a str and bad timestamps;
# TypeError an unhashable key inside a map used as a key.
_BAD_INPUT = (msgpack.UnpackException, ValueError, TypeError)


class _Invalid(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def decode_msgpack(payload: bytes, limits: Limits) -> Node:
    """The tree of one MessagePack value that must fill the whole payload."""
    if not payload:
        return error_tree("msgpack: empty payload", payload, 0)
    walker = _Walker(payload, limits)
    top: list[Node] = []
    try:
        walker.item(top, "", None, None, 0)
    except OutOfTime as exc:
        if not isinstance(exc, Enough):
            top[0].children.append(
                stopped_node(walker.budget, walker.unpacker.tell(), len(payload))
            )
        return top[0]
    except _Invalid as exc:
        return error_tree(f"msgpack: {exc}", payload, exc.offset)
    except _BAD_INPUT as exc:
        return error_tree(f"msgpack: {_describe(exc)}", payload, walker.at)
    end = walker.unpacker.tell()
    if end != len(payload):
        return error_tree(f"msgpack: {len(payload) - end:,} bytes after the value", payload, end)
    return top[0]


def _describe(exc: Exception) -> str:
    if isinstance(exc, msgpack.OutOfData):
        return "truncated: the payload ends inside a value"
    return str(exc) or type(exc).__name__


def key_name(key: object) -> str:
    """How a map key is shown: strings as they are, bytes in hex, anything else as repr."""
    if isinstance(key, str):
        return key
    if isinstance(key, bytes | bytearray):
        return key.hex()
    return repr(key)


def scalar_type(first_byte: int, value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return _FLOAT_TYPES.get(first_byte, "float")
    if isinstance(value, str):
        return "str"
    if isinstance(value, bytes):
        return "bin"
    if value is None:
        return "nil"
    if isinstance(value, msgpack.Timestamp):
        return "timestamp"
    if isinstance(value, msgpack.ExtType):
        return f"ext {value.code}"
    return type(value).__name__


class _Walker:
    def __init__(self, payload: bytes, limits: Limits) -> None:
        self.payload = payload
        self.limits = limits
        self.budget = Budget(limits)
        self.unpacker = msgpack.Unpacker(
            raw=False, strict_map_key=False, max_buffer_size=len(payload)
        )
        self.unpacker.feed(payload)
        self.at = 0  # where the item being read starts (the offset an error reports)

    def item(
        self, out: list[Node], name: str, key: object, key_span: Span | None, depth: int
    ) -> None:
        self.budget.step()
        u = self.unpacker
        start = self.at = u.tell()
        if start >= len(self.payload):
            raise _Invalid("truncated: the payload ends before this item", start)
        first = self.payload[start]
        is_map = first in _MAP_BYTES
        if not is_map and first not in _ARRAY_BYTES:
            value = u.unpack()
            span = Span(start, u.tell() - start)
            out.append(
                Node(Kind.SCALAR, scalar_type(first, value), name, value, span, [], key, key_span)
            )
            return
        count = u.read_map_header() if is_map else u.read_array_header()
        items = 2 * count if is_map else count
        left = len(self.payload) - u.tell()
        if items > left:
            what = "map" if is_map else "array"
            raise _Invalid(f"{what} of {count:,} items in {left:,} bytes", start)
        node = Node(Kind.MAP if is_map else Kind.ARRAY, "map" if is_map else "array", name, key=key)
        node.key_span = key_span
        out.append(node)
        shown = 0 if depth >= self.limits.max_depth else min(count, self.limits.max_children)
        for index in range(shown):
            if is_map:
                key_start = self.at = u.tell()
                child_key = u.unpack()
                child_span = Span(key_start, u.tell() - key_start)
                self.item(node.children, key_name(child_key), child_key, child_span, depth + 1)
            else:
                self.item(node.children, f"[{index}]", index, None, depth + 1)
        if shown < count:
            if shown:
                stop_here(node, self.limits)
            rest = u.tell()
            for _ in range(2 * (count - shown) if is_map else count - shown):
                self.budget.step()
                self.at = u.tell()
                u.skip()
            text = left_out(count - shown, shown, self.limits)
            node.children.append(more_node(text, Span(rest, u.tell() - rest)))
        node.span = Span(start, u.tell() - start)
