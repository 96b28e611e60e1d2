"""The API field for JSON values, held to `qualification.storable`."""

from typing import Any

from rest_framework import serializers

from qualification import storable


class JSONField(serializers.JSONField):
    """DRF's JSONField, refusing what the database cannot store also when the value comes as text in a form or
    multipart field (DRF then parses it with a bare `json.loads`, past the project's JSON parser). A JSON body's
    values were checked whole by `marketplace.api.parsers.JSONParser`; checking them again costs one search."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            if self.binary or getattr(data, "is_json_string", False):
                return storable.loads(data.decode() if isinstance(data, bytes) else data)
            storable.check(data)
        except storable.NotStorable as exc:
            raise serializers.ValidationError(exc.message) from None
        except (UnicodeDecodeError, ValueError):
            self.fail("invalid")
        return super().to_internal_value(data)
