"""Requester API for reviewing submitted work (approve and pay, or reject with a reason) and paying bonuses."""

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import selectors
from marketplace.api.base import JobScopedListApi, id_field
from marketplace.api.errors import ErrorSerializer
from marketplace.api.permissions import IsRequester
from marketplace.models import Assignment, AssignmentStatus, Job, ReviewStatus
from marketplace.services.reviews import assignments_review, bonus_grant


class JobAssignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = [
            "id",
            "task",
            "worker",
            "status",
            "created_at",
            "submitted_at",
            "review_status",
            "auto_approve_at",
            "reviewed_at",
            "reject_reason",
            "gold_total",
            "gold_correct",
            "is_fast",
        ]
        read_only_fields = fields


class JobAssignmentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=AssignmentStatus.choices)
    review_status = django_filters.MultipleChoiceFilter(choices=ReviewStatus.choices)

    class Meta:
        model = Assignment
        fields = ["status", "review_status", "worker", "is_fast"]


class JobAssignmentListApi(JobScopedListApi):
    """The job's assignments, e.g. `?status=submitted&review_status=pending` for the ones awaiting review."""

    model = Assignment
    serializer_class = JobAssignmentSerializer
    filterset_class = JobAssignmentFilter
    ordering_fields = ["id", "submitted_at"]

    def scoped_queryset(self, job: Job) -> QuerySet[Assignment]:
        return selectors.job_assignment_list(job=job)


class RejectionSerializer(serializers.Serializer):
    id = id_field()
    reason = serializers.CharField(max_length=2000)


class ReviewSerializer(serializers.Serializer):
    approve = serializers.ListField(child=id_field(), required=False, default=list, max_length=1000)
    reject = RejectionSerializer(many=True, required=False, default=list, max_length=1000)


class RefusedReviewSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()


class ReviewResultSerializer(serializers.Serializer):
    approved = serializers.ListField(child=serializers.IntegerField())
    rejected = serializers.ListField(child=serializers.IntegerField())
    refused = RefusedReviewSerializer(many=True)


class JobReviewApi(APIView):
    """Approve (pay reward to the worker, fee to the platform, from the job's escrow) or reject (with a reason) many
    submitted assignments at once. Each is done on its own: a refused one (not yours, already reviewed the other
    way) is listed under `refused` and does not undo the others. Repeating a review is harmless."""

    permission_classes = [IsRequester]

    @extend_schema(request=ReviewSerializer, responses={200: ReviewResultSerializer, 404: ErrorSerializer})
    def post(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        data = ReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        done = assignments_review(
            job=job,
            approve=data.validated_data["approve"],
            reject=[(r["id"], r["reason"]) for r in data.validated_data["reject"]],
            by=request.user,
        )
        return Response(ReviewResultSerializer(done).data)


class BonusSerializer(serializers.Serializer):
    worker = id_field()
    amount_cents = serializers.IntegerField(min_value=1, max_value=1_000_000)
    reason = serializers.CharField(max_length=500)
    idempotency_key = serializers.CharField(max_length=100)


class BonusResultSerializer(serializers.Serializer):
    transaction = serializers.IntegerField(source="transaction.pk")
    worker = serializers.IntegerField(source="worker_id")
    amount_cents = serializers.IntegerField(help_text="What the worker gets.")
    fee_cents = serializers.IntegerField(help_text="The platform fee on top, at the job's fee rate.")


class JobBonusApi(APIView):
    """Pay a worker who submitted work on the job a bonus from your available balance, with a reason; the platform
    fee (the job's fee rate, as on rewards) is charged on top. Retrying with the same `idempotency_key` pays once."""

    permission_classes = [IsRequester]

    @extend_schema(
        request=BonusSerializer,
        responses={201: BonusResultSerializer, 400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        data = BonusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        paid = bonus_grant(
            job=job,
            worker_id=data.validated_data["worker"],
            amount=data.validated_data["amount_cents"],
            reason=data.validated_data["reason"],
            idempotency_key=data.validated_data["idempotency_key"],
        )
        return Response(BonusResultSerializer(paid).data, status=status.HTTP_201_CREATED)
