"""What workers answer: label schemas, shared by jobs (marketplace) and qualification tests.

A label schema is plain JSON on a job or a qualification (`{"type": "single_choice", "classes": [...]}`); parsing it
here, once, gives an object that validates and grades answers. A new task type (multi-label, free text) is one more
class in `LABEL_SCHEMA_TYPES`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from django.core.exceptions import ValidationError

MAX_CLASSES = 100


class SchemaValueError(ValueError):
    """A value that does not fit a schema; the message is safe to show the user."""


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

    def clean_answer(self, value: Any) -> str:
        if isinstance(value, str) and value in self.classes:
            return value
        raise SchemaValueError(f"{value!r} is not one of the classes {list(self.classes)}.")

    def is_correct(self, answer: str, key: Any) -> bool:
        """Grade an answer against a gold key."""
        return answer == key

    def label_index(self, answer: str) -> int:
        return self.classes.index(answer)


LabelSchema = SingleChoice
LABEL_SCHEMA_TYPES: dict[str, type[LabelSchema]] = {SingleChoice.type: SingleChoice}


def parse_label_schema(data: Any) -> LabelSchema:
    if not isinstance(data, Mapping):
        raise ValidationError({"label_schema": "Must be an object with a 'type'."})
    schema_type = LABEL_SCHEMA_TYPES.get(data.get("type"))  # type: ignore[arg-type]
    if schema_type is None:
        raise ValidationError({"label_schema": f"'type' must be one of {sorted(LABEL_SCHEMA_TYPES)}."})
    return schema_type.parse(data)
