"""Requester API for what the crowd produced: aggregated labels, streamed exports, and each worker's quality."""

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import selectors
from marketplace.aggregation.spreadsheets import csv_cells
from marketplace.api.base import JobScopedListApi
from marketplace.api.errors import ErrorSerializer
from marketplace.api.permissions import IsRequester
from marketplace.models import Item, Job, JobAggregate, Participation, posterior_by_class
from marketplace.schemas import parse_label_schema
from marketplace.services.aggregation import aggregation_enqueue
from marketplace.services.agreement import job_agreement


class ResultSerializer(serializers.ModelSerializer):
    # All four are null until an aggregation reaches the item (it has no result row yet).
    label = serializers.JSONField(source="result.label", default=None, allow_null=True)
    confidence = serializers.FloatField(source="result.confidence", default=None, allow_null=True)
    answer_count = serializers.IntegerField(source="result.answer_count", allow_null=True)
    posterior = serializers.SerializerMethodField(
        help_text="Dawid-Skene's probability of each class (label-schema order); `label` is the most probable, "
        "`confidence` its probability."
    )

    class Meta:
        model = Item
        fields = ["id", "external_id", "payload", "label", "confidence", "answer_count", "posterior"]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.FloatField(), allow_null=True))
    def get_posterior(self, item: Item) -> dict[str, float] | None:
        result = getattr(item, "result", None)
        return posterior_by_class(result.posterior if result else None, self.context.get("classes", ()))


class ResultFilter(django_filters.FilterSet):
    min_confidence = django_filters.NumberFilter(field_name="result__confidence", lookup_expr="gte")
    max_confidence = django_filters.NumberFilter(field_name="result__confidence", lookup_expr="lt")
    label = django_filters.CharFilter(field_name="result__label")

    class Meta:
        model = Item
        fields = ["min_confidence", "max_confidence", "label"]


class JobResultListApi(JobScopedListApi):
    """Aggregated labels, one per item: the most probable class under Dawid-Skene, its probability (`confidence`),
    and the probability of every class (`posterior`)."""

    model = Item
    serializer_class = ResultSerializer
    filterset_class = ResultFilter

    def scoped_queryset(self, job: Job) -> QuerySet[Item]:
        self.classes = parse_label_schema(job.label_schema).classes
        return selectors.result_list(job=job)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "classes": getattr(self, "classes", ())}


EXPORT_FORMATS = ("csv", "jsonl")


class _FileFormatIsNotARenderer(DefaultContentNegotiation):
    """`?format=` names the export's file format here, not one of DRF's renderers (its URL_FORMAT_OVERRIDE): the
    file is streamed as it is, and an error answers in the API's JSON."""

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type


class JobResultExportApi(APIView):
    permission_classes = [IsRequester]
    content_negotiation_class = _FileFormatIsNotARenderer

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=list(EXPORT_FORMATS), default="csv"),
            OpenApiParameter("file_format", str, enum=list(EXPORT_FORMATS), deprecated=True, description="= format"),
            OpenApiParameter("answers", bool, default=False, description="Include every raw answer."),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            400: ErrorSerializer,
        },
        summary="Download every item with its label, confidence, answer count and posterior (streamed)",
        description="CSV: one `p_<class>` column per class of the label schema; JSONL: `posterior`, an object "
        "class -> probability. Both empty (null) for an item no aggregation has reached yet.",
    )
    def get(self, request: Request, job_id: int) -> StreamingHttpResponse:
        fmt = request.query_params.get("format") or request.query_params.get("file_format") or "csv"
        if fmt not in EXPORT_FORMATS:
            raise serializers.ValidationError({"format": [f"Choose one of {', '.join(EXPORT_FORMATS)}."]})
        job = selectors.job_get(requester=request.user, job_id=job_id)
        with_answers = request.query_params.get("answers", "").lower() in ("1", "true", "yes")
        rows = selectors.result_export_rows(job=job, with_answers=with_answers)
        classes = parse_label_schema(job.label_schema).classes
        lines = _jsonl(rows) if fmt == "jsonl" else _csv(_posterior_columns(rows, classes), with_answers, classes)
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson" if fmt == "jsonl" else "text/csv")
        response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-results.{fmt}"'
        return response


def _jsonl(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, separators=(",", ":")) + "\n"


