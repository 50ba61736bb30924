"""The decoded tree: nodes with byte spans, the bounds a decoder works within, and its clock.

Every decoder turns payload bytes into one tree of ``Node``. A node has a name (a map
key, an index, a field name), a type as the format calls it (``str``, ``uint32``,
``varint``...), a value for leaves, and the bytes it came from (``Span``) wherever the
format allows. Containers are ``MAP``, ``ARRAY`` and ``MESSAGE`` (a map whose keys may
repeat, as protobuf fields do); ``TAGGED`` wraps one child (a CBOR tag); ``ERROR`` says
where decoding failed; ``MORE`` stands for what was left out to respect the ``Limits``.

Strategy: a decoder appends a container to its parent *before* filling it, so when the
time budget runs out half-way the tree built so far is whole and can be shown as it is,
with a ``MORE`` node saying where decoding stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "DEFAULT_LIMITS",
    "SUMMARY_LIMITS",
    "Budget",
    "Enough",
    "Kind",
    "Limits",
    "Node",
    "OutOfTime",
    "Span",
    "error_tree",
    "left_out",
    "more_node",
    "stop_here",
    "stopped_node",
]


class Kind(Enum):
    SCALAR = "scalar"  #: a leaf with a value (number, string, bytes, bool, null...)
    MAP = "map"  #: children are entries named by their key; a repeated key replaces
    MESSAGE = "message"  #: children are fields; a repeated name makes a list (protobuf)
    ARRAY = "array"  #: children are elements named [0], [1]...
    TAGGED = "tagged"  #: one child with a tag on it (CBOR tags)
    ERROR = "error"  #: decoding failed here; the value is the message
    MORE = "more"  #: left out to respect the limits; the value says what and why


CONTAINERS = frozenset({Kind.MAP, Kind.MESSAGE, Kind.ARRAY, Kind.TAGGED})


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node's bytes are in the payload: ``payload[offset:offset + length]``."""

    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length

    def __contains__(self, offset: object) -> bool:
        return isinstance(offset, int) and self.offset <= offset < self.offset + self.length


@dataclass(slots=True, eq=False)
class Node:
    """One field of a decoded payload.

    ``key`` is the entry's key as the format gives it (any value: msgpack allows int keys),
    ``key_span`` its bytes; ``name`` is the text shown for it.
    """

    kind: Kind
    type: str
    name: str = ""
    value: object = None
    span: Span | None = None
    children: list[Node] = field(default_factory=list)
    key: object = None
    key_span: Span | None = None

    def walk(self) -> Iterator[Node]:
        """This node and every node under it, depth first, in payload order."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    @property
    def is_container(self) -> bool:
        return self.kind in CONTAINERS


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """How much of a payload one decode may show and how long it may take.

    The defaults keep a tree of a 1 MiB payload to a few thousand nodes and a GUI turn
    short; ``SUMMARY_LIMITS`` are what a one-line summary needs.
    """

    #: Containers nested deeper than this are shown folded ("nested deeper than N").
    max_depth: int = 64
    #: Children shown per container; the rest become one "… N more" node.
    max_children: int = 1000
    #: Time one decode may take; then it stops and says where.
    max_seconds: float = 0.25
    clock: Callable[[], float] = time.perf_counter
    #: Read the payload to its end (checking all of it, counting what is left out). False
    #: (summaries): stop at the first container that has more than ``max_children``: the
    #: rest is neither read nor checked, and the tree ends in a ``MORE`` node.
    complete: bool = True


DEFAULT_LIMITS = Limits()
#: Enough for a summary line of ~120 characters, cheap enough for every visible log row:
#: a 10 KiB payload costs what its first dozen fields cost.
SUMMARY_LIMITS = Limits(max_depth=4, max_children=12, max_seconds=0.01, complete=False)


class OutOfTime(Exception):
    """The decode's time budget ran out; the tree built so far stands."""


class Enough(OutOfTime):
    """A partial decode (``Limits.complete`` False) has all it shows; the rest is unread."""


def stop_here(node: Node, limits: Limits) -> None:
    """Past ``max_children`` in ``node``: a partial decode ends here (a complete one returns).

    Raises:
        Enough: ``limits.complete`` is False (``node`` then ends in a ``MORE`` node).
    """
    if not limits.complete:
        node.children.append(more_node("more", None))
        raise Enough


class Budget:
    """Counts work and checks the clock every ``CHECK_EVERY`` steps (clock reads cost)."""

    CHECK_EVERY = 256

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._clock = limits.clock
        self.started = self._clock()
        self._deadline = self.started + limits.max_seconds
        self._steps = 0

    def step(self) -> None:
        """Count one node or skipped item.

        Raises:
            OutOfTime: the time budget is spent.
        """
        self._steps += 1
        if self._steps % self.CHECK_EVERY == 0 and self._clock() > self._deadline:
            raise OutOfTime

    def elapsed_ms(self) -> float:
        return (self._clock() - self.started) * 1000.0


def error_tree(message: str, payload: bytes, offset: int) -> Node:
    """The tree of a payload that did not decode: where and why, plus the raw bytes."""
    offset = max(0, min(offset, len(payload)))
    return Node(
        Kind.ERROR,
        "error",
        value=f"{message} (at byte {offset})",
        span=Span(offset, len(payload) - offset),
        children=[Node(Kind.SCALAR, "bytes", "raw", payload, Span(0, len(payload)))],
    )


def stopped_node(budget: Budget, offset: int, payload_length: int) -> Node:
    """The ``MORE`` node that ends a tree whose decode ran out of time at ``offset``."""
    return Node(
        Kind.MORE,
        "more",
        "…",
        f"stopped after {budget.elapsed_ms():.0f} ms; "
        f"{payload_length - offset:,} bytes not decoded",
        Span(offset, payload_length - offset),
    )


def more_node(text: str, span: Span | None) -> Node:
    """What a container leaves out: ``… 12,345 more``, ``… 3 items nested deeper than 64``."""
    return Node(Kind.MORE, "more", "…", text, span)


def left_out(count: int | None, shown: int, limits: Limits) -> str:
    """The text of the ``MORE`` node of a container that shows ``shown`` of ``count`` items."""
    items = f"{count:,} items" if count is not None else "items"
    if shown == 0:
        return f"{items} nested deeper than {limits.max_depth} levels"
    return f"{count:,} more" if count is not None else "more"
