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
from marketplace.aggregation.types import ANSWER_TYPES, answer_type
from marketplace.aggregation.types.base import ExportFormat
from marketplace.api.base import JobScopedListApi
from marketplace.api.errors import ErrorSerializer
from marketplace.api.permissions import IsRequester
from marketplace.models import Item, Job, JobAggregate, Participation, posterior_by_class
from marketplace.schemas import parse_label_schema
from marketplace.selectors_models import model_report_list
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
    part_confidence = serializers.SerializerMethodField(
        help_text="Boxes and spans: the confidence of each box or span of `label`, in its order (`confidence` is "
        "the probability that the whole list is right); null for the other types and before aggregation."
    )

    class Meta:
        model = Item
        fields = ["id", "external_id", "payload", "label", "confidence", "answer_count", "posterior", "part_confidence"]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.FloatField(), allow_null=True))
    def get_posterior(self, item: Item) -> dict[str, float] | None:
        result = getattr(item, "result", None)
        return posterior_by_class(result.posterior if result else None, self.context.get("classes", ()))

    @extend_schema_field(serializers.ListField(child=serializers.FloatField(), allow_null=True))
    def get_part_confidence(self, item: Item) -> list[float] | None:
        result = getattr(item, "result", None)
        return result.posterior if result is not None and self.context.get("parts") else None


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
        schema = parse_label_schema(job.label_schema)
        self.classes, self.parts = schema.classes, schema.parts
        return selectors.result_list(job=job)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        return {**context, "classes": getattr(self, "classes", ()), "parts": getattr(self, "parts", None)}


EXPORT_FORMATS = ("csv", "jsonl")
TYPE_EXPORT_FORMATS = list(dict.fromkeys(fmt for kind in ANSWER_TYPES.values() for fmt in kind.exports))


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
            OpenApiParameter(
                "format",
                str,
                enum=[*EXPORT_FORMATS, *TYPE_EXPORT_FORMATS],
                default="csv",
                description="csv and jsonl for every job; a type's own formats for its jobs: "
                + "; ".join(
                    f"{name}: {', '.join(kind.exports)}" for name, kind in ANSWER_TYPES.items() if kind.exports
                ),
            ),
            OpenApiParameter("file_format", str, enum=list(EXPORT_FORMATS), deprecated=True, description="= format"),
            OpenApiParameter("answers", bool, default=False, description="Include every raw answer."),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            (200, "application/json"): OpenApiTypes.STR,
            (200, "text/plain"): OpenApiTypes.STR,
            400: ErrorSerializer,
        },
        summary="Download every item with its label, confidence, answer count and posterior (streamed)",
        description="CSV: one `p_<class>` column per class of the label schema; JSONL: `posterior`, an object "
        "class -> probability. Both empty (null) for an item no aggregation has reached yet. Boxes and spans also "
        "have `part_confidence` (one per box or span) and their own formats: COCO JSON (`coco`), CoNLL BIO "
        "(`conll`), spaCy-style JSONL (`spacy`).",
    )
    def get(self, request: Request, job_id: int) -> StreamingHttpResponse:
        fmt = request.query_params.get("format") or request.query_params.get("file_format") or "csv"
        job = selectors.job_get(requester=request.user, job_id=job_id)
        schema = parse_label_schema(job.label_schema)
        own = answer_type(schema.type).exports
        if fmt in own:  # only the engine's types (EngineSchema) have formats of their own
            return _own_format(job, schema.schema, own[fmt])  # type: ignore[union-attr]
        if fmt not in EXPORT_FORMATS:
            formats = ", ".join([*EXPORT_FORMATS, *own])
            raise serializers.ValidationError({"format": [f"Choose one of {formats}."]})
        with_answers = request.query_params.get("answers", "").lower() in ("1", "true", "yes")
        rows = selectors.result_export_rows(job=job, with_answers=with_answers)
        classes = schema.classes
        columns = _csv_columns(classes, with_answers, parts=schema.parts is not None)
        lines = _jsonl(rows) if fmt == "jsonl" else _csv(_posterior_columns(rows, classes), columns)
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson" if fmt == "jsonl" else "text/csv")
        response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-results.{fmt}"'
        return response


def _own_format(job: Job, schema: Any, export: ExportFormat) -> StreamingHttpResponse:
    """A file format of the job's answer type (COCO, CoNLL...), written by the type from the job's results."""
    response = StreamingHttpResponse(
        export.write(schema, selectors.result_export_items(job=job)), content_type=export.content_type
    )
    response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-results.{export.extension}"'
    return response


