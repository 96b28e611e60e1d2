"""Worker API: find work, claim a micro-task, submit answers, release.

Nothing here tells a gold item from a real one: items are addressed by their position in the assignment, and no
response carries item ids, gold flags, gold answers or grading, nor any other worker's answers. Nor how many items
are gold: a job publishes its assignment size (`items_per_assignment`, gold included), never its items per task or
its gold share, and every assignment of a task holds the same number of gold items.
"""

from typing import Any

import django_filters
from django.conf import global_settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import selectors
from marketplace.accounts.models import User
from marketplace.api.errors import ErrorSerializer, domain_error_body
from marketplace.api.media import work_item_payloads
from marketplace.api.permissions import IsWorker
from marketplace.api.throttling import ClaimWindowRateThrottle, WindowRateThrottle
from marketplace.models import (
    Assignment,
    AssignmentStatus,
    HiddenRequester,
    Job,
    Participation,
    RequesterStanding,
    ReviewStatus,
)
from marketplace.services.assignments import (
    assignment_claim,
    assignment_release,
    assignment_submit,
    assignment_submit_and_claim,
)
from marketplace.services.standing import requester_hide, requester_unhide
from qualification.api.fields import JSONField
from qualification.labels import LABEL_SCHEMA_TYPES


class RequesterStandingSerializer(serializers.ModelSerializer):
    """How the requester treats workers over the last REQUESTER_STANDING_DAYS days (README: Requester standing)."""

    rejected_share = serializers.FloatField(allow_null=True)
    overturned_share = serializers.FloatField(allow_null=True)

    class Meta:
        model = RequesterStanding
        fields = [
            "reviews",
            "rejected_share",
            "review_hours_median",
            "pay_hours_median",
            "appeals_decided",
            "overturned_share",
            "computed_at",
        ]
        read_only_fields = fields


def requester_display_name(user: User) -> str:
    """What workers see of a requester: their name if they gave one, never their e-mail address."""
    return user.get_full_name() or f"Requester #{user.pk}"


class WorkJobSerializer(serializers.ModelSerializer):
    assignment_duration_seconds = serializers.IntegerField(read_only=True)
    requester = serializers.IntegerField(source="requester_id", read_only=True)
    requester_name = serializers.SerializerMethodField()
    requester_standing = serializers.SerializerMethodField()
    items_per_assignment = serializers.IntegerField(
        read_only=True,
        help_text="Items you answer per assignment, hidden gold included (the last tasks of a job may hold fewer). "
        "How many of them are gold is never said.",
    )
    assignments_available = serializers.IntegerField(read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "title",
            "instructions",
            "label_schema",
            "items_per_assignment",
            "reward_cents",
            "currency",
            "assignment_duration_seconds",
            "max_open_assignments",
            "daily_cap",
            "deadline",
            "language",
            "assignments_available",
            "requester",
            "requester_name",
            "requester_standing",
        ]
        read_only_fields = fields

    def get_requester_name(self, job: Job) -> str:
        return requester_display_name(job.requester)

    @extend_schema_field(RequesterStandingSerializer(allow_null=True))
    def get_requester_standing(self, job: Job) -> dict | None:
        standing = getattr(job.requester, "standing", None)  # None: nothing reviewed yet (a new requester)
        return RequesterStandingSerializer(standing).data if standing else None


class WorkJobSearchSerializer(serializers.Serializer):
    """The find-work filters, as query parameters; each is optional."""

    q = serializers.CharField(
        required=False, max_length=100, help_text="Text in the job's title or instructions (at most 100 characters)."
    )
    type = serializers.ChoiceField(required=False, choices=sorted(LABEL_SCHEMA_TYPES), help_text="The answer type.")
    min_reward_cents = serializers.IntegerField(required=False, min_value=0, help_text="Reward per task, at least.")
    min_hourly_cents = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="Per hour at the floor (the reward over the time allotted: what taking all of it earns), at least.",
    )
    max_rejected_share = serializers.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        help_text="Only requesters who rejected at most this share of the work they reviewed (requesters with no "
        "reviews yet are left out).",
    )
    language = serializers.ChoiceField(
        required=False,
        choices=global_settings.LANGUAGES,
        help_text="Jobs in this language (a code of Django's LANGUAGES), and jobs that need none in particular.",
    )

    def search_arguments(self) -> dict[str, Any]:
        """`selectors.work_job_search`'s keyword arguments."""
        data = self.validated_data
        return {
            "text": data.get("q", ""),
            "answer_type": data.get("type", ""),
            "min_reward_cents": data.get("min_reward_cents"),
            "min_hourly_cents": data.get("min_hourly_cents"),
            "max_rejected_share": data.get("max_rejected_share"),
            "language": data.get("language", ""),
        }


