"""Blocks: a requester blocks and unblocks a worker on one job or on all their jobs, with a reason; a worker sees
their own blocks, why, and how to appeal the work a block rejected."""

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import selectors
from marketplace.api.errors import ErrorSerializer
from marketplace.api.permissions import IsRequester, IsWorker
from marketplace.models import Assignment, Block, ReviewStatus
from marketplace.services.blocks import job_worker_block, job_worker_unblock, requester_block, requester_unblock

HOW_TO_APPEAL = (
    "Appeal each rejection this block made, with a message, at POST /api/v1/work/assignments/{id}/appeal/ before "
    "its `appeal_until`; an admin decides. The requester (or an admin) may also lift the block: the rejections you "
    "did not appeal are then reviewed again."
)


class BlockReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class _ScopedBlockSerializer(serializers.ModelSerializer):
    scope = serializers.SerializerMethodField(help_text="`job`: that job only; `requester`: every job of theirs.")

    def get_scope(self, block: Block) -> str:
        return "job" if block.job_id else "requester"


class BlockSerializer(_ScopedBlockSerializer):
    rejected = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="The pending work the block rejected (reopened if it is lifted)."
    )

    class Meta:
        model = Block
        fields = [
            *("id", "scope", "worker", "job", "source", "reason", "created_by", "created_at"),
            *("lifted_at", "lifted_by", "lift_reason", "rejected"),
        ]
        read_only_fields = fields


class WorkBlockRejectionSerializer(serializers.Serializer):
    assignment = serializers.IntegerField(source="pk")
    review_status = serializers.ChoiceField(choices=ReviewStatus.choices)
    appeal_until = serializers.SerializerMethodField()
    appeal = serializers.SerializerMethodField(help_text="Your appeal's id, once filed.")

    def get_appeal_until(self, assignment: Assignment) -> str | None:
        if assignment.review_status != ReviewStatus.REJECTED or assignment.reviewed_at is None:
            return None
        return serializers.DateTimeField().to_representation(assignment.reviewed_at + settings.APPEAL_WINDOW)

    def get_appeal(self, assignment: Assignment) -> int | None:
        appeals = list(assignment.appeals.all())
        return appeals[0].pk if appeals else None


class WorkBlockSerializer(_ScopedBlockSerializer):
    job_title = serializers.CharField(source="job.title", allow_null=True, default=None)
    rejected = WorkBlockRejectionSerializer(many=True, read_only=True)
    how_to_appeal = serializers.SerializerMethodField()

    class Meta:
        model = Block
        fields = [
            *("id", "scope", "job", "job_title", "source", "reason", "created_at"),
            *("lifted_at", "lift_reason", "rejected", "how_to_appeal"),
        ]
        read_only_fields = fields

    def get_how_to_appeal(self, block: Block) -> str:
        return HOW_TO_APPEAL


def _reason(request: Request) -> str:
    data = BlockReasonSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data["reason"]


_ERRORS: dict[int, Any] = {400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer}


class JobWorkerBlockApi(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        request=BlockReasonSerializer,
        responses={201: BlockSerializer, **_ERRORS},
        summary="Block a worker from this job",
        description="Their open assignments return to the pool, their work awaiting review is rejected with your "
        "reason (they may appeal), their answers leave the aggregation, and each task they submitted gets a "
        "replacement slot (funded from your balance when the escrow has no room: see the job's progress). "
        "409 `already_blocked`.",
    )
    def post(self, request: Request, job_id: int, worker_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        block = job_worker_block(job=job, worker_id=worker_id, reason=_reason(request), by=request.user)
        return Response(BlockSerializer(block).data, status=status.HTTP_201_CREATED)


class JobWorkerUnblockApi(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        request=BlockReasonSerializer,
        responses={200: BlockSerializer, **_ERRORS},
        summary="Lift a worker's block on this job",
        description="The rejections the block made (and nobody appealed) are pending your review again, and the "
        "replacement slots nobody took are taken back. 409 `insufficient_funds` (with the shortfall) when your "
        "balance cannot cover the reopened work; 409 `not_blocked`.",
    )
    def post(self, request: Request, job_id: int, worker_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        block = job_worker_unblock(job=job, worker_id=worker_id, reason=_reason(request), by=request.user)
        return Response(BlockSerializer(block).data)


class RequesterWorkerBlockApi(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        request=BlockReasonSerializer,
        responses={201: BlockSerializer, **_ERRORS},
        summary="Block a worker from all your jobs",
        description="They can claim none of your jobs, now or later; their open assignments on them return to the "
        "pool; their past work stands. 409 `already_blocked`.",
    )
    def post(self, request: Request, worker_id: int) -> Response:
        block = requester_block(requester=request.user, worker_id=worker_id, reason=_reason(request), by=request.user)
        return Response(BlockSerializer(block).data, status=status.HTTP_201_CREATED)


class RequesterWorkerUnblockApi(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        request=BlockReasonSerializer,
        responses={200: BlockSerializer, **_ERRORS},
        summary="Lift a worker's block on all your jobs",
        description="409 `not_blocked`.",
    )
    def post(self, request: Request, worker_id: int) -> Response:
        block = requester_unblock(requester=request.user, worker_id=worker_id, reason=_reason(request), by=request.user)
        return Response(BlockSerializer(block).data)


class RequesterBlockListApi(generics.ListAPIView):
    """The blocks you made or that quality control made on your jobs, standing or lifted, newest first."""

    permission_classes = [IsRequester]
    serializer_class = BlockSerializer
    filterset_fields = ["job", "worker", "source"]

    def get_queryset(self) -> QuerySet[Block]:
        if getattr(self, "swagger_fake_view", False):
            return Block.objects.none()
        return selectors.requester_block_list(requester=self.request.user)


class WorkBlockListApi(generics.ListAPIView):
    """Your blocks, standing or lifted: the job (or every job of a requester), the reason, the work each rejected
    with its appeal deadline, and how to appeal."""

    permission_classes = [IsWorker]
    serializer_class = WorkBlockSerializer

    def get_queryset(self) -> QuerySet[Block]:
        if getattr(self, "swagger_fake_view", False):
            return Block.objects.none()
        return selectors.worker_block_list(worker=self.request.user)
