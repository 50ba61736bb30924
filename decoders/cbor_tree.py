"""CBOR → tree, with spans: ``cbor2`` decodes the values, a header walk finds the bytes.

Strategy: cbor2 decodes a whole item at a time and says nothing about where the items
inside it are. So the walker reads only the *heads* of containers (RFC 8949 §3: a major
type in the top 3 bits of the first byte and a count after it) and hands every leaf to
``cbor2.CBORDecoder`` positioned on the leaf's first byte; the stream position before and
after is the leaf's span. Strings, numbers, simple values, floats and every tag with a
meaning (dates, big numbers, decimals, UUIDs...) are decoded by cbor2 alone. A tag cbor2
does not know, or one around a container, becomes a ``TAGGED`` node around the walked
item. Items past ``max_children`` are decoded and dropped to find where they end.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import cbor2

from decoders.msgpack_tree import key_name
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

__all__ = ["decode_cbor"]

_ARRAY, _MAP, _TAG, _SIMPLE = 4, 5, 6, 7
_BREAK = 0xFF
_INDEFINITE = 31
_MAJOR_TYPES = {0: "uint", 1: "negint", 2: "bytes", 3: "text", 7: "simple"}
_FLOAT_HEADS = {0xF9: "float16", 0xFA: "float32", 0xFB: "float64"}
_SIMPLE_HEADS = {0xF4: "bool", 0xF5: "bool", 0xF6: "null", 0xF7: "undefined"}
# cbor2 raises CBORError subclasses for bad input, and on some malformed tag contents
# (a date from a string that is not one, a huge exponent) the ValueError, TypeError or
# OverflowError of the constructor it calls; RecursionError on absurd nesting.
_BAD_INPUT = (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError)


class _Invalid(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def decode_cbor(payload: bytes, limits: Limits) -> Node:
    """The tree of one CBOR data item that must fill the whole payload."""
    if not payload:
        return error_tree("cbor: empty payload", payload, 0)
    walker = _Walker(payload, limits)
    top: list[Node] = []
    try:
        end = walker.item(top, 0, "", None, None, 0)
    except OutOfTime as exc:
        if not isinstance(exc, Enough):
            top[0].children.append(stopped_node(walker.budget, walker.at, len(payload)))
        return top[0]
    except _Invalid as exc:
        return error_tree(f"cbor: {exc}", payload, exc.offset)
    except _BAD_INPUT as exc:
        return error_tree(f"cbor: {str(exc) or type(exc).__name__}", payload, walker.at)
    if end != len(payload):
        return error_tree(f"cbor: {len(payload) - end:,} bytes after the item", payload, end)
    return top[0]


class _Walker:
    def __init__(self, payload: bytes, limits: Limits) -> None:
        self.payload = payload
        self.limits = limits
        self.budget = Budget(limits)
        self.stream = io.BytesIO(payload)
        # read_size=1: the decoder must not read ahead, or the stream position would not
        # be where the item ended.
        self.decoder = cbor2.CBORDecoder(self.stream, read_size=1)
        self.at = 0

    def head(self, pos: int) -> tuple[int, int | None, int]:
        """Major type, argument (None: indefinite length) and the head's end at ``pos``."""
        payload = self.payload
        if pos >= len(payload):
            raise _Invalid("truncated: the payload ends before this item", pos)
        first = payload[pos]
        major, info = first >> 5, first & 0x1F
        if info < 24:
            return major, info, pos + 1
        if info < 28:
            size = 1 << (info - 24)
            if pos + 1 + size > len(payload):
                raise _Invalid("truncated: the payload ends inside an item's head", pos)
            return major, int.from_bytes(payload[pos + 1 : pos + 1 + size], "big"), pos + 1 + size
        if info == _INDEFINITE and major in (2, 3, _ARRAY, _MAP):
            return major, None, pos + 1
        raise _Invalid(f"invalid initial byte 0x{first:02x}", pos)

    def leaf(self, pos: int) -> tuple[object, int]:
        """The item at ``pos`` decoded by cbor2, and where it ends."""
        self.at = pos
        self.stream.seek(pos)
        value = self.decoder.decode()
        return value, self.stream.tell()

    def item(
        self,
        out: list[Node],
        pos: int,
        name: str,
        key: object,
        key_span: Span | None,
        depth: int,
    ) -> int:
        """Append the node of the item at ``pos`` to ``out``; return where the item ends."""
        self.budget.step()
        self.at = pos
        major, argument, body = self.head(pos)
        if major == _TAG:
            return self.tagged(out, pos, argument, body, name, key, key_span, depth)
        if major not in (_ARRAY, _MAP):
            value, end = self.leaf(pos)
            kind_type = self.scalar_type(pos, major)
            out.append(
                Node(Kind.SCALAR, kind_type, name, value, Span(pos, end - pos), [], key, key_span)
            )
            return end
        is_map = major == _MAP
        if argument is not None and argument * (2 if is_map else 1) > len(self.payload) - body:
            what = "map" if is_map else "array"
            raise _Invalid(
                f"{what} of {argument:,} items in {len(self.payload) - body:,} bytes", pos
            )
        node = Node(Kind.MAP if is_map else Kind.ARRAY, "map" if is_map else "array", name, key=key)
        node.key_span = key_span
        out.append(node)
        limit = 0 if depth >= self.limits.max_depth else self.limits.max_children
        at, index = body, 0
        while (argument is None and not self.at_break(at)) or (
            argument is not None and index < argument
        ):
            if index == limit:
                if index:
                    stop_here(node, self.limits)
                return self.skip_rest(node, pos, at, argument, index, is_map)
            if is_map:
                key_value, key_end = self.leaf_or_item_key(at)
                at = self.item(
                    node.children,
                    key_end,
                    key_name(key_value),
                    key_value,
                    Span(at, key_end - at),
                    depth + 1,
                )
            else:
                at = self.item(node.children, at, f"[{index}]", index, None, depth + 1)
            index += 1
        end = at + 1 if argument is None else at
        node.span = Span(pos, end - pos)
        return end

    def leaf_or_item_key(self, pos: int) -> tuple[object, int]:
        """A map key, decoded whole by cbor2 (keys are shown, never walked)."""
        self.head(pos)  # a clear error for a truncated or invalid key head
        return self.leaf(pos)

    def at_break(self, pos: int) -> bool:
        if pos >= len(self.payload):
            raise _Invalid("truncated: an indefinite-length item has no break", pos)
        return self.payload[pos] == _BREAK

    def skip_rest(
        self, node: Node, pos: int, at: int, count: int | None, shown: int, is_map: bool
    ) -> int:
        rest, skipped = at, shown
        while (count is None and not self.at_break(at)) or (count is not None and skipped < count):
            self.budget.step()
            for _ in range(2 if is_map else 1):
                _, at = self.leaf(at)
            skipped += 1
        end = at + 1 if count is None else at
        node.children.append(
            more_node(left_out(skipped - shown, shown, self.limits), Span(rest, at - rest))
        )
        node.span = Span(pos, end - pos)
        return end

    def tagged(
        self,
        out: list[Node],
        pos: int,
        tag: int | None,
        body: int,
        name: str,
        key: object,
        key_span: Span | None,
        depth: int,
    ) -> int:
        value, end = self.leaf(pos)
        if not isinstance(value, cbor2.CBORTag | Mapping | list | tuple | set | frozenset):
            # a tag cbor2 gives a meaning to (a date, a big number, a decimal...)
            out.append(
                Node(
                    Kind.SCALAR, f"tag {tag}", name, value, Span(pos, end - pos), [], key, key_span
                )
            )
            return end
        node = Node(
            Kind.TAGGED, f"tag {tag}", name, tag, Span(pos, end - pos), key=key, key_span=key_span
        )
        out.append(node)
        self.item(node.children, body, "value", None, None, depth + 1)
        return end

    def scalar_type(self, pos: int, major: int) -> str:
        first = self.payload[pos]
        if major == _SIMPLE:
            return _FLOAT_HEADS.get(first) or _SIMPLE_HEADS.get(first, "simple")
        return _MAJOR_TYPES[major]