@extend_schema_view(get=extend_schema(parameters=[WorkJobSearchSerializer]))
class WorkJobListApi(generics.ListAPIView):
    """Active jobs you may work on, with their pay, time allotted and how many assignments are left; the filters
    are those of the find-work page. A filter's bad value is a 400 naming it."""

    permission_classes = [IsWorker]
    serializer_class = WorkJobSerializer
    ordering_fields = ["id", "reward_cents", "deadline"]

    def get_queryset(self) -> QuerySet[Job]:
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        search = WorkJobSearchSerializer(data=self.request.query_params)
        search.is_valid(raise_exception=True)
        return selectors.work_job_search(worker=self.request.user, **search.search_arguments())


class WorkItemSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    payload = serializers.JSONField()


class WorkAnswerListSerializer(serializers.ListSerializer):
    """A submit's answers, validated as `WorkAnswerSerializer` validates each, with a short cut for the usual one.

    DRF validates each answer through its generic path (copies of the answer serializer's fields, two fields' run
    of empty checks and validators): about 1 M instructions per submit of six answers, 7% of a claim + submit
    cycle's 13.8 M (callgrind; 0.36 M with this short cut). An answer that is a JSON object with a non-negative
    integer `position` and a non-null `answer` passes that path unchanged, so it is taken as it is; anything else
    goes through DRF, errors and all. A test checks that both give the same result.
    """

    def run_child_validation(self, data: Any) -> Any:
        if type(data) is dict:
            position, answer = data.get("position"), data.get("answer")
            if type(position) is int and position >= 0 and answer is not None:
                return {"position": position, "answer": answer}
        return super().run_child_validation(data)


class WorkAnswerSerializer(serializers.Serializer):
    position = serializers.IntegerField(min_value=0)
    answer = JSONField()

    class Meta:
        list_serializer_class = WorkAnswerListSerializer


class WorkAssignmentSerializer(serializers.Serializer):
    # Answers every claim and submit. The fields below document it (OpenAPI); `to_representation` writes the same
    # output directly, because DRF's generic path deep-copies every declared field on each use (about a tenth of a
    # claim's Python in bench/claims's profile). A test in tests/marketplace/test_assignments.py checks they agree.

    id = serializers.IntegerField(read_only=True)
    job = serializers.IntegerField(source="job_id", read_only=True)
    status = serializers.ChoiceField(choices=AssignmentStatus.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)
    submitted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    review_status = serializers.ChoiceField(choices=ReviewStatus.choices, read_only=True)
    reject_reason = serializers.CharField(read_only=True)
    items = serializers.SerializerMethodField()
    answers = serializers.SerializerMethodField()

    @extend_schema(responses=WorkItemSerializer(many=True))  # type: ignore[misc]
    def get_items(self, assignment: Assignment) -> list[dict]:
        payloads = getattr(assignment, "payloads", None)  # a claim or submit hands them over: no second read
        if payloads is None:
            payloads = [item.payload for item in selectors.assignment_items(assignment=assignment)]
        payloads = work_item_payloads(assignment, payloads)
        items = [{"position": position, "payload": payload} for position, payload in enumerate(payloads)]
        if assignment.job.prelabel_model:  # every item gets the key, gold or not: its presence tells nothing
            for item, prelabel in zip(items, selectors.assignment_prelabels(assignment=assignment), strict=True):
                item["prelabel"] = prelabel
        return items

    @extend_schema(responses=WorkAnswerSerializer(many=True))  # type: ignore[misc]
    def get_answers(self, assignment: Assignment) -> list[dict]:
        if assignment.status != AssignmentStatus.SUBMITTED:
            return []
        values = getattr(assignment, "answer_values", None)
        if values is None:
            values = selectors.assignment_answer_values(assignment=assignment)
        return [{"position": position, "answer": value} for position, value in sorted(values.items())]

    def to_representation(self, assignment: Assignment) -> dict[str, Any]:
        timestamp = _DATETIME.to_representation
        return {
            "id": assignment.pk,
            "job": assignment.job_id,
            "status": str(assignment.status),
            "created_at": timestamp(assignment.created_at),
            "expires_at": timestamp(assignment.expires_at),
            "submitted_at": timestamp(assignment.submitted_at),
            "review_status": str(assignment.review_status),
            "reject_reason": assignment.reject_reason,
            "items": self.get_items(assignment),
            "answers": self.get_answers(assignment),
        }


