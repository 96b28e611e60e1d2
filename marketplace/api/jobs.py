"""Requester API for jobs: create, read, edit, and move through the lifecycle."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import django_filters
from django.conf import global_settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import selectors
from marketplace.api.base import JobScopedListApi
from marketplace.api.errors import ErrorSerializer
from marketplace.api.permissions import IsRequester
from marketplace.models import ClaimOrder, Item, Job, JobStatus, MicroTask, WorkerModel
from marketplace.services.aggregation import aggregation_after_edit
from marketplace.services.deadlines import job_expire_if_due
from marketplace.services.jobs import job_create, job_transition, job_update
from marketplace.services.quality import gold_review
from marketplace.services.reviews import job_cost_quote
from qualification.api.fields import JSONField


class RequirementSerializer(serializers.Serializer):
    qualification = serializers.IntegerField(source="qualification_id")
    min_score = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.0)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A PATCH validates partially and DRF then skips nested defaults, but a requirement is always whole.
        return {"min_score": self.fields["min_score"].default, **attrs}


class JobSerializer(serializers.ModelSerializer):
    assignment_duration_seconds = serializers.IntegerField(read_only=True)
    gold_per_assignment = serializers.IntegerField(
        read_only=True,
        help_text="Hidden gold items in every assignment, from gold_ratio and items_per_task (at least 1 when "
        "gold_ratio > 0). Workers see only items_per_assignment; the job launches only with this many gold items.",
    )
    items_per_assignment = serializers.IntegerField(
        read_only=True, help_text="items_per_task + gold_per_assignment: what a worker answers (and is paid for)."
    )
    required_qualifications = RequirementSerializer(source="requirements", many=True, read_only=True)
    gold_ratio = serializers.DecimalField(max_digits=4, decimal_places=3, coerce_to_string=False)

    class Meta:
        model = Job
        fields = [
            "id",
            "title",
            "instructions",
            "label_schema",
            "item_schema",
            "overlap_min",
            "overlap_max",
            "items_per_task",
            "reward_cents",
            "currency",
            "gold_ratio",
            "gold_per_assignment",
            "items_per_assignment",
            "assignment_duration_seconds",
            "max_open_assignments",
            "daily_cap",
            "deadline",
            "language",
            "confidence_target",
            "required_qualifications",
            "min_reputation",
            "min_gold",
            "gold_block_threshold",
            "min_seconds_per_item",
            "fast_answer_action",
            "prelabel_model",
            "claim_order",
            "continuous",
            "worker_model",
            "status",
            "created_at",
            "updated_at",
            "launched_at",
            "finished_at",
        ]
        read_only_fields = fields


class JobInputSerializer(serializers.Serializer):
    """Shape checks only; the business rules (schemas, overlap, lifecycle) live in the services."""

    title = serializers.CharField(max_length=200)
    instructions = serializers.CharField(required=False, allow_blank=True)
    label_schema = JSONField()
    item_schema = JSONField(required=False)
    overlap_min = serializers.IntegerField(min_value=1, max_value=50, required=False)
    overlap_max = serializers.IntegerField(min_value=1, max_value=50, required=False)
    items_per_task = serializers.IntegerField(min_value=1, max_value=100, required=False)
    reward_cents = serializers.IntegerField(min_value=1, max_value=10_000_00)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False)
    gold_ratio = serializers.DecimalField(
        max_digits=4, decimal_places=3, min_value=Decimal(0), max_value=Decimal("0.5"), required=False
    )
    assignment_duration_seconds = serializers.IntegerField(min_value=60, max_value=7 * 24 * 3600, required=False)
    max_open_assignments = serializers.IntegerField(min_value=1, max_value=100, required=False)
    daily_cap = serializers.IntegerField(
        min_value=1,
        max_value=100_000,
        required=False,
        allow_null=True,
        help_text="Assignments one worker may claim per day (UTC; a released one counts); null: no cap.",
    )
    deadline = serializers.DateTimeField(required=False, allow_null=True)
    language = serializers.ChoiceField(
        choices=global_settings.LANGUAGES,
        required=False,
        allow_blank=True,
        help_text="The language workers need to read the items (a code of Django's LANGUAGES); empty: none.",
    )
    confidence_target = serializers.FloatField(min_value=0.5, max_value=0.9999, required=False)
    required_qualifications = RequirementSerializer(many=True, required=False)
    min_reputation = serializers.FloatField(min_value=0.0, max_value=1.0, required=False, allow_null=True)
    min_gold = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    gold_block_threshold = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    min_seconds_per_item = serializers.FloatField(min_value=0.0, max_value=3600.0, required=False)
    fast_answer_action = serializers.ChoiceField(choices=["flag", "block"], required=False)
    prelabel_model = serializers.CharField(max_length=100, required=False, allow_blank=True)
    claim_order = serializers.ChoiceField(
        choices=ClaimOrder.choices,
        required=False,
        help_text="The order claims serve tasks in: `uploaded`; `priority` (the items' `priority` field, declared a "
        "number in item_schema: highest first); `uncertain` (lowest confidence first, re-ranked after each "
        "aggregation; before any answer, a model's lowest score). Open while the job runs.",
    )

    continuous = serializers.BooleanField(
        required=False,
        help_text="Stay open when the tasks are done, for items appended later (funded as they arrive); set false "
        "to let the job complete once its tasks are done.",
    )
    worker_model = serializers.ChoiceField(
        choices=WorkerModel.choices,
        required=False,
        help_text="Single-choice jobs only (another answer type: 400 for anything but the default): how the "
        "aggregation models each worker. `dawid_skene` (default): a confusion matrix per worker; `one_coin`: one "
        "accuracy per worker; `class_one_coin`: one per worker and true class; `auto`: at each run, the one that "
        "best predicts held-out answers (5-fold "
        "cross-validation, gold clamped). The aggregation (`jobs/{id}/aggregation/`) says which ran and why. Open "
        "while the job runs: a change re-aggregates.",
    )

    def to_service_fields(self) -> dict[str, Any]:
        fields = dict(self.validated_data)
        if "required_qualifications" in fields:
            fields["required_qualifications"] = [
                {"qualification": r["qualification_id"], "min_score": r["min_score"]}
                for r in fields["required_qualifications"]
            ]
        if "assignment_duration_seconds" in fields:
            fields["assignment_duration"] = timedelta(seconds=fields.pop("assignment_duration_seconds"))
        return fields


class JobFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=JobStatus.choices)
    # No longer than a title can be: it could match nothing, and SQLite refuses a LIKE pattern over 50,000 bytes.
    title = django_filters.CharFilter(lookup_expr="icontains", max_length=Job._meta.get_field("title").max_length)

    class Meta:
        model = Job
        fields = ["status", "title"]


class JobListCreateApi(generics.ListAPIView):
    permission_classes = [IsRequester]
    serializer_class = JobSerializer
    filterset_class = JobFilter
    ordering_fields = ["id", "created_at", "deadline"]

    def get_queryset(self) -> QuerySet[Job]:
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        return selectors.job_list(requester=self.request.user)

    @extend_schema(request=JobInputSerializer, responses={201: JobSerializer, 400: ErrorSerializer})
    def post(self, request: Request) -> Response:
        data = JobInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = job_create(requester=request.user, **data.to_service_fields())
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


class JobDetailApi(APIView):
    permission_classes = [IsRequester]

    @extend_schema(responses={200: JobSerializer, 404: ErrorSerializer})
    def get(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        return Response(JobSerializer(job_expire_if_due(job=job)).data)

    @extend_schema(
        request=JobInputSerializer, responses={200: JobSerializer, 400: ErrorSerializer, 409: ErrorSerializer}
    )
    def patch(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        data = JobInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = data.to_service_fields()
        job = job_update(job=job, **fields)
        aggregation_after_edit(job=job, fields=fields)
        return Response(JobSerializer(job).data)


def _transition_api(action: str, summary: str) -> type[APIView]:
    class JobTransitionApi(APIView):
        permission_classes = [IsRequester]

        @extend_schema(request=None, responses={200: JobSerializer, 409: ErrorSerializer}, summary=summary)
        def post(self, request: Request, job_id: int) -> Response:
            job = selectors.job_get(requester=request.user, job_id=job_id)
            return Response(JobSerializer(job_transition(job=job, action=action)).data)

    JobTransitionApi.__name__ = f"Job{action.capitalize()}Api"
    return JobTransitionApi


JobLaunchApi = _transition_api("launch", "Launch a draft job: workers can claim its tasks")
JobPauseApi = _transition_api("pause", "Pause an active job: no new claims")
JobResumeApi = _transition_api("resume", "Resume a paused job")
JobCancelApi = _transition_api("cancel", "Cancel a job")


class ItemSerializer(serializers.ModelSerializer):
    """The requester's view of an item, gold answer included (workers never get this serializer)."""

    class Meta:
        model = Item
        fields = [
            "id",
            "task",
            "position",
            "row_number",
            "external_id",
            "payload",
            "is_gold",
            "gold_answer",
            "gold_flagged_at",
            "gold_reviewed_at",
        ]
        read_only_fields = fields


