"""What workers answer: label schemas, shared by jobs (marketplace) and qualification tests.

A label schema is plain JSON on a job or a qualification (`{"type": "single_choice", "classes": [...]}`); parsing it
here, once, gives an object that validates and grades answers. Single choice is defined here; multi-label, free
text, numbers and pairwise comparisons are the pure engine's answer types (`marketplace.aggregation.types`), adapted
by `EngineSchema`: a new engine type is one more entry in `LABEL_SCHEMA_TYPES`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from django.core.exceptions import ValidationError

from marketplace.aggregation.errors import InvalidAnswerError, InvalidItemError, InvalidSchemaError
from marketplace.aggregation.types import answer_type

MAX_CLASSES = 100


class SchemaValueError(ValueError):
    """A value that does not fit a schema; the message is safe to show the user."""


class ItemValueError(SchemaValueError):
    """An item that lacks what the job's answer type reads from it; `field` names the item's field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SingleChoice:
    """Pick exactly one class from a list. Answers are the class names."""

    classes: tuple[str, ...]
    type: ClassVar[str] = "single_choice"

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> "SingleChoice":
        classes = data.get("classes")
        if not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES:
            raise ValidationError({"label_schema": f"'classes' must be a list of 2 to {MAX_CLASSES} class names."})
        if not all(isinstance(c, str) and c.strip() and len(c) <= 100 for c in classes):
            raise ValidationError({"label_schema": "Every class must be a non-empty string of at most 100 chars."})
        if len(set(classes)) != len(classes):
            raise ValidationError({"label_schema": "Class names must be unique."})
        return cls(classes=tuple(classes))

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "classes": list(self.classes)}

    needs_item: ClassVar[bool] = False
    parts: ClassVar[str | None] = None

    def clean_answer(self, value: Any, *, item: Mapping[str, Any] | None = None) -> str:
        if isinstance(value, str) and value in self.classes:
            return value
        raise SchemaValueError(f"{value!r} is not one of the classes {list(self.classes)}.")

    def is_correct(self, answer: str, key: Any) -> bool:
        """Grade an answer against a gold key."""
        return answer == key

    def label_index(self, answer: str) -> int:
        return self.classes.index(answer)

    def clean_key(self, value: Any, *, item: Mapping[str, Any] | None = None) -> str:
        """A gold key as an upload gives it (a CSV cell, a JSONL value)."""
        return self.clean_answer(value)

    def check_item(self, payload: Mapping[str, Any]) -> None:
        """An item's payload: a class is picked whatever the item carries."""


@dataclass(frozen=True)
class EngineSchema:
    """An answer type of the pure engine (`marketplace.aggregation.types`: multi_choice, text, number, pairwise),
    with the interface the marketplace uses for every type: parse, clean an answer, grade it against a gold key, check
    what it reads from an item. Each type's rules (schema fields, answer encoding, grading measure) are the engine
    module's own."""

    type: str
    raw: Mapping[str, Any]
    schema: Any

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> "EngineSchema":
        kind = answer_type(str(data.get("type")))
        options = {key: value for key, value in data.items() if key != "type"}
        try:
            schema = kind.parse_schema(options)
        except InvalidSchemaError as error:
            raise ValidationError({"label_schema": str(error)}) from None
        return cls(type=kind.name, raw={"type": kind.name, **options}, schema=schema)

    @property
    def classes(self) -> tuple[str, ...]:
        """The classes of a choice type (a multi-label's choices); none for text and numbers."""
        return tuple(getattr(self.schema, "choices", None) or ())

    def as_dict(self) -> dict[str, Any]:
        return dict(self.raw)

    @property
    def needs_item(self) -> bool:
        """Does an answer depend on its item (a box inside the image, a span inside the text)? Then `clean_answer`
        and `clean_key` take `item`: the item's fields, its media fields described by the marketplace (name, kind,
        size)."""
        return answer_type(self.type).needs_item

    @property
    def parts(self) -> str | None:
        """What an answer is a list of ("boxes", "spans"), each with its own confidence in the results; or None."""
        return answer_type(self.type).parts

    def clean_answer(self, value: Any, *, item: Mapping[str, Any] | None = None) -> Any:
        try:
            return answer_type(self.type).clean(self.schema, value, item=item)
        except InvalidAnswerError as error:
            raise SchemaValueError(str(error)) from None

    def clean_key(self, value: Any, *, item: Mapping[str, Any] | None = None) -> Any:
        """A gold key as an upload gives it: a CSV cell holds JSON for a structured answer (`["a", "b"]`, `3`)."""
        if isinstance(value, str) and self.type != "text":
            try:
                value = answer_type(self.type).decode(value)
            except InvalidAnswerError:
                raise SchemaValueError(f"{value!r} is not JSON (e.g. {EXAMPLES[self.type]}).") from None
        return self.clean_answer(value, item=item)

    def check_item(self, payload: Mapping[str, Any]) -> None:
        """An item's payload, checked for the fields the type reads (a pairwise item's `left` and `right`)."""
        try:
            answer_type(self.type).check_item(self.schema, payload)
        except InvalidItemError as error:
            raise ItemValueError(error.field, f"{error.field}: {error.reason}.") from None

    def is_correct(self, answer: Any, key: Any) -> bool:
        return answer_type(self.type).grade(self.schema, answer, key).passed


EXAMPLES = {
    "multi_choice": '["a", "b"]',
    "number": "3.5",
    "pairwise": '"left", "right" or "tie"',
    "bbox": '[[10, 20, 50, 40, "car"]]',
    "spans": '[[0, 12, "PER"]]',
}
LabelSchema = SingleChoice | EngineSchema
LABEL_SCHEMA_TYPES: dict[str, type[SingleChoice] | type[EngineSchema]] = {
    SingleChoice.type: SingleChoice,
    **dict.fromkeys(("multi_choice", "text", "number", "pairwise", "bbox", "spans"), EngineSchema),
}


def parse_label_schema(data: Any) -> LabelSchema:
    if not isinstance(data, Mapping):
        raise ValidationError({"label_schema": "Must be an object with a 'type'."})
    schema_type = LABEL_SCHEMA_TYPES.get(data.get("type"))  # type: ignore[arg-type]
    if schema_type is None:
        raise ValidationError({"label_schema": f"'type' must be one of {sorted(LABEL_SCHEMA_TYPES)}."})
    return schema_type.parse(data)
