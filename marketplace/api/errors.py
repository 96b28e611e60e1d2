"""One error shape for the whole API: `{"code": ..., "message": ..., "extra": {...}, "request_id": ...}`.

Services raise the apps' own errors (each with a stable `code` and a `status_code`) or Django's
`ValidationError`; DRF raises its own. All of them are mapped here, and nothing else builds error bodies.
`request_id` is the request's id (the X-Request-ID response header): quote it to find the request's log lines.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django_guid import get_guid
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from payments.errors import DomainError

DOMAIN_ERRORS: tuple[type[Exception], ...] = (DomainError,)  # each app's errors derive from it


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    extra = serializers.DictField()
    request_id = serializers.CharField(required=False, help_text="The request's id (its X-Request-ID header).")


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "extra": extra}


def domain_error_body(exc: Exception) -> dict[str, Any]:
    """The body of one of the apps' own errors (`DOMAIN_ERRORS`)."""
    return error_body(exc.code, exc.message, **exc.extra)  # type: ignore[attr-defined]


def _django_validation_fields(exc: DjangoValidationError) -> dict[str, Any]:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    return {"non_field_errors": exc.messages}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = _error_response(exc, context)
    if response is not None and isinstance(response.data, dict):
        response.data["request_id"] = get_guid()
    return response


def _error_response(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DOMAIN_ERRORS):
        return Response(domain_error_body(exc), status=exc.status_code)  # type: ignore[attr-defined]
    if isinstance(exc, DjangoValidationError):
        body = error_body("invalid", "Invalid input.", fields=_django_validation_fields(exc))
        return Response(body, status=400)
    # DRF answers Django's own 404 and 403 (`get_object_or_404`) too, but with its `{"detail"}` body: map them first.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        # Raised while parsing a form body past Django's DATA_UPLOAD_MAX_* limits; left alone, Django's HTML 400.
        exc = exceptions.ParseError(str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("invalid", "Invalid input.", fields=fields)
    elif isinstance(exc, exceptions.APIException):
        extra = {"wait": exc.wait} if isinstance(exc, exceptions.Throttled) else {}
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        response.data = error_body(str(code), str(exc.detail), **extra)
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The project's 404 page (`handler404`): a URL under /api/ that matches no route (`/jobs/abc/`) answers with
    the error shape too, not Django's HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse({**error_body("not_found", "Not found."), "request_id": get_guid()}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """The project's 500 page (`handler500`): under /api/ the error shape, with the id to quote when reporting it."""
    if request.path.startswith("/api/"):
        body = error_body("server_error", "Something went wrong on our side; quote the request_id if you report it.")
        return JsonResponse({**body, "request_id": get_guid()}, status=500)
    return defaults.server_error(request)