def _posterior_columns(rows: Iterator[dict[str, Any]], classes: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Each row's posterior object as one `p_<class>` value per class, in its place (CSV cells are flat)."""
    for row in rows:
        posterior = row.pop("posterior") or {}
        answers = {"answers": row.pop("answers")} if "answers" in row else {}
        yield {**row, **{f"p_{c}": posterior.get(c) for c in classes}, **answers}


def _csv(rows: Iterator[dict[str, Any]], with_answers: bool, classes: tuple[str, ...]) -> Iterator[str]:
    columns = ["item_id", "external_id", "payload", "label", "confidence", "answer_count"]
    columns += [f"p_{c}" for c in classes]
    columns += ["answers"] if with_answers else []
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        cells = [_cell(k, v) for k, v in row.items()]
        writer.writerow(csv_cells(cells))
        if buffer.tell() > 64 * 1024:
            yield _drain(buffer)
    yield _drain(buffer)


def _cell(column: str, value: Any) -> Any:
    """A CSV cell: JSON for the payload, the raw answers and a structured label (a multi-label's list), so that
    every label reads back as the type's encoding; a plain label or number as it is."""
    if column in ("payload", "answers") or (column == "label" and isinstance(value, list | dict)):
        return json.dumps(value)
    return "" if value is None else value


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


class AggregateSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobAggregate
        fields = [
            "method",
            "n_answers",
            "n_items",
            "iterations",
            "converged",
            "log_likelihood",
            "class_priors",
            "item_scores",
            "excluded_workers",
            "duration_ms",
            "computed_at",
        ]
        read_only_fields = fields


class JobAggregationApi(APIView):
    permission_classes = [IsRequester]

    @extend_schema(responses={200: AggregateSerializer, 404: ErrorSerializer}, summary="The latest aggregation")
    def get(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        aggregate = selectors.job_aggregate_get(job=job)
        if aggregate is None:
            return Response({"code": "not_aggregated", "message": "No aggregation yet.", "extra": {}}, status=404)
        return Response(AggregateSerializer(aggregate).data)

    @extend_schema(request=None, responses={202: None}, summary="Aggregate the job's answers now")
    def post(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        aggregation_enqueue(job_id=job.pk)
        return Response(status=202)


class EstimateSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True, help_text="95% bootstrap interval over the items (fixed seed).")
    high = serializers.FloatField(allow_null=True)
    items = serializers.IntegerField(help_text="Items with at least two answers: those the statistic is computed on.")


class ClassAgreementSerializer(serializers.Serializer):
    krippendorff_alpha = EstimateSerializer()
    fleiss_kappa = EstimateSerializer()


class AgreementSerializer(serializers.Serializer):
    krippendorff_alpha = EstimateSerializer(help_text="Nominal alpha; null where undefined (e.g. one answer each).")
    fleiss_kappa = EstimateSerializer()
    per_class = serializers.DictField(child=ClassAgreementSerializer(), help_text="Class c against the rest.")
    answers = serializers.IntegerField()


class JobAgreementApi(APIView):
    """How much the job's workers agree: Krippendorff's alpha and Fleiss' kappa over the real items (blocked
    workers left out), overall and per class, each with a 95% bootstrap confidence interval."""

    permission_classes = [IsRequester]

    @extend_schema(responses={200: AgreementSerializer, 404: ErrorSerializer}, summary="Inter-annotator agreement")
    def get(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        return Response(AgreementSerializer(job_agreement(job=job)).data)


class JobWorkerSerializer(serializers.ModelSerializer):
    gold_accuracy = serializers.FloatField(allow_null=True)
    blocked = serializers.SerializerMethodField()

    class Meta:
        model = Participation
        fields = [
            "worker",
            "submitted_assignments",
            "gold_answered",
            "gold_correct",
            "gold_accuracy",
            "estimated_accuracy",
            "confusion",
            "blocked",
        ]
        read_only_fields = fields

    def get_blocked(self, p: Participation) -> bool:
        return p.blocked_at is not None


class JobWorkerListApi(JobScopedListApi):
    """Each worker's record on the job: gold answered and right, and their Dawid-Skene confusion matrix (rows: the
    true class, columns: the class they answered, both in label-schema order) and estimated accuracy. A blocked
    worker's answers are left out of the aggregations after the block: their estimate is the last one before it."""

    model = Participation
    serializer_class = JobWorkerSerializer
    ordering_fields = ["estimated_accuracy", "submitted_assignments"]

    def scoped_queryset(self, job: Job) -> QuerySet[Participation]:
        return selectors.job_worker_list(job=job)
