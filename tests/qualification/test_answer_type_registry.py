"""Every answer type of the engine's registry is a label schema type of jobs and qualification tests, with each
piece the marketplace uses: parse and write back the schema, clean an answer, read a gold key as an upload gives it,
grade. `pairwise` is the one exception, named here so that wiring it is a decision (its answer names one of the
item's two sides, which the submit path does not pass yet)."""

import json

import pytest
from django.core.exceptions import ValidationError

from marketplace.aggregation.types import ANSWER_TYPES
from qualification.labels import LABEL_SCHEMA_TYPES, SchemaValueError, parse_label_schema

NOT_YET = {"pairwise"}
EXAMPLES = {  # schema, a right answer, a wrong answer, an answer of the wrong shape
    "single_choice": ({"classes": ["cat", "dog"]}, "cat", "dog", 3),
    "multi_choice": ({"choices": ["red", "green", "blue"]}, ["red", "blue"], ["green"], "red"),
    "text": ({}, "the cat sat on the mat", "lorem ipsum", 12),
    "number": ({"min": 1, "max": 5, "step": 1}, 4, 1, "four"),
    "bbox": ({"labels": ["car", "bus"]}, [[10, 20, 30, 40, "car"]], [[60, 60, 10, 10, "bus"]], [[1, 2, "car"]]),
    "spans": ({"text_field": "text", "labels": ["PER"]}, [[0, 3, "PER"]], [[4, 9, "PER"]], [[3, 0, "PER"]]),
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


def test_pairwise_is_refused_as_a_label_schema_for_now():
    with pytest.raises(ValidationError, match="'type' must be one of"):
        parse_label_schema({"type": "pairwise"})