_DATETIME = serializers.DateTimeField()  # renders as the declared fields do (ISO 8601, UTC as Z)


class WorkAssignmentSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = ["id", "job", "status", "created_at", "expires_at", "submitted_at", "review_status", "reject_reason"]
        read_only_fields = fields


class WorkClaimApi(APIView):
    permission_classes = [IsWorker]
    throttle_classes = [WindowRateThrottle]
    throttle_scope = "claim"

    @extend_schema(
        request=None,
        responses={201: WorkAssignmentSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="Claim the next micro-task of a job",
        description="409 `no_work_available` when every task is taken or done for you; "
        "409 `too_many_open_assignments` when you already hold the job's maximum; 409 `daily_cap_reached` when you "
        "claimed the job's `daily_cap` today (UTC).",
    )
    def post(self, request: Request, job_id: int) -> Response:
        assignment = assignment_claim(job_id=job_id, worker=request.user)
        return Response(WorkAssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)


class AssignmentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=AssignmentStatus.choices)

    class Meta:
        model = Assignment
        fields = ["status", "job"]


class WorkAssignmentListApi(generics.ListAPIView):
    permission_classes = [IsWorker]
    serializer_class = WorkAssignmentSummarySerializer
    filterset_class = AssignmentFilter
    ordering_fields = ["id", "expires_at"]

    def get_queryset(self) -> QuerySet[Assignment]:
        if getattr(self, "swagger_fake_view", False):
            return Assignment.objects.none()
        return selectors.worker_assignment_list(worker=self.request.user)


class WorkAssignmentDetailApi(APIView):
    permission_classes = [IsWorker]

    @extend_schema(responses={200: WorkAssignmentSerializer, 404: ErrorSerializer})
    def get(self, request: Request, assignment_id: int) -> Response:
        assignment = selectors.worker_assignment_get(worker=request.user, assignment_id=assignment_id)
        return Response(WorkAssignmentSerializer(assignment).data)


