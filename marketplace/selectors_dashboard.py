"""What a requester's job dashboard shows, read in a fixed, small number of queries whatever the job's size.

Every figure is an aggregate over an indexed slice or a row the writes already maintain: progress from the tasks'
counters (`selectors.job_progress`, the API's), submissions per hour from the job's submitted assignments, the
confidence tenths and the labels from one scan of the job's `ItemResult` rows, money from the escrow account's
cached balance, workers from `Participation`. No answer is read one by one (a 1M-answer job: bench/dashboard.py)."""

from dataclasses import dataclass

from django.db.models import Avg, Count, Q, QuerySet

from marketplace.models import (
    Answer,
    Assignment,
    AssignmentStatus,
    Dispute,
    Item,
    ItemResult,
    Job,
    Participation,
    ProgressSnapshot,
    ReviewStatus,
)
from marketplace.schemas import parse_label_schema
from marketplace.selectors import assignment_price, job_progress
from marketplace.selectors_staff import per_hour
from payments.selectors import account_escrow_get

CONFIDENCE_BINS = 10  # 0.0-0.1, ..., 0.9-1.0 (the last one closed)


@dataclass(frozen=True)
class Spend:
    currency: str
    in_escrow: int  # what the escrow holds now (minor units)
    paid: int  # approved assignments x (reward + fee)
    approved: int


@dataclass(frozen=True)
class ResultDistribution:
    confidence: list[int]  # items per tenth of confidence
    labels: list[tuple[str, int]]  # items per class, in schema order
    agreement: list[tuple[str, float]]  # mean confidence of the items given each class (0 where none)


def result_distribution(*, job: Job) -> ResultDistribution:
    """How many of the job's aggregated items fall in each tenth of confidence, how many got each class of the
    label schema, and how sure the labels of each class are: all from one scan of the job's results, by label."""
    edges = [i / CONFIDENCE_BINS for i in range(CONFIDENCE_BINS + 1)]
    bins = {
        f"b{i}": Count("pk", filter=Q(confidence__gte=edges[i]) & _below(edges[i + 1], last=i == CONFIDENCE_BINS - 1))
        for i in range(CONFIDENCE_BINS)
    }
    rows = (
        ItemResult.objects.filter(job=job, answer_count__gt=0)
        .values_list("label")
        .annotate(**bins, mean=Avg("confidence"))
    )
    histogram, per_label, mean = [0] * CONFIDENCE_BINS, {}, {}
    for label, *counts, sure in rows.values_list("label", *bins, "mean"):
        histogram = [h + c for h, c in zip(histogram, counts, strict=True)]
        if isinstance(label, str):  # a single-choice label; other types' labels are not classes
            per_label[label], mean[label] = sum(counts), sure
    classes = parse_label_schema(job.label_schema).classes
    return ResultDistribution(
        confidence=histogram,
        labels=[(name, per_label.get(name, 0)) for name in classes],
        agreement=[(name, round(mean.get(name) or 0.0, 2)) for name in classes],
    )


def _below(edge: float, *, last: bool) -> Q:
    return Q(confidence__lte=edge) if last else Q(confidence__lt=edge)


def job_spend(*, job: Job) -> Spend:
    reward, fee = assignment_price(job)
    approved = Assignment.objects.filter(job=job, review_status=ReviewStatus.APPROVED, submitted_at__isnull=False)
    n_approved = approved.count()
    escrow = account_escrow_get(job_id=job.pk, currency=job.currency)
    return Spend(
        currency=job.currency,
        in_escrow=escrow.balance if escrow is not None else 0,
        paid=n_approved * (reward + fee),
        approved=n_approved,
    )


def job_dashboard_workers(*, job: Job) -> QuerySet[Participation]:
    """The job's workers, the least accurate first (the ones to look at). A requester knows a worker by number only,
    as in the API: never their e-mail address."""
    return (
        Participation.objects.filter(job=job)
        .order_by("estimated_accuracy", "id")
        .only(
            *("id", "worker_id", "submitted_assignments", "gold_answered", "gold_correct"),
            *("estimated_accuracy", "confusion", "blocked_at", "block_reason"),
        )
    )


def job_dashboard(*, job: Job) -> dict:
    results = result_distribution(job=job)
    submitted = Assignment.objects.filter(job=job, status=AssignmentStatus.SUBMITTED)
    return {
        "submissions_per_hour": per_hour(submitted, "submitted_at"),
        "progress": job_progress(job=job),
        "confidence": results.confidence,
        "labels": results.labels,
        "agreement": results.agreement,
        "spend": job_spend(job=job),
    }


PROGRESS_POINTS = 24  # the dashboard's progress over time: the latest this many snapshots


def job_progress_history(*, job: Job, limit: int = PROGRESS_POINTS) -> list[ProgressSnapshot]:
    """The job's latest progress snapshots, oldest first (one indexed query)."""
    latest = ProgressSnapshot.objects.filter(job=job).order_by("-taken_at", "-id")[:limit]
    return list(reversed(latest))


def item_answers(*, item_ids: list[int]) -> dict[int, list[tuple[int, object]]]:
    """Every answer to these items as (worker id, value), oldest first: one query for a page of results."""
    grouped: dict[int, list[tuple[int, object]]] = {}
    rows = Answer.objects.filter(item_id__in=item_ids).order_by("id").values_list("item_id", "worker_id", "value")
    for item_id, worker_id, value in rows:
        grouped.setdefault(item_id, []).append((worker_id, value))
    return grouped


def job_flagged_gold(*, job: Job, limit: int = 50) -> QuerySet[Item]:
    """The job's gold keys its trusted workers contradicted, waiting for the requester (the partial index
    `item_gold_flagged_idx`)."""
    return Item.objects.filter(job=job, is_gold=True, gold_flagged_at__isnull=False).order_by("gold_flagged_at")[:limit]


def job_disputes(*, job: Job, limit: int = 50) -> QuerySet[Dispute]:
    """Appeals of the job's rejections and the requester's complaints, newest first, with their state."""
    return Dispute.objects.filter(job=job).select_related("worker").order_by("-id")[:limit]
