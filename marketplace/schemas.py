"""The two schemas a job declares: what workers answer (the label schema, defined in `qualification.labels` since
qualification tests use it too, and re-exported here) and what each item carries (the item schema)."""

import contextlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from qualification.labels import ItemValueError, LabelSchema, SchemaValueError, parse_label_schema
from qualification.storable import MAX_INTEGER

__all__ = [
    "MEDIA_FIELD_KINDS",
    "ItemSchema",
    "ItemValueError",
    "LabelSchema",
    "SchemaValueError",
    "parse_item_schema",
    "parse_label_schema",
]

FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
RESERVED_COLUMNS = frozenset({"external_id", "gold_label"})


# --- Item schema: typed fields of a row ---------------------------------------------------------------------------

_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise SchemaValueError("must be a string")


def _to_integer(value: Any) -> int:
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):  # not digits, or more of them than Python converts (4,300)
            number = int(value.strip())
    if number is None or abs(number) > MAX_INTEGER:
        raise SchemaValueError(f"must be an integer within ±{MAX_INTEGER}")
    return number


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


def _to_media_name(value: Any) -> str:
    if isinstance(value, str) and 0 < len(value.strip()) <= 255:
        return value.strip()
    raise SchemaValueError("must name a media file uploaded to the job")


# Media fields name one of the job's media files (services/media.py) of the given kind; workers fetch it through
# their assignment, never by its name.
MEDIA_FIELD_KINDS = {"image": "image", "audio": "audio", "text_file": "text"}
FIELD_TYPES = {
    "string": _to_string,
    "integer": _to_integer,
    "number": _to_number,
    "boolean": _to_boolean,
    "url": _to_url,
    **dict.fromkeys(MEDIA_FIELD_KINDS, _to_media_name),
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

    @property
    def media_fields(self) -> dict[str, str]:
        """The fields that name a media file, with the kind of file each must name."""
        return {f.name: MEDIA_FIELD_KINDS[f.type] for f in self.fields if f.type in MEDIA_FIELD_KINDS}

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
