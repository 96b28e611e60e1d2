"""Bodies coming in, held to `qualification.storable` before any view sees them: the API's parsers (DRF's defaults,
`REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`) and a guard in front of allauth's headless endpoints, which parse their
bodies themselves. A JSON body is bounded in size (`DATA_UPLOAD_MAX_MEMORY_SIZE`) and depth and may hold nothing
PostgreSQL cannot store (NUL, lone surrogates, NaN/Infinity, integers past 64 bits, strings over a million
characters); a form field's text is held to the same limits. Refused with a 400 that names the field, instead of a
500 from the database.
"""

import json
from collections.abc import Callable
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from rest_framework import exceptions, parsers

from qualification import storable


def _read(stream: IO[bytes], encoding: str) -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    raw = stream.read(limit + 1) if limit is not None else stream.read()
    if limit is not None and len(raw) > limit:
        raise RequestDataTooBig(f"The body is larger than {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE).")
    return raw.decode(encoding)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded: `400 invalid` naming the field for a value the database cannot store or nested
    deeper than `qualification.storable.MAX_DEPTH`; `400 parse_error` for bad JSON or a body over the size limit."""

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context: dict | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return storable.loads(_read(stream, encoding))
        except storable.NotStorable as exc:
            raise exceptions.ValidationError({exc.field or "non_field_errors": [exc.message]}) from None
        except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


def _check_form(data: QueryDict) -> None:
    for name, values in data.lists():
        for value in values:
            if isinstance(value, str) and (reason := storable.text_problem(value)) is not None:
                raise exceptions.ValidationError({storable.safe_text(name): [f"The value {reason}."]})


class FormParser(parsers.FormParser):
    """DRF's, with each field's text held to what the database can store (DRF's CharField refuses NUL and
    surrogates, but not a text of any length, and a JSON field takes its text as it comes)."""

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context: dict | None = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _check_form(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """DRF's, with each (non-file) field's text held to what the database can store, as `FormParser`'s."""

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context: dict | None = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        _check_form(parsed.data)
        return parsed


class HeadlessJSONMiddleware:
    """allauth's headless views (`/_allauth/`) read JSON with a bare `json.loads`: a body nested 2,000 deep, an
    integer of 5,000 digits or a lone surrogate in a password was a 500. Such a body is answered here, in allauth's
    own error shape (`{"status": 400, "errors": [{"message", "code", "param"}]}`); any other goes on to allauth,
    which answers bad JSON itself."""

    PREFIX = "/_allauth/"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(self.PREFIX) and request.method not in ("GET", "HEAD", "OPTIONS"):
            try:
                storable.loads(request.body.decode("utf-8"))
            except storable.NotStorable as exc:
                error = {"message": exc.message, "code": "invalid", "param": exc.field}
                return JsonResponse({"status": 400, "errors": [error]}, status=400)
            except (UnicodeDecodeError, ValueError, json.JSONDecodeError):
                pass
        return self.get_response(request)
