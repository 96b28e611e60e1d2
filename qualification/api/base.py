"""Shared pieces of the qualification API: permissions, the error body's schema, and durations in seconds.

The error body itself is rendered by the project's one exception handler, which maps `QualificationError`.
"""

from datetime import timedelta
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class IsRequesterOrStaff(BasePermission):
    message = "This needs the requester role (PATCH /api/v1/me/ with is_requester=true)."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (getattr(user, "is_requester", False) or user.is_staff))


class IsWorker(BasePermission):
    message = "This needs the worker role (PATCH /api/v1/me/ with is_worker=true)."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "is_worker", False))


class QualificationErrorSerializer(serializers.Serializer):
    """`{"code", "message", "extra"}`: the one error shape of the API."""

    code = serializers.CharField()
    message = serializers.CharField()
    extra = serializers.DictField()


@extend_schema_field(OpenApiTypes.INT)
class SecondsField(serializers.Field):
    """A duration shown as whole seconds (null when empty)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: timedelta) -> int:
        return int(value.total_seconds())


def seconds_to_durations(fields: dict[str, Any], *names: str) -> dict[str, Any]:
    """`{"time_limit_seconds": 60}` -> `{"time_limit": timedelta(seconds=60)}` (None stays None)."""
    for name in names:
        key = f"{name}_seconds"
        if key in fields:
            seconds = fields.pop(key)
            fields[name] = None if seconds is None else timedelta(seconds=seconds)
    return fields
