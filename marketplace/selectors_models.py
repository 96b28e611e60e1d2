"""Model reports: per model version on a job, what the aggregation learned of it and how its predictions compare with
the gold keys and with the job's labels (issue: models in the loop)."""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, QuerySet

from marketplace.models import Answer, ItemResult, Job, ModelEndpoint, ModelQuality, Prediction
from marketplace.schemas import parse_label_schema


@dataclass
class ModelReport:
    """One model version on one job. `gold_answered` / `gold_right`: its predictions on gold items against their
    keys (graded as a worker's gold answers are); `labels_compared` / `labels_agreed`: on real items against the
    aggregated label; `gold_confusion` (single choice): rows the key's class, columns its answer, counts.

    Anchoring: on the gold items where this model is wrong, `answers_where_wrong` workers' answers, of which
    `answers_kept_wrong` agree with its wrong answer. `shown` says whether the job shows this model's predictions to
    workers as pre-labels: the share kept where it is shown, against a job (or a model) where it is not, measures
    how much workers follow a pre-label they should have corrected."""

    model: str
    predictions: int = 0
    estimated_accuracy: float | None = None
    confusion: list[list[float]] | None = None
    aggregated_predictions: int = 0
    gold_answered: int = 0
    gold_right: int = 0
    labels_compared: int = 0
    labels_agreed: int = 0
    gold_confusion: list[list[int]] | None = None
    classes: list[str] = field(default_factory=list)
    shown: bool = False
    answers_where_wrong: int = 0
    answers_kept_wrong: int = 0


def model_report_list(*, job: Job) -> list[ModelReport]:
    """Every model version with predictions on the job, by name."""
    schema = parse_label_schema(job.label_schema)
    classes = list(getattr(schema, "classes", ()) or ())
    reports: dict[str, ModelReport] = {}
    learned = {q.model: q for q in ModelQuality.objects.filter(job=job)}
    labels = dict(ItemResult.objects.filter(job=job, label__isnull=False).values_list("item_id", "label"))
    on_gold: dict[int, list[Any]] = defaultdict(list)
    for item_id, value in Answer.objects.filter(job=job, item__is_gold=True).values_list("item_id", "value"):
        on_gold[item_id].append(value)
    rows = Prediction.objects.filter(job=job).values_list(
        "model", "item_id", "answer", "item__is_gold", "item__gold_answer"
    )
    for model, item_id, answer, is_gold, key in rows.iterator(chunk_size=5000):
        report = reports.get(model)
        if report is None:
            report = reports[model] = _report(model, learned.get(model), classes)
            report.shown = model == job.prelabel_model
        report.predictions += 1
        if is_gold:
            right = schema.is_correct(answer, key)
            report.gold_answered += 1
            report.gold_right += int(right)
            if not right:
                given = on_gold.get(item_id, [])
                report.answers_where_wrong += len(given)
                report.answers_kept_wrong += sum(schema.is_correct(value, answer) for value in given)
            if report.gold_confusion is not None and key in classes and answer in classes:
                report.gold_confusion[classes.index(key)][classes.index(answer)] += 1
        elif item_id in labels:
            report.labels_compared += 1
            report.labels_agreed += int(schema.is_correct(answer, labels[item_id]))
    return [reports[model] for model in sorted(reports)]


def _report(model: str, learned: ModelQuality | None, classes: list[str]) -> ModelReport:
    report = ModelReport(model=model, classes=classes)
    if classes:
        report.gold_confusion = [[0] * len(classes) for _ in classes]
    if learned is not None:
        report.estimated_accuracy = learned.estimated_accuracy
        report.confusion = learned.confusion
        report.aggregated_predictions = learned.predictions
    return report


def model_quality_list(*, job: Job) -> list[ModelQuality]:
    """What the latest aggregation learned of each model version on the job, by name (one query: the dashboard's)."""
    return list(ModelQuality.objects.filter(job=job).order_by("model"))


def model_endpoint_list(*, job: Job) -> QuerySet[ModelEndpoint]:
    return ModelEndpoint.objects.filter(job=job).order_by("id")


def model_request_counts(*, endpoint: ModelEndpoint) -> dict[str, int]:
    """The endpoint's batches by status (sending counts as pending)."""
    counts = dict(endpoint.requests.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {
        "pending": counts.get("pending", 0) + counts.get("sending", 0),
        "done": counts.get("done", 0),
        "failed": counts.get("failed", 0),
    }
