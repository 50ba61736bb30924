"""Custom binary layouts: a ``construct`` layout from the user's ``FILE.py:NAME``, with spans.

A layout file is plain Python that builds ``construct`` objects, for example the common
"first byte selects the message type" dispatch::

    from construct import Byte, Int16ub, PascalString, Struct, Switch, this
    Login = Struct("user" / PascalString(Byte, "utf8"))
    MESSAGE = Struct("type" / Byte, "id" / Int16ub, "body" / Switch(this.type, {1: Login}))

and ``--layout layouts.py:MESSAGE`` decodes with it.

Strategy: construct parses the whole payload (its semantics, not ours) but reports no
offsets. Every sub-construct is parsed through ``Construct._parsereport``; while a layout
decode runs, a wrapper around that one method records a *frame* per call (which construct,
which stream, where it started and ended, what it returned). The tree is then built from
the parsed value: a ``Container``'s fields get the spans of the named frames under the
frame that made it, a list's elements those of the frames that made them. Sub-streams
(``Prefixed``, ``FixedSized``...) are mapped back to payload offsets through the frame
that read their bytes; bit-level streams (``BitStruct``) have no byte spans and show none.
The wrapper records only for the thread whose decode is running and costs one
thread-local lookup otherwise.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import construct

from decoders.errors import DecoderConfigError
from decoders.tree import Kind, Limits, Node, Span, error_tree, left_out, more_node

__all__ = ["LayoutDecoder", "load_layout"]

_FORMATS = {
    "B": "uint8", "b": "int8", "H": "uint16", "h": "int16", "I": "uint32", "i": "int32",
    "L": "uint32", "l": "int32", "Q": "uint64", "q": "int64", "e": "float16", "f": "float32",
    "d": "float64", "?": "bool",
}  # fmt: skip
_ORDERS = {">": " be", "<": " le", "=": "", "!": " be", "@": ""}


@dataclass(slots=True, eq=False)
class _Frame:
    con: Any
    stream: Any
    start: int | None
    parent: _Frame | None
    end: int | None = None
    obj: Any = None
    done: bool = False
    children: list[_Frame] = field(default_factory=list)


class _Trace(threading.local):
    def __init__(self) -> None:
        self.stack: list[_Frame] | None = None
        # The innermost frame that returned each container (wrappers return it again).
        self.made: dict[int, _Frame] = {}
        self.error_frame: _Frame | None = None
        self.error: BaseException | None = None


_TRACE = _Trace()
_ORIGINAL_PARSEREPORT = construct.Construct._parsereport
_install_lock = threading.Lock()


def _tell(stream: Any) -> int | None:
    try:
        return int(stream.tell())
    except Exception:  # a stream without tell(): that frame has no span
        return None


def _traced_parsereport(self: Any, stream: Any, context: Any, path: Any) -> Any:
    stack = _TRACE.stack
    if stack is None:
        return _ORIGINAL_PARSEREPORT(self, stream, context, path)
    parent = stack[-1] if stack else None
    frame = _Frame(self, stream, _tell(stream), parent)
    if parent is not None:
        parent.children.append(frame)
    stack.append(frame)
    try:
        obj = _ORIGINAL_PARSEREPORT(self, stream, context, path)
    except BaseException as exc:
        if exc is not _TRACE.error:  # the innermost frame sees it first
            _TRACE.error, _TRACE.error_frame = exc, frame
        raise
    finally:
        stack.pop()
    frame.end, frame.obj, frame.done = _tell(stream), obj, True
    if isinstance(obj, dict | list):
        _TRACE.made.setdefault(id(obj), frame)
    return obj


def _install_tracer() -> None:
    with _install_lock:
        if construct.Construct._parsereport is not _traced_parsereport:
            construct.Construct._parsereport = _traced_parsereport


def load_layout(spec: str) -> LayoutDecoder:
    """The decoder for ``FILE.py:NAME``: runs FILE and takes its construct called NAME.

    Raises:
        DecoderConfigError: bad form, unreadable file, an error while running it, or no
            construct of that name (the message lists the ones it has).
    """
    path_text, sep, name = spec.rpartition(":")
    if not sep or not path_text or not name.isidentifier():
        raise DecoderConfigError(f"layout {spec!r}: expected FILE.py:NAME (a construct in FILE)")
    path = Path(path_text)
    if not path.is_file():
        raise DecoderConfigError(f"layout file {path} does not exist")
    module_name = "framewire_layout_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise DecoderConfigError(f"layout file {path} cannot be loaded as Python")
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: any error it raises is a config error
        raise DecoderConfigError(f"layout file {path}: {type(exc).__name__}: {exc}") from exc
    layout = getattr(module, name, None)
    if not isinstance(layout, construct.Construct):
        found = sorted(
            k
            for k, v in vars(module).items()
            if isinstance(v, construct.Construct)
            and not k.startswith("_")
            and v is not getattr(construct, k, None)  # not the building blocks it imported
        )
        has = ", ".join(found) if found else "none"
        raise DecoderConfigError(f"{path} has no construct named {name}; its constructs: {has}")
    return LayoutDecoder(layout, f"{path}:{name}")


class LayoutDecoder:
    """Decodes payloads with one construct layout."""

    name = "layout"

    def __init__(self, layout: construct.Construct, label: str = "layout") -> None:
        self.layout = layout
        self.label = label

    def decode(self, payload: bytes, limits: Limits) -> Node:
        _install_tracer()
        stream = io.BytesIO(payload)
        root_frame = _Frame(None, stream, 0, None)
        _TRACE.stack, _TRACE.made = [root_frame], {}
        _TRACE.error = _TRACE.error_frame = None
        try:
            value = self.layout.parse_stream(stream)
        except Exception as exc:  # construct's errors, and any a user's adapter raises
            frame = _TRACE.error_frame
            offset = _payload_offset(frame, frame.start, stream) if frame else None
            message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            return error_tree(f"layout: {message}", payload, offset if offset is not None else 0)
        finally:
            made, _TRACE.made, _TRACE.stack = _TRACE.made, {}, None
            _TRACE.error = _TRACE.error_frame = None
        builder = _Builder(made, stream, limits)
        root = builder.node(value, "", None, Span(0, stream.tell()), None, 0)
        left = len(payload) - stream.tell()
        if left:
            root.children.append(
                Node(
                    Kind.ERROR,
                    "error",
                    "left over",
                    f"{left:,} bytes after the layout",
                    Span(stream.tell(), left),
                )
            )
        return root


def _payload_offset(frame: _Frame | None, pos: int | None, root_stream: Any) -> int | None:
    """``pos`` on ``frame``'s stream as an offset in the payload (None: no byte offset)."""
    if frame is None or pos is None:
        return None
    if frame.stream is root_stream:
        return pos
    outer = frame.parent
    while outer is not None and outer.stream is frame.stream:
        outer = outer.parent
    if outer is not None and getattr(frame.stream, "parent_stream", None) is outer.stream:
        # construct's BytesIOWithOffsets (Prefixed, FixedSized...): tell() already counts
        # in the parent stream's offsets
        return _payload_offset(outer, pos, root_stream)
    size = _stream_size(frame.stream)
    if outer is None or size is None or outer.start is None or outer.end is None:
        return None
    if outer.end - outer.start < size:  # not a byte sub-stream (bits, or computed data)
        return None
    return _payload_offset(outer, outer.end - size + pos, root_stream)


