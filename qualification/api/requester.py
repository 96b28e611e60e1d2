"""Requester API: define qualifications with their question pool, add questions, open/close/share them, and grant
or revoke them by hand. Only the owner (or staff) manages a qualification and sees its answer keys; other
requesters may read public ones (never their questions) and get 404 for private ones."""

from decimal import Decimal
from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from qualification import selectors
from qualification.api.base import IsRequesterOrStaff, QualificationErrorSerializer, SecondsField, seconds_to_durations
from qualification.api.fields import JSONField
from qualification.models import Grant, Qualification, Question
from qualification.services.grants import grant_manual, grant_revoke
from qualification.services.qualifications import qualification_create, qualification_update, question_add

DURATIONS = ("time_limit", "retake_cooldown", "valid_for")
ERRORS = {400: QualificationErrorSerializer, 403: QualificationErrorSerializer, 404: QualificationErrorSerializer}

# --- Qualifications ------------------------------------------------------------------------------------------------


class QuestionSerializer(serializers.ModelSerializer):
    """A question with its answer key: for the qualification's owner and staff only."""

    answer = serializers.JSONField(source="answer_key", read_only=True)

    class Meta:
        model = Question
        fields = ["id", "payload", "answer"]
        read_only_fields = fields


class QualificationSerializer(serializers.ModelSerializer):
    pass_mark = serializers.DecimalField(max_digits=4, decimal_places=3, coerce_to_string=False, read_only=True)
    time_limit_seconds = SecondsField(source="time_limit")
    retake_cooldown_seconds = SecondsField(source="retake_cooldown")
    valid_for_seconds = SecondsField(source="valid_for", allow_null=True)
    question_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Qualification
        fields = [
            "id",
            "owner",
            "name",
            "description",
            "label_schema",
            "pass_mark",
            "questions_per_attempt",
            "time_limit_seconds",
            "retake_cooldown_seconds",
            "max_attempts",
            "valid_for_seconds",
            "is_public",
            "is_active",
            "created_at",
            "question_count",
        ]
        read_only_fields = fields


class QualificationDetailSerializer(QualificationSerializer):
    """`questions` (with answer keys) for the owner and staff; null for anyone else."""

    questions = serializers.SerializerMethodField()

    class Meta(QualificationSerializer.Meta):
        fields = [*QualificationSerializer.Meta.fields, "questions"]
        read_only_fields = fields

    @extend_schema_field(QuestionSerializer(many=True, allow_null=True))
    def get_questions(self, qualification: Qualification) -> list[dict] | None:
        if not self.context.get("show_keys"):
            return None
        return QuestionSerializer(selectors.question_list(qualification=qualification), many=True).data


class QuestionInputSerializer(serializers.Serializer):
    payload = JSONField(help_text="What the worker sees: a non-empty object.")
    answer = JSONField(help_text="The answer key: a valid answer under the label schema.")