class ItemFilter(django_filters.FilterSet):
    gold_flagged = django_filters.BooleanFilter(
        field_name="gold_flagged_at", lookup_expr="isnull", exclude=True, label="Gold keys flagged for review"
    )

    class Meta:
        model = Item
        fields = ["is_gold", "task", "external_id", "gold_flagged"]


class JobItemListApi(JobScopedListApi):
    model = Item
    serializer_class = ItemSerializer
    filterset_class = ItemFilter
    ordering_fields = ["id", "row_number"]

    def scoped_queryset(self, job: Job) -> QuerySet[Item]:
        return selectors.item_list(job=job)


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = MicroTask
        fields = ["id", "number", "n_items", "overlap_target", "assigned_count", "submitted_count"]
        read_only_fields = fields


class JobTaskListApi(JobScopedListApi):
    model = MicroTask
    serializer_class = TaskSerializer
    ordering_fields = ["number"]

    def scoped_queryset(self, job: Job) -> QuerySet[MicroTask]:
        return selectors.task_list(job=job)


class ProgressSerializer(serializers.Serializer):
    tasks_total = serializers.IntegerField()
    tasks_complete = serializers.IntegerField()
    items_total = serializers.IntegerField()
    items_complete = serializers.IntegerField()
    answers_target = serializers.IntegerField()
    answers_collected = serializers.IntegerField()
    assignments_open = serializers.IntegerField()
    assignments_submitted = serializers.IntegerField()
    assignments_expired = serializers.IntegerField()
    assignments_released = serializers.IntegerField()
    slots_waiting_for_funds = serializers.IntegerField(
        help_text="Slots added after launch (a blocked worker's replacements, adaptive overlap) that the escrow could "
        "not cover: nobody can claim them, and the job does not complete, until you deposit."
    )
    deposit_needed_cents = serializers.IntegerField(
        help_text="What to deposit to open them all (they open by themselves once the money arrives)."
    )
    workers_out_of_gold = serializers.IntegerField(
        help_text="Workers who have seen all but fewer than gold_per_assignment of the job's usable gold: they get "
        "no more work until you upload more gold."
    )


