"""Staff API: platform-wide bans, with a reason, recorded and reversible."""

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from workers.models import Ban
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
