"""Placeholders: where they stand decides how their values go in."""

from __future__ import annotations

import pytest

from exchanges import ExpansionError, Variables


def variables() -> Variables:
    values = {"name": "a.b", "n": 7, "flag": True, "items": [1, "x"]}
    return Variables(values, clock=lambda: 1_700_000_000.1234, random_hex=lambda n: "f" * n)


def test_text_gets_values_as_text_and_json_keeps_their_type() -> None:
    v = variables()
    v.seq = 3
    assert v.expand_text("{{name}} {{n}} {{flag}} {{items}} {{seq}} {{ random_hex:3 }}") == (
        'a.b 7 true [1,"x"] 3 fff'
    )
    assert v.expand_value({"n": "{{n}}", "s": "n={{n}}", "{{name}}": ["{{items}}"]}) == {
        "n": 7, "s": "n=7", "a.b": [[1, "x"]],
    }  # fmt: skip


def test_the_clock_is_read_once_per_expansion() -> None:
    assert variables().expand_text("{{now}} {{now_ms}} {{now_iso}}") == (
        "1700000000 1700000000123 2023-11-14T22:13:20.123+00:00"
    )


def test_regex_and_expression_placeholders_are_literals() -> None:
    v = variables()
    assert v.expand_regex("x{{name}}y") == r"xa\.by"
    assert v.expand_expression("user == {{name}} and n < {{n}}") == 'user == "a.b" and n < 7'
    with pytest.raises(ExpansionError, match="cannot be written in a field expression"):
        v.expand_expression("x == {{items}}")


def test_index_exists_only_inside_a_repeat() -> None:
    v = variables()
    with pytest.raises(ExpansionError, match="index"):
        v.expand_text("{{index}}")
    v.index = 2
    assert v.expand_text("{{index}}") == "2"