class JobCostSerializer(serializers.Serializer):
    currency = serializers.CharField()
    tasks = serializers.IntegerField()
    assignments = serializers.IntegerField(help_text="Tasks times `overlap_max`: the most assignments it pays.")
    reward_cents = serializers.IntegerField(help_text="Paid to the worker per approved assignment.")
    fee_cents = serializers.IntegerField(help_text="The platform's fee per assignment, on top of the reward.")
    fee_rate = serializers.DecimalField(max_digits=5, decimal_places=4, coerce_to_string=False)
    total_cents = serializers.IntegerField(help_text="What launching moves into the job's escrow.")
    bonus_fee_rate = serializers.DecimalField(
        max_digits=5,
        decimal_places=4,
        coerce_to_string=False,
        help_text="The platform fee on a bonus, charged on top of it (the job's fee rate).",
    )
    available_cents = serializers.IntegerField(help_text="The requester's available balance in this currency.")
    shortfall_cents = serializers.IntegerField(
        allow_null=True, help_text="What to deposit before launching; null once the job is launched (funded)."
    )


class JobCostApi(APIView):
    """What the job will cost: the escrow that launching takes from the requester's balance, and any shortfall.
    Unspent escrow comes back when the job ends."""

    permission_classes = [IsRequester]

    @extend_schema(responses={200: JobCostSerializer, 404: ErrorSerializer})
    def get(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        return Response(JobCostSerializer(job_cost_quote(job)).data)


class JobProgressApi(APIView):
    """Where the job stands. Gold items and gold answers are left out of every figure. `slots_waiting_for_funds`
    and `deposit_needed_cents` say what a deposit would open (the `job.funds_needed` webhook event says it too)."""

    permission_classes = [IsRequester]

    @extend_schema(responses={200: ProgressSerializer, 404: ErrorSerializer})
    def get(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        return Response(ProgressSerializer(selectors.job_progress(job=job)).data)


class GoldReviewApi(APIView):
    """Settle a gold key that the job's trusted workers contradicted: confirm it or correct it."""

    permission_classes = [IsRequester]

    class GoldReviewSerializer(serializers.Serializer):
        gold_answer = JSONField()

    @extend_schema(
        request=GoldReviewSerializer, responses={200: ItemSerializer, 400: ErrorSerializer, 404: ErrorSerializer}
    )
    def post(self, request: Request, job_id: int, item_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        data = self.GoldReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = gold_review(job=job, item_id=item_id, gold_answer=data.validated_data["gold_answer"])
        return Response(ItemSerializer(item).data)
