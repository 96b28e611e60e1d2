"""Disputes over the API: workers appeal rejections and read the outcome, requesters file complaints and read the
disputes of their jobs, staff work the queue and decide.

A worker sees their own appeals in full, and that a complaint about them exists and how it was decided, but never
the complaint's text, nor the admin's note on it unless the complaint was acted on: then the note is the reason they
were blocked from the job (`action`), which they must be able to read and appeal. Nobody but staff sees which admin
decided; everyone sees whether the decision was automatic.
"""

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import selectors
from marketplace.api.base import JobScopedListApi, id_field
from marketplace.api.errors import ErrorSerializer
from marketplace.api.permissions import IsRequester, IsWorker
from marketplace.models import Dispute, DisputeDecision, DisputeKind, DisputeStatus, Job
from marketplace.selectors_disputes import dispute_get, dispute_list, job_dispute_list, worker_dispute_list
from marketplace.services.disputes import MAX_TEXT, appeal_file, complaint_file, dispute_resolve

COMMON_FIELDS = ["id", "kind", "job", "assignment", "status", "decision", "action", "created_at", "resolved_at"]


class DisputeFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DisputeStatus.choices)
    kind = django_filters.ChoiceFilter(choices=DisputeKind.choices)

    class Meta:
        model = Dispute
        fields = ["status", "kind", "job"]


class WorkerDisputeSerializer(serializers.ModelSerializer):
    message = serializers.SerializerMethodField()
    resolution_note = serializers.SerializerMethodField()
    resolved_automatically = serializers.BooleanField(read_only=True)

    class Meta:
        model = Dispute
        fields = [*COMMON_FIELDS, "message", "resolution_note", "resolved_automatically"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_message(self, dispute: Dispute) -> str | None:
        return dispute.message if dispute.kind == DisputeKind.APPEAL else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_resolution_note(self, dispute: Dispute) -> str | None:
        shown = dispute.kind == DisputeKind.APPEAL or dispute.decision == DisputeDecision.ACT
        return dispute.resolution_note if shown else None


class RequesterDisputeSerializer(serializers.ModelSerializer):
    resolved_automatically = serializers.BooleanField(read_only=True)

    class Meta:
        model = Dispute
        fields = [*COMMON_FIELDS, "worker", "message", "agreement", "resolution_note", "resolved_automatically"]
        read_only_fields = fields


class StaffDisputeSerializer(serializers.ModelSerializer):
    resolved_automatically = serializers.BooleanField(read_only=True)

    class Meta:
        model = Dispute
        fields = [
            *COMMON_FIELDS,
            "worker",
            "filed_by",
            "message",
            "agreement",
            "pending_reason",
            "resolution_note",
            "resolved_by",
            "resolved_automatically",
            "updated_at",
        ]
        read_only_fields = fields


# --- Workers -------------------------------------------------------------------------------------------------------


class WorkAppealApi(APIView):
    permission_classes = [IsWorker]

    class AppealSerializer(serializers.Serializer):
        message = serializers.CharField(max_length=MAX_TEXT)

    @extend_schema(
        request=AppealSerializer,
        responses={201: WorkerDisputeSerializer, 400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="Appeal the rejection of your assignment",
        description="Once per assignment, within the appeal window after the rejection. The appeal is checked at "
        "once against the other workers' answers on the same items and may come back resolved (`overturn`: approved "
        "and paid). "
        "409 `already_appealed` (with `extra.dispute`), `not_appealable` (not rejected), `appeal_window_closed`.",
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        data = self.AppealSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = appeal_file(assignment_id=assignment_id, worker=request.user, message=data.validated_data["message"])
        return Response(WorkerDisputeSerializer(appeal).data, status=status.HTTP_201_CREATED)


class WorkDisputeListApi(generics.ListAPIView):
    """Your appeals (with the decision and the admin's note) and complaints about you (only that one exists and
    its outcome; when acted on, `action` says you were blocked from the job and `resolution_note` why), newest first.
    Filter `?status=open|resolved`, `?kind=appeal|complaint`."""

    permission_classes = [IsWorker]
    serializer_class = WorkerDisputeSerializer
    filterset_class = DisputeFilter
    ordering_fields = ["id", "resolved_at"]

    def get_queryset(self) -> QuerySet[Dispute]:
        if getattr(self, "swagger_fake_view", False):
            return Dispute.objects.none()
        return worker_dispute_list(worker=self.request.user)


# --- Requesters ----------------------------------------------------------------------------------------------------


class JobDisputeListApi(JobScopedListApi):
    """Appeals of your job's rejections and your complaints about its workers, newest first."""

    model = Dispute
    serializer_class = RequesterDisputeSerializer
    filterset_class = DisputeFilter
    ordering_fields = ["id", "resolved_at"]

    def scoped_queryset(self, job: Job) -> QuerySet[Dispute]:
        return job_dispute_list(job=job)


class JobComplaintApi(APIView):
    permission_classes = [IsRequester]

    class ComplaintSerializer(serializers.Serializer):
        worker = id_field()
        message = serializers.CharField(max_length=MAX_TEXT)

    @extend_schema(
        request=ComplaintSerializer,
        responses={201: RequesterDisputeSerializer, 400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="Complain to the admins about a worker on your job",
        description="404 when the worker never held an assignment on the job; 409 `already_complained` while a "
        "complaint about them on this job is open (`extra.dispute`).",
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        data = self.ComplaintSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        complaint = complaint_file(
            job=job, worker_id=data.validated_data["worker"], message=data.validated_data["message"], by=request.user
        )
        return Response(RequesterDisputeSerializer(complaint).data, status=status.HTTP_201_CREATED)


# --- Staff ---------------------------------------------------------------------------------------------------------


class StaffDisputeListApi(generics.ListAPIView):
    """Every dispute, oldest first: `?status=open` is the queue. Filter also by `kind` and `job`."""

    permission_classes = [IsAdminUser]
    serializer_class = StaffDisputeSerializer
    filterset_class = DisputeFilter
    ordering_fields = ["id", "created_at", "resolved_at"]

    def get_queryset(self) -> QuerySet[Dispute]:
        return dispute_list()


class StaffDisputeDetailApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: StaffDisputeSerializer, 404: ErrorSerializer})
    def get(self, request: Request, dispute_id: int) -> Response:
        return Response(StaffDisputeSerializer(dispute_get(dispute_id=dispute_id)).data)


class StaffDisputeResolveApi(APIView):
    permission_classes = [IsAdminUser]

    class ResolveSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(choices=DisputeDecision.choices)
        note = serializers.CharField(max_length=MAX_TEXT)

    @extend_schema(
        request=ResolveSerializer,
        responses={200: StaffDisputeSerializer, 400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="Decide a dispute, with a note",
        description="An appeal is decided with `overturn` (the assignment is approved and paid) or `uphold`; a "
        "complaint with `dismiss` or `act` (the worker is blocked from the job, the note being the reason they read; "
        "`action` records it). Decided once: 409 `already_resolved` (with `extra.decision`) after; "
        "409 `insufficient_funds` when the job's escrow cannot pay an overturn (the dispute stays open).",
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        data = self.ResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = dispute_resolve(dispute_id=dispute_id, by=request.user, **data.validated_data)
        return Response(StaffDisputeSerializer(dispute).data)
