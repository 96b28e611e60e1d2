"""Screening workers on a job: their gold answers and their answers on real items, judged together.

`marketplace.aggregation.screening` holds the rule (class-balanced accuracy, credibly below the job's
`gold_block_threshold`); this module feeds it and acts on the verdict through `participation_block` (a recorded
Block, the worker's pending work rejected for review, replacement slots, an unblock that undoes it).

Evidence: the worker's gold answers per gold key (flagged keys left out), plus, per true class, soft counts of
their agreement with what the other answers on each real item say, from the latest aggregation (its posteriors with
the worker's own answer divided out; items with fewer than `MIN_OTHERS` other answers left out). Both are judged
together, and the real answers alone (`screen_evidence`): a worker who does well on gold and badly on real items
is judged on the work they are paid for. It is screened at two moments, both only once the worker has answered
the job's `min_gold` gold items:
- after a graded submit (`quality.quality_after_submit`): gold so far, with the stored results of the answers the
  latest aggregation saw;
- after each aggregation (`screen_after_aggregation`): every worker still working, on the run's own arrays. A
  worker who guesses may pass the few gold items a job holds; their real answers keep adding evidence, so they are
  caught once enough of them exist, while a good worker's real answers speak for them after unlucky gold.
"""

from typing import Any

import numpy as np
from django.db.models import Count, IntegerField, Q, QuerySet

from marketplace.aggregation import Answers, DawidSkeneResult
from marketplace.aggregation.screening import (
    MIN_OTHERS,
    Counts,
    GoldScreen,
    agreement_counts,
    screen_evidence,
    worker_agreement_counts,
)
from marketplace.models import Answer, Item, Job, JobAggregate, Participation
from marketplace.prepared import Param, PreparedQuery
from marketplace.schemas import parse_label_schema
from marketplace.services.blocks import participation_block


def worker_screen(*, job: Job, worker_id: int) -> GoldScreen:
    """The worker's gold answers on the job and their real answers the latest aggregation saw, screened against the
    job's threshold; never failing before `min_gold` gold answers."""
    schema = parse_label_schema(job.label_schema)
    if schema.type == "single_choice":
        gold = _gold_counts(job, worker_id, schema.classes)
        real = _real_counts(job, worker_id, schema.classes)
    else:  # keys of other types are not classes (each transcription is its own): one pool, plain gold accuracy
        rows = _GOLD_BY_CLASS.rows(job=job.pk, worker=worker_id)
        gold = np.array([sum(n for _, n, _ in rows)], dtype=float), np.array([sum(k for _, _, k in rows)], dtype=float)
        real = np.zeros(1), np.zeros(1)
    screen = screen_evidence(gold=gold, real=real, threshold=job.gold_block_threshold)
    if screen.fails and gold[0].sum() < job.min_gold:
        return GoldScreen(screen.answered, screen.right, screen.balanced_accuracy, screen.below_threshold, False)
    return screen


def screen_after_aggregation(
    *,
    job: Job,
    answers: Answers,
    item_ids: np.ndarray,
    worker_ids: np.ndarray,
    gold: np.ndarray,
    result: DawidSkeneResult,
) -> list[int]:
    """Block every worker of the job, not blocked yet and past `min_gold` gold answers, whom the run's evidence
    fails (`answers`, `gold`: the run's snapshot, whose task t is item `item_ids[t]` and worker w is
    `worker_ids[w]`; `result`: its Dawid-Skene fit). Answers on gold items whose key is flagged are left out.
    Returns the workers blocked. Each block is its own transaction (`participation_block`)."""
    flagged = Item.objects.filter(job=job, gold_flagged_at__isnull=False).values_list("pk", flat=True)
    on_gold, on_real = agreement_counts(answers, result, gold, left_out=np.isin(item_ids, list(flagged)))
    index = {worker_id: w for w, worker_id in enumerate(worker_ids.tolist())}
    judged = Participation.objects.filter(
        job=job, blocked_at__isnull=True, gold_answered__gte=job.min_gold, worker_id__in=list(index)
    ).values_list("worker_id", flat=True)
    blocked = []
    for worker_id in sorted(judged):
        w = index[worker_id]
        screen = screen_evidence(
            gold=(on_gold[0][w], on_gold[1][w]),
            real=(on_real[0][w], on_real[1][w]),
            threshold=job.gold_block_threshold,
        )
        if screen.fails and participation_block(job=job, worker_id=worker_id, reason=block_reason(job, screen)):
            blocked.append(worker_id)
    return blocked


