from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class IsRequester(BasePermission):
    message = "This needs the requester role (PATCH /api/v1/me/ with is_requester=true)."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_requester)


class IsWorker(BasePermission):
    message = "This needs the worker role (PATCH /api/v1/me/ with is_worker=true)."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_worker)