class JobItemScoresExportApi(APIView):
    """A pairwise job's ranking: every compared id with its Bradley-Terry score from the latest aggregation, best
    first (`item,score`, as the command line writes it). Empty for other types and before the first aggregation."""

    permission_classes = [IsRequester]
    content_negotiation_class = _FileFormatIsNotARenderer

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(EXPORT_FORMATS), default="csv")],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            400: ErrorSerializer,
        },
        summary="Download each compared id's score (pairwise jobs), best first",
    )
    def get(self, request: Request, job_id: int) -> StreamingHttpResponse:
        fmt = request.query_params.get("format") or "csv"
        if fmt not in EXPORT_FORMATS:
            raise serializers.ValidationError({"format": [f"Choose one of {', '.join(EXPORT_FORMATS)}."]})
        job = selectors.job_get(requester=request.user, job_id=job_id)
        aggregate = selectors.job_aggregate_get(job=job)
        scores = sorted((aggregate.item_scores if aggregate else {}).items(), key=lambda pair: (-pair[1], pair[0]))
        rows = ({"item": item, "score": score} for item, score in scores)
        lines = _jsonl(rows) if fmt == "jsonl" else _score_csv(rows)
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson" if fmt == "jsonl" else "text/csv")
        response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-scores.{fmt}"'
        return response


def _score_csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["item", "score"])
    for row in rows:
        writer.writerow(csv_cells([row["item"], row["score"]]))
    yield _drain(buffer)


def _jsonl(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, separators=(",", ":")) + "\n"


def _posterior_columns(rows: Iterator[dict[str, Any]], classes: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Each row's posterior object as one `p_<class>` value per class, in its place (CSV cells are flat)."""
    for row in rows:
        posterior = row.pop("posterior") or {}
        answers = {"answers": row.pop("answers")} if "answers" in row else {}
        yield {**row, **{f"p_{c}": posterior.get(c) for c in classes}, **answers}


# Cells written as JSON: these always, and any structured label (a set of classes, boxes, spans) or list.
JSON_CELLS = frozenset({"payload", "answers"})


def _csv_columns(classes: tuple[str, ...], with_answers: bool, *, parts: bool) -> list[str]:
    columns = ["item_id", "external_id", "payload", "label", "confidence", "answer_count"]
    columns += ["part_confidence"] if parts else []
    columns += [f"p_{c}" for c in classes]
    return columns + (["answers"] if with_answers else [])


def _csv(rows: Iterator[dict[str, Any]], columns: list[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        cells = [
            json.dumps(v) if k in JSON_CELLS or isinstance(v, list | dict) else ("" if v is None else v)
            for k, v in row.items()
        ]
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
            "worker_model",
            "worker_model_reason",
            "worker_model_scores",
            "calibration",
            "duration_ms",
            "computed_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "worker_model": {
                "help_text": "Single-choice jobs: the worker model this run fitted (`dawid_skene`, `one_coin` or "
                "`class_one_coin`; empty for other answer types)."
            },
            "worker_model_reason": {
                "help_text": "Why: `pinned by the requester`, or the choice of `auto` and its evidence."
            },
            "worker_model_scores": {
                "help_text": "Under `auto`: each candidate's mean log-probability of held-out answers (higher is "
                "better; null where the answers were too few to cross-validate). Empty when pinned."
            },
        }


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


class ModelReportSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="The model version.")
    predictions = serializers.IntegerField(help_text="Its predictions on the job.")
    aggregated_predictions = serializers.IntegerField(
        help_text="Of them, those the latest aggregation counted (on items people answered, and on gold)."
    )
    estimated_accuracy = serializers.FloatField(
        allow_null=True, help_text="Earned in the aggregation, as a worker's is (null before it took part)."
    )
    confusion = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()),
        allow_null=True,
        help_text="Single choice: its estimated confusion matrix (rows: true class, columns: its answer).",
    )
    gold_answered = serializers.IntegerField()
    gold_right = serializers.IntegerField(help_text="Graded against the gold keys as a worker's gold answers are.")
    gold_confusion = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        allow_null=True,
        help_text="Single choice: counts on gold, rows the key's class, columns its answer.",
    )
    labels_compared = serializers.IntegerField(help_text="Its predictions on real items that have a label.")
    labels_agreed = serializers.IntegerField(help_text="Of them, those the aggregated label agrees with.")
    classes = serializers.ListField(child=serializers.CharField(), help_text="The order of the matrices' rows.")
    shown = serializers.BooleanField(help_text="Whether workers see this model's predictions as pre-labels.")
    answers_where_wrong = serializers.IntegerField(help_text="Workers' answers on the gold items where it is wrong.")
    answers_kept_wrong = serializers.IntegerField(
        help_text="Of them, those that agree with its wrong answer: with `shown`, how much workers follow a wrong "
        "pre-label (compare a job where it is hidden)."
    )


class JobModelListApi(APIView):
    """Each model version that sent predictions to the job: what the aggregation learned of it (a model is one more
    annotator, weighted by the quality it earns, never counted as a person's answer, never paid), its record on gold
    and its agreement with the job's labels. Versions by name, so two versions read side by side."""

    permission_classes = [IsRequester]

    @extend_schema(responses={200: ModelReportSerializer(many=True), 404: ErrorSerializer}, summary="Model reports")
    def get(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        return Response(ModelReportSerializer(model_report_list(job=job), many=True).data)