def block_reason(job: Job, screen: GoldScreen) -> str:
    per_class = ", ".join(f"{k:.3g}/{n:.3g}" for n, k in zip(screen.answered, screen.right, strict=True))
    return (
        f"Gold accuracy per true class, with agreement with the other workers on real items: {per_class}; balanced "
        f"accuracy "
        f"{screen.balanced_accuracy:.0%}, below the job's threshold of {job.gold_block_threshold:.0%} with "
        f"probability {screen.below_threshold:.0%}."
    )


def _gold_counts(job: Job, worker_id: int, classes: tuple[str, ...]) -> Counts:
    index = {label: c for c, label in enumerate(classes)}
    answered, right = np.zeros(len(classes)), np.zeros(len(classes))
    for key, n, k in _GOLD_BY_CLASS.rows(job=job.pk, worker=worker_id):
        if key in index:
            answered[index[key]], right[index[key]] = n, k
    return answered, right


def _real_counts(job: Job, worker_id: int, classes: tuple[str, ...]) -> Counts:
    """Soft counts from the stored results of the worker's real answers that the latest aggregation saw (their
    confusion matrix is from the same run); nothing before the first run."""
    seen = JobAggregate.objects.filter(job=job).values_list("last_answer_id", flat=True).first()
    confusion = Participation.objects.filter(job=job, worker_id=worker_id).values_list("confusion", flat=True).first()
    k = len(classes)
    if not seen or not confusion or len(confusion) != k:
        return np.zeros(k), np.zeros(k)
    index = {label: c for c, label in enumerate(classes)}
    rows = [
        (index[value], posterior)
        for value, posterior in _REAL_SEEN.rows(job=job.pk, worker=worker_id, seen=seen, others=MIN_OTHERS + 1)
        if value in index and posterior and len(posterior) == k
    ]
    if not rows:
        return np.zeros(k), np.zeros(k)
    labels = np.array([label for label, _ in rows], dtype=np.int64)
    posteriors = np.array([posterior for _, posterior in rows], dtype=float)
    return worker_agreement_counts(posteriors=posteriors, labels=labels, confusion=np.array(confusion, dtype=float))


def _answers_of_the_worker(**filters: Any) -> QuerySet[Answer]:
    """The worker's answers on the job, with the prepared queries' `job` and `worker` parameters."""
    return Answer.objects.filter(
        job_id=Param("job", IntegerField()), worker_id=Param("worker", IntegerField()), **filters
    ).order_by()


# Run on screened submits: prepared once per process (see marketplace.prepared). One row per gold key: the key,
# the worker's answers to gold items with that key, and how many of them were right.
_GOLD_BY_CLASS = PreparedQuery(
    lambda: (
        _answers_of_the_worker(is_gold=True, item__gold_flagged_at__isnull=True)
        .values("item__gold_answer")
        .annotate(answered=Count("id"), right=Count("id", filter=Q(is_correct=True)))
        .values_list("item__gold_answer", "answered", "right")
    )
)

# The worker's answers on real items that the latest aggregation saw (id up to its last answer), with their item's
# stored posterior, on items with enough answers for the others to say something.
_REAL_SEEN = PreparedQuery(
    lambda: _answers_of_the_worker(
        is_gold=False,
        id__lte=Param("seen", IntegerField()),
        item__result__answer_count__gte=Param("others", IntegerField()),
    ).values_list("value", "item__result__posterior")
)