def _stream_size(stream: Any) -> int | None:
    if isinstance(stream, io.BytesIO):
        return stream.getbuffer().nbytes
    return None


class _Builder:
    def __init__(self, made: dict[int, _Frame], stream: Any, limits: Limits) -> None:
        self.stream = stream
        self.limits = limits
        self.made = made

    def span(self, frame: _Frame | None) -> Span | None:
        if frame is None:
            return None
        start = _payload_offset(frame, frame.start, self.stream)
        end = _payload_offset(frame, frame.end, self.stream)
        if start is None or end is None or end < start:
            return None
        return Span(start, end - start)

    def node(
        self,
        value: Any,
        name: str,
        key: object,
        span: Span | None,
        frame: _Frame | None,
        depth: int,
    ) -> Node:
        made = self.made.get(id(value))
        if isinstance(value, dict):
            node = Node(Kind.MAP, "struct", name, None, span, key=key)
            named = _named_frames(made) if made else {}
            items = [(k, v) for k, v in value.items() if not str(k).startswith("_")]
            self._fill(node, depth, [(str(k), k, v, named.get(str(k))) for k, v in items])
            return node
        if isinstance(value, list):
            node = Node(Kind.ARRAY, "array", name, None, span, key=key)
            elements = [f for f in made.children if f.done] if made else []
            elements = elements[-len(value) :] if len(elements) >= len(value) else []
            frames: list[_Frame | None] = list(elements) or [None] * len(value)
            self._fill(node, depth, [(f"[{i}]", i, v, frames[i]) for i, v in enumerate(value)])
            return node
        return Node(Kind.SCALAR, _leaf_type(frame, value), name, value, span, key=key)

    def _fill(
        self, node: Node, depth: int, items: list[tuple[str, object, Any, _Frame | None]]
    ) -> None:
        shown = 0 if depth >= self.limits.max_depth else min(len(items), self.limits.max_children)
        for name, key, value, frame in items[:shown]:
            node.children.append(self.node(value, name, key, self.span(frame), frame, depth + 1))
        if shown < len(items):
            node.children.append(more_node(left_out(len(items) - shown, shown, self.limits), None))


def _named_frames(made: _Frame) -> dict[str, _Frame]:
    """The nearest frames under ``made`` of constructs with a name (a Struct's fields)."""
    named: dict[str, _Frame] = {}
    stack = list(reversed(made.children))
    while stack:
        frame = stack.pop()
        if not frame.done:
            continue
        name = getattr(frame.con, "name", None)
        if name is not None:
            named[str(name)] = frame
        else:
            stack.extend(reversed(frame.children))
    return named


def _leaf_type(frame: _Frame | None, value: Any) -> str:
    con = frame.con if frame is not None else None
    while isinstance(con, construct.Renamed):
        con = con.subcon
    if isinstance(con, construct.FormatField):
        fmt = str(con.fmtstr)
        return _FORMATS.get(fmt[-1], fmt) + (_ORDERS.get(fmt[0], "") if con.length > 1 else "")
    if isinstance(con, construct.Enum):
        return "enum"
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "none"
    if isinstance(value, str):
        return "str"
    return type(value).__name__
