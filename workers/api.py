"""Staff API: platform-wide bans, with a reason, recorded and reversible."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.permissions import BasePermission, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from workers.models import Ban, Notification, NotificationKind
from workers.notifications import (
    notification_list,
    notification_settings,
    notification_settings_update,
    notifications_mark_read,
)
from workers.services import worker_ban, worker_unban


class BanSerializer(serializers.ModelSerializer):
    class Meta:
        model = Ban
        fields = ["id", "worker", "reason", "created_by", "created_at", "lifted_at", "lifted_by", "lift_reason"]
        read_only_fields = fields


class BanReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class WorkersErrorSerializer(serializers.Serializer):
    """`{"code", "message", "extra"}`: the one error shape of the API."""

    code = serializers.CharField()
    message = serializers.CharField()
    extra = serializers.DictField()


class WorkerBanApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=BanReasonSerializer,
        responses={201: BanSerializer, 409: WorkersErrorSerializer},
        summary="Ban a worker platform-wide",
        description="409 `already_banned` when the worker already has a standing ban.",
    )
    def post(self, request: Request, user_id: int) -> Response:
        worker = get_object_or_404(get_user_model(), pk=user_id)
        data = BanReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ban = worker_ban(worker=worker, reason=data.validated_data["reason"], by=request.user)
        return Response(BanSerializer(ban).data, status=201)


class WorkerUnbanApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=BanReasonSerializer,
        responses={200: BanSerializer, 409: WorkersErrorSerializer},
        summary="Lift a worker's ban",
        description="409 `not_banned` when the worker has no standing ban.",
    )
    def post(self, request: Request, user_id: int) -> Response:
        worker = get_object_or_404(get_user_model(), pk=user_id)
        data = BanReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ban = worker_unban(worker=worker, reason=data.validated_data["reason"], by=request.user)
        return Response(BanSerializer(ban).data)


# --- A worker's notifications ----------------------------------------------------------------------------------------


class IsWorkerUser(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and getattr(request.user, "is_worker", False))


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "created_at", "read_at"]
        read_only_fields = fields


class NotificationListApi(generics.ListAPIView):
    """Your notifications, newest first (`?unread=true` for the unread ones): approvals, rejections with their reason,
    appeal decisions, qualifications granted or revoked, blocks and unblocks, payouts."""

    permission_classes = [IsWorkerUser]
    serializer_class = NotificationSerializer

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        unread = self.request.query_params.get("unread")
        return notification_list(worker=self.request.user, unread=None if unread is None else unread == "true")


class NotificationReadApi(APIView):
    """Mark notifications read: `{"ids": [...]}`, or `{}` for all of them."""

    permission_classes = [IsWorkerUser]

    class ReadSerializer(serializers.Serializer):
        ids = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=1000)

    @extend_schema(
        request=ReadSerializer, responses={200: inline_serializer("Read", {"read": serializers.IntegerField()})}
    )
    def post(self, request: Request) -> Response:
        data = self.ReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"read": notifications_mark_read(worker=request.user, ids=data.validated_data.get("ids"))})


class NotificationSettingsApi(APIView):
    """Which notifications are e-mailed to you (`{"email": {"<kind>": true|false, ...}}`); all but approvals are,
    unless you turn them off. The inbox always has every one."""

    permission_classes = [IsWorkerUser]

    class SettingsSerializer(serializers.Serializer):
        email = serializers.DictField(child=serializers.BooleanField())

        def validate_email(self, value: dict[str, bool]) -> dict[str, bool]:
            unknown = sorted(set(value) - set(NotificationKind.values))
            if unknown:
                raise serializers.ValidationError(f"Unknown kinds {unknown}; known: {NotificationKind.values}.")
            return value

    @extend_schema(responses=SettingsSerializer)
    def get(self, request: Request) -> Response:
        return Response({"email": notification_settings(worker=request.user)})

    @extend_schema(request=SettingsSerializer, responses=SettingsSerializer)
    def patch(self, request: Request) -> Response:
        data = self.SettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            {"email": notification_settings_update(worker=request.user, email=data.validated_data["email"])}
        )
