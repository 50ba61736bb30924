"""``@message`` classes behave as the frozen, slotted, keyword-only dataclasses they
replace (ipc/message_class.py), without generating code."""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import ClassVar

import pytest

from ipc import schema
from ipc.errors import LocalProtocolError
from ipc.message_class import MessageBase, message


class Checked(MessageBase):
    __slots__ = ()
    checks: ClassVar[list[str]] = []

    def _check(self) -> None:
        type(self).checks.append(type(self).__name__)


@message
class Point(Checked):
    KIND: ClassVar[str] = "point"
    x: int
    label: str = ""
    y: int
    tags: list[str] = field(default_factory=list)


def test_fields_in_order_with_defaults_and_fresh_factories() -> None:
    point = Point(y=2, x=1)
    assert (point.x, point.y, point.label, point.tags) == (1, 2, "", [])
    assert Point._field_names == ("x", "label", "y", "tags")
    assert Point(x=1, y=2).tags is not point.tags
    assert Point.KIND == "point"  # a ClassVar is no field


def test_missing_or_unknown_keywords_are_type_errors() -> None:
    with pytest.raises(TypeError, match="missing required keyword argument: 'y'"):
        Point(x=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        Point(x=1, y=2, z=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, 2)  # type: ignore[call-arg, arg-type]


def test_frozen_slotted_equal_hashable_and_readable() -> None:
    point = Point(x=1, y=2, label="a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del point.x
    assert not hasattr(point, "__dict__")
    assert point == Point(x=1, y=2, label="a")
    assert point != Point(x=1, y=2, label="b")
    assert point != ("x", 1)
    same = Point(x=1, y=2, label="a", tags=[])
    assert point == same
    with pytest.raises(TypeError):  # a list field: unhashable, as a frozen dataclass's
        hash(point)
    assert repr(point) == "Point(x=1, label='a', y=2, tags=[])"
    match point:
        case Point(x=1, y=y):
            assert y == 2
        case _:
            pytest.fail("keyword patterns match the fields")


def test_construction_checks_and_unchecked_skips_the_check() -> None:
    Checked.checks.clear()
    Point(x=1, y=2)
    assert Checked.checks == ["Point"]
    unchecked = Point._unchecked(x=1, y=2)
    assert Checked.checks == ["Point"]
    assert unchecked == Point(x=1, y=2)


def test_schema_messages_check_their_values_when_built() -> None:
    with pytest.raises(LocalProtocolError, match="session_id"):
        schema.Received(session_id="1", frames=[b"x"], at=0.0)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="frames"):
        schema.Received(session_id=1, frames=[b"x", "y"], at=0.0)  # type: ignore[list-item]
    received = schema.Received._unchecked(session_id=1, frames=[b"x"], at=0.0)
    assert received == schema.Received(session_id=1, frames=[b"x"], at=0.0)
