"""Quality control on live work: gold grading decides who keeps working on a job, and which gold keys look wrong.

Runs after a submit commits (its own short transactions), so the submit's locks are never held while other
workers' rows are read, and the assignment engine's lock order (assignment, task, participation) is kept.

The smoothed gold accuracy is the posterior mean under a Beta(2, 1) prior: (right + 2) / (answered + 3). It starts
a new worker at 2/3 and takes a few answers to move, so one unlucky miss never blocks a good worker; it is only
used once a worker has answered the job's `min_gold` gold items.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, IntegerField, Q
from django.utils import timezone

from marketplace.errors import NotFound
from marketplace.models import Answer, Assignment, Item, Job, Participation
from marketplace.prepared import Param, PreparedQuery
from marketplace.schemas import SchemaValueError, parse_label_schema
from marketplace.services.blocks import participation_block

PRIOR_RIGHT, PRIOR_WRONG = 2.0, 1.0
TRUSTED_ACCURACY = 0.8  # gold hygiene: whose answers can overturn a gold key
CONTRADICTION_MIN_ANSWERS, CONTRADICTION_SHARE = 3, 2 / 3


def smoothed_gold_accuracy(*, right: int, answered: int) -> float:
    return (right + PRIOR_RIGHT) / (answered + PRIOR_RIGHT + PRIOR_WRONG)


def quality_after_submit(
    *, assignment: Assignment, missed_gold: list[int], record: tuple[int, int] | None = None
) -> None:
    """Apply the job's rules after a graded submit committed (`assignment` as submitted, with its job, and the gold
    items it got wrong): block a fast or failing worker, flag contradicted gold.

    `record` is the worker's gold record on the job, `(right, answered)`, as the submit's counters left it, when no
    gold key of the job was flagged (else it is read here). It spares the common case a query over the worker's
    whole history; a block is still only decided on the record read from the answers, flagged keys left out.
    """
    job, worker_id = assignment.job, assignment.worker_id
    if assignment.is_fast and job.fast_answer_action == "block":
        participation_block(job=job, worker_id=worker_id, reason="Submitted faster than the job allows.")
    if assignment.gold_total:
        if gold_flag_contradicted(job=job, missed=missed_gold):
            record = None  # a key was just flagged: the counters now count it
        right, answered = record if record is not None else _gold_record(job, worker_id)
        if _fails_gold(job, right, answered) and record is not None:
            right, answered = _gold_record(job, worker_id)  # a key may have been flagged since the submit read
        if _fails_gold(job, right, answered):
            participation_block(
                job=job, worker_id=worker_id, reason=f"Gold accuracy {right}/{answered} is below the job's threshold."
            )


def _fails_gold(job: Job, right: int, answered: int) -> bool:
    return (
        answered >= job.min_gold and smoothed_gold_accuracy(right=right, answered=answered) < job.gold_block_threshold
    )


def _gold_record(job: Job, worker_id: int) -> tuple[int, int]:
    """The worker's gold answers on the job that count for blocking: flagged gold keys are left out."""
    counts = _GOLD_RECORD.rows(job=job.pk, worker=worker_id)
    return counts[0] if counts else (0, 0)


# Run after every graded submit: prepared once per process (see marketplace.prepared).
_GOLD_RECORD = PreparedQuery(
    lambda: (
        Answer.objects.filter(
            job_id=Param("job", IntegerField()),
            worker_id=Param("worker", IntegerField()),
            is_gold=True,
            item__gold_flagged_at__isnull=True,
        )
        .order_by()
        .values("worker_id")  # one group: the worker's
        .annotate(right=Count("id", filter=Q(is_correct=True)), answered=Count("id"))
        .values_list("right", "answered")
    )
)


def gold_flag_contradicted(*, job: Job, missed: list[int]) -> list[int]:
    """Flag the gold items a worker just missed (`missed`: item ids) whose key the job's trusted workers mostly
    contradict.

    Trusted: not blocked, at least `min_gold` gold answers, smoothed gold accuracy of at least 0.8. A key is
    flagged when at least 3 trusted workers answered the item and two thirds of them disagree with it. A key the
    requester already reviewed is not flagged again.
    """
    if not missed:
        return []
    trusted = [
        p.worker_id
        for p in Participation.objects.filter(job=job, blocked_at__isnull=True, gold_answered__gte=job.min_gold)
        if smoothed_gold_accuracy(right=p.gold_correct, answered=p.gold_answered) >= TRUSTED_ACCURACY
    ]
    verdicts = (
        Answer.objects.filter(item_id__in=missed, worker_id__in=trusted)
        .values("item_id")
        .annotate(n=Count("id"), wrong=Count("id", filter=Q(is_correct=False)))
    )
    contradicted = [
        v["item_id"]
        for v in verdicts
        if v["n"] >= CONTRADICTION_MIN_ANSWERS and v["wrong"] >= CONTRADICTION_SHARE * v["n"]
    ]
    Item.objects.filter(pk__in=contradicted, gold_flagged_at__isnull=True, gold_reviewed_at__isnull=True).update(
        gold_flagged_at=timezone.now()
    )
    return contradicted


def gold_review(*, job: Job, item_id: int, gold_answer: object) -> Item:
    """The requester settles a flagged gold key: keep it or correct it. The flag is cleared, the item is used
    again, and a reviewed key is never flagged again. Past gold grades are not rewritten."""
    schema = parse_label_schema(job.label_schema)
    with transaction.atomic():
        item = Item.objects.select_for_update().filter(job=job, pk=item_id, is_gold=True).first()
        if item is None:
            raise NotFound("No such gold item.")
        try:
            item.gold_answer = schema.clean_answer(gold_answer)
        except SchemaValueError as exc:
            raise ValidationError({"gold_answer": str(exc)}) from None
        item.gold_flagged_at, item.gold_reviewed_at = None, timezone.now()
        item.save(update_fields=["gold_answer", "gold_flagged_at", "gold_reviewed_at"])
    return item
