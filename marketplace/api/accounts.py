from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.accounts.models import User
from marketplace.accounts.services import user_set_roles
from workers.selectors import worker_profile_get


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    is_requester = serializers.BooleanField()
    is_worker = serializers.BooleanField()
    is_staff = serializers.BooleanField()
    roles = serializers.ListField(child=serializers.CharField())
    reputation = serializers.SerializerMethodField(help_text="0..1, null until first computed (README: Reputation).")
    gold_answered = serializers.SerializerMethodField()
    gold_correct = serializers.SerializerMethodField()

    def get_reputation(self, user: User) -> float | None:
        profile = worker_profile_get(worker=user)
        return profile.reputation if profile else None

    def get_gold_answered(self, user: User) -> int:
        profile = worker_profile_get(worker=user)
        return profile.gold_answered if profile else 0

    def get_gold_correct(self, user: User) -> int:
        profile = worker_profile_get(worker=user)
        return profile.gold_correct if profile else 0


class MeApi(APIView):
    """The signed-in user and their roles."""

    class RolesSerializer(serializers.Serializer):
        is_requester = serializers.BooleanField(required=False)
        is_worker = serializers.BooleanField(required=False)

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)

    @extend_schema(request=RolesSerializer, responses=MeSerializer)
    def patch(self, request: Request) -> Response:
        data = self.RolesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_set_roles(user=request.user, **data.validated_data)
        return Response(MeSerializer(user).data)
