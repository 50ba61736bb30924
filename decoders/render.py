"""What a tree looks like outside: a one-line summary, a plain JSON value, a node by offset.

- ``summary(decoded)``: ``{op: "login", user: "ana", seq: 7}``, at most ``width``
  characters, built only as far as it is shown (the log calls it for every visible row).
- ``to_plain(node)``: the tree as a JSON value (maps, lists, numbers, strings; bytes as
  hex strings; what the limits left out as ``"… N more"``), for ``--output json`` and
  scripts. A repeated protobuf field becomes a list.
- ``node_at(root, offset)``: the innermost node whose bytes hold ``offset`` (the GUI's
  "click a byte, select its field").
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Mapping, Set

import cbor2
import msgpack

from decoders.msgpack_tree import key_name
from decoders.registry import Decoded
from decoders.tree import Kind, Node

__all__ = ["SUMMARY_WIDTH", "format_value", "node_at", "summary", "to_plain"]

#: Characters in a one-line summary before it is cut with "…".
SUMMARY_WIDTH = 160
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BYTES_SHOWN = 32
# Text summaries stay one line and never put a control character on a terminal.
_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(32), 127]} | {
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}


def summary(decoded: Decoded, width: int = SUMMARY_WIDTH) -> str:
    """One line for the log's Data column and the CLI's text output."""
    root = decoded.root
    if root.kind is Kind.ERROR:
        text = f"⚠ {root.value}"
    elif decoded.decoder == "text" and isinstance(root.value, str):
        text = root.value.translate(_CONTROL_ESCAPES)
    else:
        parts: list[str] = []
        _summarize(root, parts, width + 1)
        text = "".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"


def _summarize(node: Node, out: list[str], budget: int) -> int:
    """Append ``node``'s text to ``out`` until ``budget`` characters; return what is left."""
    if budget <= 0:
        return budget
    if node.kind is Kind.SCALAR:
        text = format_value(node.value)
    elif node.kind is Kind.ERROR:
        text = f"⚠ {node.value}"
    elif node.kind is Kind.MORE:
        text = "…"
    elif node.kind is Kind.TAGGED:
        out.append(f"{node.value}(")
        budget = (
            _summarize(node.children[0], out, budget - len(out[-1])) if node.children else budget
        )
        text = ")"
    else:
        keyed = node.kind is not Kind.ARRAY
        out.append("{" if keyed else "[")
        budget -= 1
        entries = _fields(node) if node.kind is Kind.MESSAGE else [[c] for c in node.children]
        for index, group in enumerate(entries):
            if budget <= 0:
                return budget
            if index:
                out.append(", ")
                budget -= 2
            if keyed and group[0].kind is not Kind.MORE:
                key = _key_text(group[0])
                out.append(f"{key}: ")
                budget -= len(key) + 2
            if node.kind is not Kind.MESSAGE or (
                len(group) == 1 and (group[0].kind is Kind.ARRAY or not _is_repeated(group[0]))
            ):
                budget = _summarize(group[0], out, budget)
            else:  # a repeated field: its values as one list, packed runs flattened
                values = [v for c in group for v in (c.children if c.kind is Kind.ARRAY else [c])]
                budget = _summarize(Node(Kind.ARRAY, "repeated", children=values), out, budget)
        text = "}" if keyed else "]"
    out.append(text)
    return budget - len(text)


def _key_text(node: Node) -> str:
    name = node.name
    return (
        name if _IDENTIFIER.match(name) or name.isdigit() else json.dumps(name, ensure_ascii=False)
    )


def format_value(value: object) -> str:
    """A scalar as the summary and the field tree show it: JSON-like, bytes in hex."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes | bytearray):
        shown = value[:_BYTES_SHOWN].hex(" ")
        return f"<{shown}{' …' if len(value) > _BYTES_SHOWN else ''}>" if value else "<>"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, msgpack.ExtType):
        return f"ext {value.code} {format_value(value.data)}"
    if isinstance(value, msgpack.Timestamp):
        return str(value.to_datetime().isoformat())
    return str(value)


def to_plain(node: Node) -> object:
    """The tree as a JSON value (see the module docstring)."""
    kind = node.kind
    if kind is Kind.SCALAR:
        return _plain_scalar(node.value)
    if kind is Kind.ERROR:
        offset = node.span.offset if node.span else 0
        raw = next((c.value for c in node.children if isinstance(c.value, bytes)), None)
        plain: dict[str, object] = {"error": node.value, "offset": offset}
        if raw is not None:
            plain["hex"] = raw.hex()
        return plain
    if kind is Kind.MORE:
        return f"… {node.value}"
    if kind is Kind.TAGGED:
        return {"tag": node.value, "value": to_plain(node.children[0]) if node.children else None}
    if kind is Kind.ARRAY:
        return [to_plain(child) for child in node.children]
    if kind is Kind.MAP:
        return {("…" if c.kind is Kind.MORE else _plain_key(c)): to_plain(c) for c in node.children}
    result: dict[str, object] = {}
    for group in _fields(node):
        key = "…" if group[0].kind is Kind.MORE else _plain_key(group[0])
        if len(group) == 1 and not _is_repeated(group[0]):
            result[key] = to_plain(group[0])
            continue
        values: list[object] = []
        for child in group:
            value = to_plain(child)
            values.extend(
                value if child.kind is Kind.ARRAY and isinstance(value, list) else [value]
            )
        result[key] = values
    return result


def _fields(message: Node) -> list[list[Node]]:
    """A message's children grouped by field, in first-seen order (fields may repeat)."""
    groups: dict[str, list[Node]] = {}
    for child in message.children:
        groups.setdefault("…" if child.kind is Kind.MORE else _plain_key(child), []).append(child)
    return list(groups.values())


def _is_repeated(node: Node) -> bool:
    """Declared repeated by a schema (a list even when it occurs once)."""
    return node.type.startswith(("repeated ", "packed "))


def _plain_key(node: Node) -> str:
    key = node.key if node.key is not None else node.name
    return key_name(key) if not isinstance(key, int | float) else str(key)


def _plain_scalar(value: object) -> object:
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, str):  # a subclass (construct's enum names): the plain string
        return str.__str__(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, msgpack.ExtType):
        return {"ext": value.code, "hex": value.data.hex()}
    if isinstance(value, msgpack.Timestamp):
        return value.to_datetime().isoformat()
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, cbor2.CBORSimpleValue):
        return {"simple": value.value}
    if value is cbor2.undefined:
        return None
    if isinstance(value, Mapping):
        return {key_name(k): _plain_scalar(v) for k, v in value.items()}
    if isinstance(value, list | tuple | Set):
        return [_plain_scalar(v) for v in value]
    return str(value)


def _in_key(node: Node, offset: int) -> bool:
    return node.key_span is not None and offset in node.key_span


def node_at(root: Node, offset: int) -> Node | None:
    """The innermost node whose bytes (or key bytes) hold ``offset``; None outside all."""
    if root.span is not None and offset not in root.span and not _in_key(root, offset):
        return None
    found: Node | None = root if root.span is not None else None
    node = root
    while True:
        for child in node.children:
            if _in_key(child, offset):
                return child
            if child.span is not None and offset in child.span:
                found = node = child
                break
            if child.span is None and child.children:
                inner = node_at(child, offset)
                if inner is not None:
                    return inner
        else:
            return found