class WorkSubmitApi(APIView):
    permission_classes = [IsWorker]
    throttle_classes = [WindowRateThrottle]
    throttle_scope = "submit"

    class SubmitSerializer(serializers.Serializer):
        answers = WorkAnswerSerializer(many=True, allow_empty=False, max_length=1000)

    @extend_schema(
        request=SubmitSerializer,
        responses={200: WorkAssignmentSerializer, 400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="Submit an answer for every item of the assignment",
        description="Idempotent: the same answers again return the same result. 409 `already_submitted` for "
        "different answers; 409 `assignment_closed` once it expired or was released.",
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        data = self.SubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = assignment_submit(
            assignment_id=assignment_id, worker=request.user, answers=data.validated_data["answers"]
        )
        return Response(WorkAssignmentSerializer(assignment).data)


class WorkSubmitAndClaimSerializer(serializers.Serializer):
    submitted = WorkAssignmentSerializer(help_text="What `submit/` answers.")
    next = WorkAssignmentSerializer(allow_null=True, help_text="Your next assignment on the job, or null.")
    next_error = ErrorSerializer(allow_null=True, help_text="Why there is no next assignment, as `claim/` says it.")


class WorkSubmitAndClaimApi(APIView):
    """Submit and get the next task: one request per task instead of two, for clients that go on working."""

    permission_classes = [IsWorker]
    throttle_classes = [WindowRateThrottle, ClaimWindowRateThrottle]
    throttle_scope = "submit"
    claim_throttle_scope = "claim"

    @extend_schema(
        request=WorkSubmitApi.SubmitSerializer,
        responses={200: WorkSubmitAndClaimSerializer, 400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="Submit the assignment's answers and claim the next micro-task of the same job",
        description="The submit is `submit/`'s, with its errors (then nothing is claimed). The claim then is "
        "`claim/`'s: when it is refused (`no_work_available`, `not_eligible`, ...), `next` is null and `next_error` "
        "says why, and the submit stands. Safe to retry: a retry stores nothing twice, and when you already hold "
        "the job's maximum of open assignments, `next` is the oldest of them not yet overdue.",
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        data = WorkSubmitApi.SubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        submitted, following, refusal = assignment_submit_and_claim(
            assignment_id=assignment_id, worker=request.user, answers=data.validated_data["answers"]
        )
        return Response(
            {
                "submitted": WorkAssignmentSerializer(submitted).data,
                "next": WorkAssignmentSerializer(following).data if following else None,
                "next_error": domain_error_body(refusal) if refusal else None,
            }
        )


class WorkReleaseApi(APIView):
    permission_classes = [IsWorker]

    @extend_schema(request=None, responses={200: WorkAssignmentSerializer, 404: ErrorSerializer, 409: ErrorSerializer})
    def post(self, request: Request, assignment_id: int) -> Response:
        assignment = assignment_release(assignment_id=assignment_id, worker=request.user)
        return Response(WorkAssignmentSerializer(assignment).data)


class WorkQualitySerializer(serializers.ModelSerializer):
    job_title = serializers.CharField(source="job.title")
    gold_accuracy = serializers.FloatField(allow_null=True)

    class Meta:
        model = Participation
        fields = [
            "job",
            "job_title",
            "submitted_assignments",
            "gold_answered",
            "gold_correct",
            "gold_accuracy",
            "estimated_accuracy",
        ]
        read_only_fields = fields


class WorkQualityListApi(generics.ListAPIView):
    """Your own quality per job: how many hidden gold items you answered and got right (never which ones), and
    the accuracy the job's aggregation estimates for you."""

    permission_classes = [IsWorker]
    serializer_class = WorkQualitySerializer

    def get_queryset(self) -> QuerySet[Participation]:
        if getattr(self, "swagger_fake_view", False):
            return Participation.objects.none()
        return selectors.worker_quality_list(worker=self.request.user)


class HiddenRequesterSerializer(serializers.ModelSerializer):
    requester = serializers.IntegerField(source="requester_id")
    requester_name = serializers.SerializerMethodField()

    class Meta:
        model = HiddenRequester
        fields = ["requester", "requester_name", "created_at"]
        read_only_fields = ["requester_name", "created_at"]

    def get_requester_name(self, hidden: HiddenRequester) -> str:
        return requester_display_name(hidden.requester)


class WorkHiddenRequesterListApi(generics.ListAPIView):
    """Requesters whose jobs you hid from your list of work (`GET`); hide one more (`POST {"requester": id}`)."""

    permission_classes = [IsWorker]
    serializer_class = HiddenRequesterSerializer

    def get_queryset(self) -> QuerySet[HiddenRequester]:
        if getattr(self, "swagger_fake_view", False):
            return HiddenRequester.objects.none()
        return selectors.hidden_requester_list(worker=self.request.user)

    @extend_schema(request=HiddenRequesterSerializer, responses={201: HiddenRequesterSerializer, 404: ErrorSerializer})
    def post(self, request: Request) -> Response:
        data = HiddenRequesterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hidden = requester_hide(worker=request.user, requester_id=data.validated_data["requester_id"])
        return Response(HiddenRequesterSerializer(hidden).data, status=status.HTTP_201_CREATED)


class WorkHiddenRequesterApi(APIView):
    """Show a hidden requester's jobs again."""

    permission_classes = [IsWorker]

    @extend_schema(responses={204: None})
    def delete(self, request: Request, requester_id: int) -> Response:
        requester_unhide(worker=request.user, requester_id=requester_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
