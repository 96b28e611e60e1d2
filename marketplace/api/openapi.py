"""The OpenAPI schema's view of errors: every operation documents the error answers its view can give.

Views declare their domain errors (409 `invalid_transition`, 402 `payment_declined`, ...) with `extend_schema`. The
answers that come from the framework are added here, from what each view declares, so no view can forget one:

- 401 and 403 when the operation needs a signed-in user (no or a bad token; a missing role, or a CSRF failure
  under session authentication);
- 404 when the path names an object (missing, someone else's, or an id that is not a number), and on paginated
  lists (a page past the end);
- 400 when the operation takes a body or filters (validation);
- 429 when the view is rate-limited.

All of them carry the one error shape, `{"code", "message", "extra"}` (`marketplace.api.errors`).
"""

from typing import Any

from drf_spectacular import openapi

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
        if self.view.get_throttles():
            codes.append("429")
        return codes
