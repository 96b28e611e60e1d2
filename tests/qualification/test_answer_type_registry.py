"""Every answer type of the engine's registry is a label schema type of jobs and qualification tests, with each
piece the marketplace uses: parse and write back the schema, clean an answer, read a gold key as an upload gives it,
grade, check what it reads from an item. An exception would be named in `NOT_YET`, so that leaving a type out is a
decision."""

import json

import pytest
from django.core.exceptions import ValidationError

from marketplace.aggregation.types import ANSWER_TYPES
from qualification.labels import LABEL_SCHEMA_TYPES, ItemValueError, SchemaValueError, parse_label_schema

NOT_YET: set[str] = set()
EXAMPLES = {  # schema, a right answer, a wrong answer, an answer of the wrong shape
    "single_choice": ({"classes": ["cat", "dog"]}, "cat", "dog", 3),
    "multi_choice": ({"choices": ["red", "green", "blue"]}, ["red", "blue"], ["green"], "red"),
    "text": ({}, "the cat sat on the mat", "lorem ipsum", 12),
    "number": ({"min": 1, "max": 5, "step": 1}, 4, 1, "four"),
    "bbox": ({"labels": ["car", "bus"]}, [[10, 20, 30, 40, "car"]], [[60, 60, 10, 10, "bus"]], [[1, 2, "car"]]),
    "spans": ({"text_field": "text", "labels": ["PER"]}, [[0, 3, "PER"]], [[4, 9, "PER"]], [[3, 0, "PER"]]),
    "pairwise": ({"allow_tie": True}, "left", "tie", "middle"),
}


def test_every_engine_type_but_the_named_exceptions_is_a_label_schema_type():
    assert set(LABEL_SCHEMA_TYPES) == set(ANSWER_TYPES) - NOT_YET
    assert set(EXAMPLES) == set(LABEL_SCHEMA_TYPES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_type_parses_cleans_reads_gold_keys_and_grades(name):
    options, right, wrong, bad = EXAMPLES[name]
    schema = parse_label_schema({"type": name, **options})

    assert parse_label_schema(schema.as_dict()) == schema  # written back, read again: the same schema
    assert schema.clean_answer(right) == right
    key = schema.clean_key(right if isinstance(right, str) else json.dumps(right))  # a CSV cell
    assert key == right
    assert schema.is_correct(schema.clean_answer(right), key)
    assert not schema.is_correct(schema.clean_answer(wrong), key)
    with pytest.raises(SchemaValueError):
        schema.clean_answer(bad)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_bad_schema_of_each_type_is_a_validation_error_naming_the_label_schema(name):
    options = {"classes": "x"} if name == "single_choice" else {"no_such_option": 1}

    with pytest.raises(ValidationError) as refused:
        parse_label_schema({"type": name, **options})

    assert "label_schema" in refused.value.message_dict


def test_a_pairwise_tie_is_the_explicit_word_tie_in_answers_and_gold_cells():
    schema = parse_label_schema({"type": "pairwise", "allow_tie": True})

    assert schema.clean_answer("tie") == "tie"
    assert schema.clean_key("tie") == "tie"  # a plain CSV cell
    assert schema.clean_key('"right"') == "right"  # a JSON one
    assert schema.clean_answer(None) == "tie"  # the command line's null, written the one way
    with pytest.raises(SchemaValueError, match="ties are not allowed"):
        parse_label_schema({"type": "pairwise"}).clean_answer("tie")


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"left": "a"}, "right"), ({"left": "", "right": "b"}, "left"), ({"left": 1, "right": 1}, "right")],
)
def test_a_pairwise_item_without_two_different_sides_names_the_field(payload, field):
    with pytest.raises(ItemValueError) as refused:
        parse_label_schema({"type": "pairwise"}).check_item(payload)

    assert refused.value.field == field


def test_the_other_types_read_nothing_from_their_items():
    for name, (options, *_) in EXAMPLES.items():
        if name == "pairwise":
            continue
        parse_label_schema({"type": name, **options}).check_item({})
