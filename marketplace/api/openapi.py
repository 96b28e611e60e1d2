"""The OpenAPI schema's view of errors: every operation documents the error answers its view can give.

Views declare their domain errors (409 `invalid_transition`, 402 `payment_declined`, ...) with `extend_schema`. The
answers that come from the framework are added here, from what each view declares, so no view can forget one:

- 401 and 403 when the operation needs a signed-in user (no or a bad token; a missing role, or a CSRF failure
  under session authentication);
- 404 when the path names an object (missing, someone else's, or an id that is not a number), and on paginated
  lists (a page past the end);
- 400 when the operation takes a body or filters (validation), and 415 when it takes a body (sent in a media
  type the operation does not read, e.g. `multipart/mixed`);
- 429 when the view is rate-limited.

All of them carry the one error shape, `{"code", "message", "extra"}` (`marketplace.api.errors`).

It also keeps the blank choice of a read-only model field with `choices` and `blank=True` (a dispute's `decision`
is "" until decided): DRF drops `allow_blank` from read-only fields, and the enum would then exclude "".
"""

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular import openapi
from rest_framework import serializers

from marketplace.api.errors import ErrorSerializer


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self._framework_error_codes(operation):
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> dict[str, Any]:
        if isinstance(field, serializers.ChoiceField) and field.read_only and _blank_in_model(field):
            field.allow_blank = True
        return super()._map_serializer_field(field, direction, bypass_extensions)

    def _framework_error_codes(self, operation: dict[str, Any]) -> list[str]:
        parameters = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
        codes = []
        if any(requirement for requirement in operation.get("security", [])) and {} not in operation["security"]:
            codes += ["401", "403"]
        if any(where == "path" for where, _ in parameters) or ("query", "page") in parameters:
            codes.append("404")
        filtered = getattr(self.view, "filterset_class", None) or getattr(self.view, "filterset_fields", None)
        if "requestBody" in operation or (self.method == "GET" and filtered):
            codes.append("400")
        if "requestBody" in operation:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        return codes


def _blank_in_model(field: serializers.Field) -> bool:
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None or not field.source or "." in field.source:
        return False
    try:
        return bool(model._meta.get_field(field.source).blank)
    except FieldDoesNotExist:
        return False
