"""Worker API: the qualification tests you can take with your standing on each, starting an attempt, reading it,
and submitting it once.

Questions are addressed by their position in the attempt: no response carries a question id, an answer key, or
which of your answers were right; only your score and whether you passed.
"""

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from qualification import selectors
from qualification.api.base import IsWorker, QualificationErrorSerializer, SecondsField
from qualification.api.fields import JSONField
from qualification.models import Attempt, Qualification
from qualification.services.attempts import attempt_start, attempt_submit

ERRORS = {403: QualificationErrorSerializer, 404: QualificationErrorSerializer, 409: QualificationErrorSerializer}


class StandingSerializer(serializers.Serializer):
    holds = serializers.BooleanField(help_text="You hold a live grant (neither revoked nor expired).")
    grant_score = serializers.FloatField(allow_null=True)
    grant_expires_at = serializers.DateTimeField(allow_null=True, help_text="Null: never expires (or not held).")
    attempts_used = serializers.IntegerField()
    attempts_left = serializers.IntegerField(allow_null=True, help_text="Null: unlimited.")
    retake_allowed_at = serializers.DateTimeField(allow_null=True, help_text="When the retake cool-down ends.")
    open_attempt_id = serializers.IntegerField(allow_null=True, help_text="Your attempt in progress, if any.")
    can_start = serializers.BooleanField(help_text="Starting now would start (or resume) an attempt.")
    blocked_by = serializers.CharField(
        allow_null=True,
        help_text="Why not: already_qualified, qualification_revoked, attempt_limit_reached or retake_cooldown.",
    )


class WorkQualificationSerializer(serializers.ModelSerializer):
    pass_mark = serializers.DecimalField(max_digits=4, decimal_places=3, coerce_to_string=False, read_only=True)
    time_limit_seconds = SecondsField(source="time_limit")
    retake_cooldown_seconds = SecondsField(source="retake_cooldown")
    valid_for_seconds = SecondsField(source="valid_for", allow_null=True)
    standing = serializers.SerializerMethodField()

    class Meta:
        model = Qualification
        fields = [
            "id",
            "name",
            "description",
            "label_schema",
            "pass_mark",
            "questions_per_attempt",
            "time_limit_seconds",
            "retake_cooldown_seconds",
            "max_attempts",
            "valid_for_seconds",
            "standing",
        ]
        read_only_fields = fields

    @extend_schema_field(StandingSerializer)
    def get_standing(self, qualification: Qualification) -> dict:
        return StandingSerializer(selectors.standing_of(qualification)).data


class WorkQualificationFilter(django_filters.FilterSet):
    # No longer than a name can be: it could match nothing, and SQLite refuses a LIKE pattern over 50,000 bytes.
    name = django_filters.CharFilter(
        lookup_expr="icontains", max_length=Qualification._meta.get_field("name").max_length
    )

    class Meta:
        model = Qualification
        fields = ["name", "is_public"]


class WorkQualificationListApi(generics.ListAPIView):
    """Active qualification tests you may take (every one but your own), each with your standing."""

    permission_classes = [IsWorker]
    serializer_class = WorkQualificationSerializer
    filterset_class = WorkQualificationFilter
    ordering_fields = ["id", "name"]

    def get_queryset(self) -> QuerySet[Qualification]:
        if getattr(self, "swagger_fake_view", False):
            return Qualification.objects.none()
        return selectors.work_qualification_list(worker=self.request.user)


class AttemptQuestionSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    payload = serializers.JSONField()


class AttemptAnswerSerializer(serializers.Serializer):
    position = serializers.IntegerField(min_value=0)
    answer = JSONField()


class AttemptGrantSerializer(serializers.Serializer):
    score = serializers.FloatField()
    granted_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class AttemptSerializer(serializers.ModelSerializer):
    qualification_name = serializers.CharField(source="qualification.name", read_only=True)
    questions = serializers.SerializerMethodField()
    answers = serializers.SerializerMethodField()
    grant = serializers.SerializerMethodField()

    class Meta:
        model = Attempt
        fields = [
            "id",
            "qualification",
            "qualification_name",
            "status",
            "started_at",
            "deadline",
            "graded_at",
            "questions",
            "answers",
            "score",
            "passed",
            "grant",
        ]
        read_only_fields = fields

    @extend_schema_field(AttemptQuestionSerializer(many=True))
    def get_questions(self, attempt: Attempt) -> list[dict]:
        questions = selectors.attempt_questions(attempt=attempt)
        return [{"position": position, "payload": question.payload} for position, question in enumerate(questions)]

    @extend_schema_field(AttemptAnswerSerializer(many=True))
    def get_answers(self, attempt: Attempt) -> list[dict]:
        return [{"position": position, "answer": value} for position, value in enumerate(attempt.answers or [])]

    @extend_schema_field(AttemptGrantSerializer(allow_null=True))
    def get_grant(self, attempt: Attempt) -> dict | None:
        if not attempt.passed:
            return None
        grant = selectors.attempt_grant(attempt=attempt)
        return AttemptGrantSerializer(grant).data if grant else None


class WorkAttemptStartApi(APIView):
    permission_classes = [IsWorker]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "attempt"

    @extend_schema(
        request=None,
        responses={201: AttemptSerializer, 200: AttemptSerializer, **ERRORS},
        summary="Start an attempt at a qualification test",
        description="201 with the drawn questions; 200 with your attempt in progress if you have one. 409 "
        "`already_qualified`, `qualification_revoked`, `attempt_limit_reached`, `retake_cooldown` (with "
        "`extra.retake_allowed_at`) or `qualification_inactive`; 403 `not_eligible` for your own qualification.",
    )
    def post(self, request: Request, qualification_id: int) -> Response:
        attempt, created = attempt_start(qualification_id=qualification_id, worker=request.user)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(AttemptSerializer(attempt).data, status=code)


class WorkAttemptDetailApi(APIView):
    permission_classes = [IsWorker]

    @extend_schema(responses={200: AttemptSerializer, 404: QualificationErrorSerializer})
    def get(self, request: Request, attempt_id: int) -> Response:
        attempt = selectors.worker_attempt_get(worker=request.user, attempt_id=attempt_id)
        return Response(AttemptSerializer(attempt).data)


class WorkAttemptSubmitApi(APIView):
    permission_classes = [IsWorker]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "submit"

    class AttemptSubmitSerializer(serializers.Serializer):
        answers = AttemptAnswerSerializer(many=True, allow_empty=False, max_length=1000)

    @extend_schema(
        request=AttemptSubmitSerializer,
        responses={200: AttemptSerializer, 400: QualificationErrorSerializer, **ERRORS},
        summary="Submit an answer for every question of the attempt; graded at once",
        description="Idempotent: the same answers again return the same result. 409 `already_submitted` for "
        "different answers; 409 `attempt_closed` after the time limit. 400 `invalid_answers` names each position.",
    )
    def post(self, request: Request, attempt_id: int) -> Response:
        data = self.AttemptSubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        attempt = attempt_submit(attempt_id=attempt_id, worker=request.user, answers=data.validated_data["answers"])
        return Response(AttemptSerializer(attempt).data)