class QualificationInputSerializer(serializers.Serializer):
    """Shape checks only; the rules (schema, keys, pool size) live in the services."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    label_schema = JSONField()
    pass_mark = serializers.DecimalField(
        max_digits=4, decimal_places=3, min_value=Decimal(0), max_value=Decimal(1), required=False
    )
    questions_per_attempt = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    time_limit_seconds = serializers.IntegerField(min_value=60, max_value=7 * 24 * 3600, required=False)
    retake_cooldown_seconds = serializers.IntegerField(min_value=0, max_value=365 * 24 * 3600, required=False)
    max_attempts = serializers.IntegerField(min_value=1, max_value=1000, required=False, allow_null=True)
    valid_for_seconds = serializers.IntegerField(
        min_value=3600, max_value=10 * 365 * 24 * 3600, required=False, allow_null=True
    )
    is_public = serializers.BooleanField(required=False)
    questions = QuestionInputSerializer(many=True, allow_empty=False, max_length=5000)

    def to_service_fields(self) -> dict[str, Any]:
        return seconds_to_durations(dict(self.validated_data), *DURATIONS)


class QualificationUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)
    is_public = serializers.BooleanField(required=False)


class QualificationFilter(django_filters.FilterSet):
    include_others = django_filters.BooleanFilter(
        method="_applied_in_filter_queryset",
        label="Also list others' qualifications you may require on jobs: public ones (every one, for staff).",
    )
    # No longer than a name can be: it could match nothing, and SQLite refuses a LIKE pattern over 50,000 bytes.
    name = django_filters.CharFilter(
        lookup_expr="icontains", max_length=Qualification._meta.get_field("name").max_length
    )

    class Meta:
        model = Qualification
        fields = ["include_others", "name", "is_active", "is_public"]

    def filter_queryset(self, queryset: QuerySet[Qualification]) -> QuerySet[Qualification]:
        if not self.form.cleaned_data.get("include_others"):
            queryset = queryset.filter(owner=self.request.user)
        return super().filter_queryset(queryset)

    def _applied_in_filter_queryset(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return queryset


class QualificationListCreateApi(generics.ListAPIView):
    """Your qualifications (add `include_others=true` for the public ones you may require), and defining one."""

    permission_classes = [IsRequesterOrStaff]
    serializer_class = QualificationSerializer
    filterset_class = QualificationFilter
    ordering_fields = ["id", "name", "created_at"]

    def get_queryset(self) -> QuerySet[Qualification]:
        if getattr(self, "swagger_fake_view", False):
            return Qualification.objects.none()
        return selectors.qualification_list(user=self.request.user)

    @extend_schema(
        request=QualificationInputSerializer,
        responses={201: QualificationDetailSerializer, 400: QualificationErrorSerializer},
        summary="Define a qualification with its question pool",
        description="All or nothing. 400 `invalid_questions` lists each bad question by `index` in `extra.errors`.",
    )
    def post(self, request: Request) -> Response:
        data = QualificationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = qualification_create(owner=request.user, **data.to_service_fields())
        qualification = selectors.qualification_get(user=request.user, qualification_id=created.pk)
        body = QualificationDetailSerializer(qualification, context={"show_keys": True}).data
        return Response(body, status=status.HTTP_201_CREATED)


class QualificationDetailApi(APIView):
    permission_classes = [IsRequesterOrStaff]

    @extend_schema(responses={200: QualificationDetailSerializer, 404: QualificationErrorSerializer})
    def get(self, request: Request, qualification_id: int) -> Response:
        qualification = selectors.qualification_get(user=request.user, qualification_id=qualification_id)
        return Response(_detail(qualification, request))

    @extend_schema(request=QualificationUpdateSerializer, responses={200: QualificationDetailSerializer, **ERRORS})
    def patch(self, request: Request, qualification_id: int) -> Response:
        qualification = selectors.qualification_get_managed(user=request.user, qualification_id=qualification_id)
        data = QualificationUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        qualification = qualification_update(qualification=qualification, by=request.user, **data.validated_data)
        return Response(_detail(qualification, request))


def _detail(qualification: Qualification, request: Request) -> dict:
    show_keys = selectors.can_manage(qualification=qualification, user=request.user)
    return QualificationDetailSerializer(qualification, context={"show_keys": show_keys}).data


class QualificationQuestionsApi(APIView):
    permission_classes = [IsRequesterOrStaff]

    class QuestionAddSerializer(serializers.Serializer):
        questions = QuestionInputSerializer(many=True, allow_empty=False, max_length=5000)

    @extend_schema(
        request=QuestionAddSerializer,
        responses={201: QuestionSerializer(many=True), **ERRORS},
        summary="Add questions to a qualification's pool",
        description="All or nothing; 400 `invalid_questions` lists each bad question by `index`.",
    )
    def post(self, request: Request, qualification_id: int) -> Response:
        qualification = selectors.qualification_get_managed(user=request.user, qualification_id=qualification_id)
        data = self.QuestionAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        questions = question_add(
            qualification=qualification, questions=data.validated_data["questions"], by=request.user
        )
        return Response(QuestionSerializer(questions, many=True).data, status=status.HTTP_201_CREATED)


# --- Grants --------------------------------------------------------------------------------------------------------


class GrantSerializer(serializers.ModelSerializer):
    is_live = serializers.BooleanField(read_only=True, help_text="Neither revoked nor expired.")

    class Meta:
        model = Grant
        fields = [
            "id",
            "qualification",
            "worker",
            "score",
            "source",
            "attempt",
            "reason",
            "granted_by",
            "granted_at",
            "expires_at",
            "is_live",
            "revoked_at",
            "revoked_by",
            "revoke_reason",
        ]
        read_only_fields = fields


class GrantInputSerializer(serializers.Serializer):
    worker = serializers.PrimaryKeyRelatedField(queryset=get_user_model().objects.all())
    score = serializers.FloatField(min_value=0.0, max_value=1.0)
    reason = serializers.CharField(max_length=255)
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Default: now + the qualification's validity (never if none)."
    )


class GrantRevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class GrantFilter(django_filters.FilterSet):
    live = django_filters.BooleanFilter(field_name="is_live")

    class Meta:
        model = Grant
        fields = ["worker", "source", "live"]


class GrantListCreateApi(generics.ListAPIView):
    """Every grant of the qualification, revoked and superseded ones included; and granting it by hand."""

    permission_classes = [IsRequesterOrStaff]
    serializer_class = GrantSerializer
    filterset_class = GrantFilter
    ordering_fields = ["id", "granted_at", "score"]

    def get_queryset(self) -> QuerySet[Grant]:
        if getattr(self, "swagger_fake_view", False):
            return Grant.objects.none()
        return selectors.grant_list(qualification=self._qualification())

    def _qualification(self) -> Qualification:
        return selectors.qualification_get_managed(
            user=self.request.user, qualification_id=self.kwargs["qualification_id"]
        )

    @extend_schema(
        request=GrantInputSerializer,
        responses={201: GrantSerializer, **ERRORS},
        summary="Grant the qualification to a worker by hand",
        description="A reason is required. Replaces the worker's current grant, which stays on record as superseded.",
    )
    def post(self, request: Request, qualification_id: int) -> Response:
        qualification = self._qualification()
        data = GrantInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        grant = grant_manual(qualification=qualification, by=request.user, **data.validated_data)
        grant = selectors.grant_get(qualification=qualification, grant_id=grant.pk)
        return Response(GrantSerializer(grant).data, status=status.HTTP_201_CREATED)


class GrantRevokeApi(APIView):
    permission_classes = [IsRequesterOrStaff]

    @extend_schema(
        request=GrantRevokeSerializer,
        responses={200: GrantSerializer, **ERRORS},
        summary="Revoke a grant, with a reason",
        description="Idempotent: revoking a revoked grant returns it unchanged (the first reason stands).",
    )
    def post(self, request: Request, qualification_id: int, grant_id: int) -> Response:
        qualification = selectors.qualification_get_managed(user=request.user, qualification_id=qualification_id)
        grant = selectors.grant_get(qualification=qualification, grant_id=grant_id)
        data = GrantRevokeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        grant_revoke(grant=grant, reason=data.validated_data["reason"], by=request.user)
        return Response(GrantSerializer(selectors.grant_get(qualification=qualification, grant_id=grant_id)).data)
