"""JSON → tree, with spans, on the standard library's scanner.

Strategy: ``json.loads`` validates the whole payload first (C speed; its error position
says where it broke). The walk for spans then runs over the payload decoded as Latin-1,
where one character is one byte, so every index is a byte offset: objects and arrays are
stepped through by hand, strings are read by ``json.decoder.scanstring`` and numbers and
literals by ``JSONDecoder.raw_decode``, which also returns where a value ends. Strings
are re-decoded from their bytes as UTF-8, so their values are exact. A container past
the depth limit, or the rest of one past ``max_children``, is measured with one
``raw_decode`` (C speed) instead of being walked.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]  # public, not in typeshed

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

__all__ = ["decode_json"]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_BOM = b"\xef\xbb\xbf"


def decode_json(payload: bytes, limits: Limits) -> Node:
    """The tree of one JSON text (UTF-8) filling the whole payload (whitespace around it)."""
    start = len(_BOM) if payload.startswith(_BOM) else 0
    try:
        whole = json.loads(payload[start:].decode("utf-8"))
    except UnicodeDecodeError as exc:
        return error_tree(f"json: invalid UTF-8 ({exc.reason})", payload, start + exc.start)
    except json.JSONDecodeError as exc:
        # exc.pos counts characters; the tree's offsets count bytes
        offset = start + len(exc.doc[: exc.pos].encode("utf-8"))
        return error_tree(f"json: {exc.msg}", payload, offset)
    except RecursionError:
        return error_tree("json: nested too deeply to decode", payload, start)
    walker = _Walker(payload, limits)
    top: list[Node] = []
    try:
        walker.value(top, walker.skip_space(start), "", None, None, 0, whole)
    except OutOfTime as exc:
        if not isinstance(exc, Enough):
            top[0].children.append(stopped_node(walker.budget, walker.at, len(payload)))
    return top[0]


class _Walker:
    def __init__(self, payload: bytes, limits: Limits) -> None:
        self.payload = payload
        self.text = payload.decode("latin-1")
        self.limits = limits
        self.budget = Budget(limits)
        self.at = 0

    def skip_space(self, pos: int) -> int:
        match = _WHITESPACE.match(self.text, pos)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    def string(self, pos: int) -> tuple[str, int]:
        _, end = scanstring(self.text, pos + 1)
        return json.loads(self.payload[pos:end].decode("utf-8")), end

    def value(
        self,
        out: list[Node],
        pos: int,
        name: str,
        key: object,
        key_span: Span | None,
        depth: int,
        decoded: object,
    ) -> int:
        """Append the node of the value at ``pos``; return where it ends.

        ``decoded`` is the same value as ``json.loads`` made it: it gives the size of a
        container whose items are not all shown.
        """
        self.budget.step()
        self.at = pos
        char = self.text[pos]
        if char not in "{[":
            if char == '"':
                value, end = self.string(pos)
                kind_type = "string"
            else:
                value, end = _DECODER.raw_decode(self.text, pos)
                kind_type = _scalar_type(value)
            out.append(
                Node(Kind.SCALAR, kind_type, name, value, Span(pos, end - pos), [], key, key_span)
            )
            return end
        is_object = char == "{"
        node = Node(Kind.MAP if is_object else Kind.ARRAY, "object" if is_object else "array", name)
        node.key, node.key_span = key, key_span
        out.append(node)
        closing = "}" if is_object else "]"
        size = len(decoded) if isinstance(decoded, dict | list) else None
        limit = 0 if depth >= self.limits.max_depth else self.limits.max_children
        at = self.skip_space(pos + 1)
        index = 0
        while self.text[at] != closing:
            if index == limit:
                if index:
                    stop_here(node, self.limits)
                end = _DECODER.raw_decode(self.text, pos)[1]
                rest = Span(at, end - 1 - at)
                count = None if size is None else max(size - index, 1)
                node.children.append(more_node(left_out(count, index, self.limits), rest))
                node.span = Span(pos, end - pos)
                return end
            if is_object:
                child_key, key_end = self.string(at)
                colon = self.skip_space(key_end)
                child_span = Span(at, key_end - at)
                value_at = self.skip_space(colon + 1)
                item = decoded.get(child_key) if isinstance(decoded, dict) else None
                at = self.value(
                    node.children, value_at, child_key, child_key, child_span, depth + 1, item
                )
            else:
                item = (
                    decoded[index] if isinstance(decoded, list) and index < len(decoded) else None
                )
                at = self.value(node.children, at, f"[{index}]", index, None, depth + 1, item)
            index += 1
            at = self.skip_space(at)
            if self.text[at] == ",":
                at = self.skip_space(at + 1)
        node.span = Span(pos, at + 1 - pos)
        return at + 1


def _scalar_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    if isinstance(value, int):
        return "int"
    return "float"
