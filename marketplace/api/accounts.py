from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.accounts.models import ApiKey, ApiKeyScope, User
from marketplace.accounts.selectors import api_key_list
from marketplace.accounts.services import api_key_create, api_key_revoke, user_set_roles
from marketplace.api.permissions import IsRequester
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


class ApiKeySerializer(serializers.ModelSerializer):
    expires_at = serializers.DateTimeField(source="expiry_date", allow_null=True)

    class Meta:
        model = ApiKey
        fields = ["prefix", "name", "scopes", "created", "expires_at", "last_used_at", "revoked", "revoked_at"]
        read_only_fields = fields


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The key itself: shown this once, only its hash is kept.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyListCreateApi(generics.ListAPIView):
    """Your API keys (`GET`), or a new one (`POST`): a name and its scopes (`jobs`, `money`; none = read-only), and an
    optional expiry. The answer holds the key once. Scripts send it as `Authorization: Api-Key <key>`. Keys are
    managed in a signed-in session only (a key cannot list, create or revoke keys)."""

    permission_classes = [IsRequester]
    serializer_class = ApiKeySerializer

    class ApiKeyInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=50)
        scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiKeyScope.choices), max_length=2)
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def get_queryset(self) -> QuerySet[ApiKey]:
        if getattr(self, "swagger_fake_view", False):
            return ApiKey.objects.none()
        return api_key_list(user=self.request.user)

    @extend_schema(request=ApiKeyInputSerializer, responses={201: ApiKeyCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = self.ApiKeyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        api_key, secret = api_key_create(user=request.user, **data.validated_data)
        api_key.key = secret
        return Response(ApiKeyCreatedSerializer(api_key).data, status=status.HTTP_201_CREATED)


class ApiKeyRevokeApi(APIView):
    """Revoke one of your keys, for good (by its prefix). Requests with it are refused from then on."""

    permission_classes = [IsRequester]

    @extend_schema(request=None, responses=ApiKeySerializer)
    def post(self, request: Request, prefix: str) -> Response:
        return Response(ApiKeySerializer(api_key_revoke(user=request.user, prefix=prefix)).data)
