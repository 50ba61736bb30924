"""Field expressions for the log filter (and scripts): what matches, and clear errors."""

from __future__ import annotations

import pytest

from decoders import ExpressionError, compile_expression

VALUE = {"op": "login", "seq": 7, "user": {"name": "ana"}, "tags": ["a", "b"], "len": 3, "ok": True}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('op == "login"', True),
        ("op == 'login'", True),
        ('op != "login"', False),
        ("seq > 5", True),
        ("seq >= 7.0 and seq < 8", True),
        ("seq == 7.0", True),
        ("seq > 100", False),
        ('seq > "a"', False),  # never an error: just no match
        ("len > 1000", True),  # the payload's length
        ('["len"] == 3', True),  # the field called len
        ('user.name == "ana"', True),
        ("tags[1] == 'b'", True),
        ("tags[5] == 'b'", False),
        ("tags ~ 'a'", True),
        ('op ~ "og"', True),
        ("missing == 1", False),
        ("not missing", True),
        ("ok and not (seq > 7 or op == 'x')", True),
        ("ok", True),
        ('decoder == "msgpack"', True),
    ],
)
def test_expressions_match_the_plain_value(text, expected):
    assert compile_expression(text).matches(VALUE, 1500, "msgpack") is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty expression"),
        ("seq >", "at the end: expected a value"),
        ("seq > > 1", "column 7 ('>'): expected a field, a number"),
        ("op == login extra", "column 13 ('extra'): expected and, or, or the end"),
        ("seq $ 3", "column 5: unexpected '$'"),
        ("tags[x]", "column 6 ('x'): expected an index or a quoted key inside [ ]"),
        ("(seq > 1", "at the end: expected ')'"),
    ],
)
def test_a_bad_expression_says_where_and_what_was_expected(text, message):
    with pytest.raises(ExpressionError) as info:
        compile_expression(text)
    assert message in str(info.value)
