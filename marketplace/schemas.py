"""The two schemas a job declares: what workers answer (label schema) and what each item carries (item schema).

Both are plain JSON on the job. Parsing them here, once, gives objects that validate answers and row values, so
the API, the ingest and the assignment engine share one set of rules. A new task type (multi-label, free text)
is one more `LabelSchema` class in `LABEL_SCHEMA_TYPES`.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from django.core.exceptions import ValidationError

MAX_CLASSES = 100
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
RESERVED_COLUMNS = frozenset({"external_id", "gold_label"})


class SchemaValueError(ValueError):
    """A value that does not fit a schema; the message is safe to show the requester."""


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


# --- Item schema: typed fields of a row ---------------------------------------------------------------------------

_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise SchemaValueError("must be a string")


def _to_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise SchemaValueError("must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise SchemaValueError("must be an integer")


def _to_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SchemaValueError("must be a number")
    try:
        number = float(value)
    except ValueError:
        raise SchemaValueError("must be a number") from None
    if not math.isfinite(number):
        raise SchemaValueError("must be a finite number")
    return int(number) if isinstance(value, int) else number


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise SchemaValueError("must be a boolean (true/false)")


def _to_url(value: Any) -> str:
    if isinstance(value, str) and len(value) <= 2048 and _URL.match(value.strip()):
        return value.strip()
    raise SchemaValueError("must be an http(s) URL")


FIELD_TYPES = {
    "string": _to_string,
    "integer": _to_integer,
    "number": _to_number,
    "boolean": _to_boolean,
    "url": _to_url,
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class ItemSchema:
    """The fields each item carries. With no fields declared, every column is kept as given."""

    fields: tuple[Field, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def clean_value(self, field: Field, raw: Any) -> Any:
        """Coerce one value; `None` or an empty CSV cell is a missing value."""
        if raw is None or raw == "":
            if field.required:
                raise SchemaValueError("is required")
            return None
        return FIELD_TYPES[field.type](raw)


def parse_item_schema(data: Any) -> ItemSchema:
    if data in (None, {}):
        return ItemSchema(fields=())
    if not isinstance(data, Mapping) or not isinstance(data.get("fields"), list):
        raise ValidationError({"item_schema": "Must be an object with a list of 'fields'."})
    fields = []
    for i, spec in enumerate(data["fields"]):
        if not isinstance(spec, Mapping):
            raise ValidationError({"item_schema": f"fields[{i}] must be an object."})
        name, ftype = spec.get("name"), spec.get("type", "string")
        if not isinstance(name, str) or not FIELD_NAME.match(name) or name in RESERVED_COLUMNS:
            raise ValidationError({"item_schema": f"fields[{i}].name must be an identifier, not a reserved name."})
        if ftype not in FIELD_TYPES:
            raise ValidationError({"item_schema": f"fields[{i}].type must be one of {sorted(FIELD_TYPES)}."})
        fields.append(Field(name=name, type=ftype, required=bool(spec.get("required", True))))
    if len({f.name for f in fields}) != len(fields):
        raise ValidationError({"item_schema": "Field names must be unique."})
    return ItemSchema(fields=tuple(fields))
