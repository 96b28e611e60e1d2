"""The one rule for what the database can store (`qualification.storable`): its bounds, its messages, and the fast
path's promise that a text it lets through holds nothing the walk would refuse."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qualification import storable
from qualification.storable import MAX_DEPTH, MAX_INTEGER, MAX_STRING_CHARS, NotStorable


def nested(depth: int) -> str:
    return "[" * (depth - 1) + "{}" + "]" * (depth - 1)


@pytest.mark.parametrize(
    ("kept", "refused"),
    [
        (nested(MAX_DEPTH), nested(MAX_DEPTH + 1)),
        (str(MAX_INTEGER), str(MAX_INTEGER + 1)),
        (str(-MAX_INTEGER), str(-MAX_INTEGER - 1)),
        (json.dumps("x" * MAX_STRING_CHARS), json.dumps("x" * (MAX_STRING_CHARS + 1))),
        ("1e308", "1e309"),
        ('"\\ud83d\\ude00"', '"\\ud83d"'),  # a pair is one character; half of one is not
    ],
    ids=["depth", "integer", "negative-integer", "string-length", "float", "surrogate-pair"],
)
def test_each_bound_keeps_the_last_value_inside_it_and_refuses_the_first_outside(kept, refused):
    storable.loads(kept)

    with pytest.raises(NotStorable):
        storable.loads(refused)


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (
            '{"label_schema": {"classes": ["cat", "d\\u0000g"]}}',
            "label_schema",
            "label_schema.classes[1] contains a NUL",
        ),
        ('{"a": {"b c": [NaN]}}', "a", 'a["b c"][0] is not a finite number'),
        ('{"k\\u0000": 1}', "k\\u0000", '["k\\u0000"] is a key that contains a NUL'),
        ('{"ok": 1, "deep": ' + "[" * 5000 + "]" * 5000 + "}", "deep", "deep is nested deeper than 32 levels"),
        ('{"n": ' + "7" * 5000 + "}", "n", "n is an integer outside"),
        ("[" * 100_000 + "]" * 100_000, None, "The value is nested deeper"),
    ],
)
def test_a_refusal_names_the_field_and_the_path_without_repeating_the_bad_characters(text, field, message):
    with pytest.raises(NotStorable) as refused:
        storable.loads(text)

    assert refused.value.field == field
    assert refused.value.message.startswith(message)
    shown = refused.value.message + (refused.value.field or "")
    assert storable.text_problem(shown) is None and shown.isprintable()


def test_check_walks_python_values_too_and_reports_the_first_problem_in_document_order():
    value = {"a": [1, 2.5, "fine"], "b": {"c": float("inf")}, "d": "x\x00"}

    with pytest.raises(NotStorable) as refused:
        storable.check(value)

    assert refused.value.path == ("b", "c")
    storable.check({"a": [1, 2.5, "fine", None, True], "é": "\u202e\u200b"})


def test_a_csv_record_is_refused_only_for_what_text_cannot_hold():
    storable.check_strings({"a": "=1+1", "b": "-2", "c": "NaN", "d": "9" * 40})

    with pytest.raises(NotStorable) as refused:
        storable.check_strings({"a": "fine", "b": "ab\x00cd"})
    assert refused.value.field == "b"


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=8),
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet=st.characters(exclude_categories=()), max_size=4), children, max_size=3)
    ),
    max_leaves=60,
)


def deepen(value, levels: int):
    for _ in range(levels):
        value = [value]
    return value


@settings(max_examples=300, deadline=None)
@given(value=json_values, extra_depth=st.integers(min_value=0, max_value=40), ascii_only=st.booleans())
def test_a_text_the_fast_path_lets_through_holds_nothing_the_walk_would_refuse(value, extra_depth, ascii_only):
    value = deepen(value, extra_depth)
    text = json.dumps(value, ensure_ascii=ascii_only)
    try:
        storable._walk(json.loads(text), ())
        refused = False
    except NotStorable:
        refused = True

    if refused:
        assert storable.suspect(text)
        with pytest.raises(NotStorable):
            storable.loads(text)
    else:
        storable.loads(text)


def test_clip_escapes_what_a_column_cannot_hold_and_cuts_to_the_limit():
    assert storable.clip("BadStatusLine: 2\x000 \ud800 OK", 100) == "BadStatusLine: 2\\u00000 \\ud800 OK"
    assert storable.clip("plain é text", 5) == "plain"
    assert storable.text_problem(storable.clip("\x00" * 600, 500)) is None
