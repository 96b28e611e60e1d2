"""Quality control on live work: gold grading decides who keeps working on a job, and which gold keys look wrong.

Runs after a submit commits (its own short transactions), so the submit's locks are never held while other
workers' rows are read, and the assignment engine's lock order (assignment, task, participation) is kept.

Who is blocked: once a worker has answered the job's `min_gold` gold items, their gold answers are counted per true
class (the gold key) and screened by `marketplace.aggregation.screening`: a worker is blocked when their
class-balanced accuracy (the mean of their per-class recalls) is below the job's `gold_block_threshold` with a
posterior probability of at least 3/4. Raw accuracy would let a constant answerer through on a two-class job; the
balanced one is 1/K for anyone who answers without looking, and a block needs evidence, not a few unlucky misses.

The smoothed gold accuracy, the posterior mean under a Beta(2, 1) prior, (right + 2) / (answered + 3), only picks
the trusted workers whose answers can contradict a gold key (gold hygiene, below).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, IntegerField, Q
from django.utils import timezone

from marketplace.aggregation.screening import GoldScreen, gold_screen
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
    gold key of the job was flagged (else None). It spares most submits the screening's query: below `min_gold`
    answers no one is screened, and a submit whose gold answers were all right cannot fail a worker who was past
    `min_gold` before it (a right answer only raises a class's posterior, so the probability of being below the
    threshold only falls since the last screen, which passed). A threshold raised while the job is paused therefore
    applies from each worker's next missed gold item. The screening itself reads the answers, flagged keys left out.
    """
    job, worker_id = assignment.job, assignment.worker_id
    if assignment.is_fast and job.fast_answer_action == "block":
        participation_block(job=job, worker_id=worker_id, reason="Submitted faster than the job allows.")
    if assignment.gold_total:
        if gold_flag_contradicted(job=job, missed=missed_gold):
            record = None  # a key was just flagged: the counters now count it
        if record is not None:
            before = record[1] - assignment.gold_total
            if record[1] < job.min_gold or (not missed_gold and before >= job.min_gold):
                return
        screen = gold_screen_worker(job=job, worker_id=worker_id)
        if screen.fails:
            participation_block(job=job, worker_id=worker_id, reason=_block_reason(job, screen))


def gold_screen_worker(*, job: Job, worker_id: int) -> GoldScreen:
    """The worker's gold answers on the job, counted per gold key (flagged keys left out), screened against the
    job's threshold; never failing before `min_gold` answers."""
    rows = _GOLD_BY_CLASS.rows(job=job.pk, worker=worker_id)
    answered, right = [n for _, n, _ in rows], [k for _, _, k in rows]
    if parse_label_schema(job.label_schema).type != "single_choice":
        # Keys of other types are not classes (every transcription is its own): one pool, plain gold accuracy.
        answered, right = [sum(answered)], [sum(right)]
    screen = gold_screen(answered=answered, right=right, threshold=job.gold_block_threshold)
    if screen.fails and sum(answered) < job.min_gold:
        return GoldScreen(screen.answered, screen.right, screen.balanced_accuracy, screen.below_threshold, False)
    return screen


def _block_reason(job: Job, screen: GoldScreen) -> str:
    per_class = ", ".join(f"{k}/{n}" for n, k in zip(screen.answered, screen.right, strict=True))
    return (
        f"Gold accuracy per true class {per_class}: balanced accuracy {screen.balanced_accuracy:.0%}, below the "
        f"job's threshold of {job.gold_block_threshold:.0%} with probability {screen.below_threshold:.0%}."
    )


# Run after graded submits: prepared once per process (see marketplace.prepared). One row per gold key: the key,
# the worker's answers to gold items with that key, and how many of them were right.
_GOLD_BY_CLASS = PreparedQuery(
    lambda: (
        Answer.objects.filter(
            job_id=Param("job", IntegerField()),
            worker_id=Param("worker", IntegerField()),
            is_gold=True,
            item__gold_flagged_at__isnull=True,
        )
        .order_by()
        .values("item__gold_answer")
        .annotate(answered=Count("id"), right=Count("id", filter=Q(is_correct=True)))
        .values_list("item__gold_answer", "answered", "right")
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
