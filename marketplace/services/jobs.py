"""Jobs: creation, edits, and the one place where the lifecycle is enforced."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, IntegerField
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import Forbidden, InvalidTransition, JobNotEditable, JobNotLaunchable
from marketplace.models import FINISHED_STATUSES, ClaimOrder, Job, JobQualification, JobStatus, MicroTask, WorkerModel
from marketplace.prepared import Param, PreparedQuery, attnames
from marketplace.schemas import parse_item_schema, parse_label_schema
from marketplace.services.claim_order import claim_order_rank
from marketplace.services.predictions import prelabels_missing
from marketplace.services.reviews import job_fund_escrow, job_settle
from marketplace.services.webhooks import webhook_emit, webhook_job_data
from payments.errors import InvalidCurrency
from payments.money import currency_clean
from qualification.selectors import qualification_usable_by

# The lifecycle: action -> (the statuses it may start from, the status it leads to). Nothing else changes
# `Job.status`.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "launch": (frozenset({JobStatus.DRAFT}), JobStatus.ACTIVE),
    "pause": (frozenset({JobStatus.ACTIVE}), JobStatus.PAUSED),
    "resume": (frozenset({JobStatus.PAUSED}), JobStatus.ACTIVE),
    "complete": (frozenset({JobStatus.ACTIVE, JobStatus.PAUSED}), JobStatus.COMPLETED),
    "cancel": (frozenset({JobStatus.DRAFT, JobStatus.ACTIVE, JobStatus.PAUSED}), JobStatus.CANCELLED),
    # The system's only action, never the requester's: the deadline passed (marketplace.services.deadlines).
    "expire": (frozenset({JobStatus.ACTIVE, JobStatus.PAUSED}), JobStatus.EXPIRED),
}
# The event a finished job announces, by the status it finished in (a requester's cancel announces nothing).
FINISH_EVENTS: dict[str, str] = {JobStatus.COMPLETED: "job.completed", JobStatus.EXPIRED: "job.expired"}

# Fields a requester may change, by status. Anything that changes what workers answer, or what the job costs,
# is frozen once the job has been launched.
EDITABLE_FIELDS: dict[str, frozenset[str]] = {
    JobStatus.DRAFT: frozenset(
        {
            "title",
            "instructions",
            "label_schema",
            "item_schema",
            "overlap_min",
            "overlap_max",
            "items_per_task",
            "reward_cents",
            "currency",
            "gold_ratio",
            "assignment_duration",
            "max_open_assignments",
            "daily_cap",
            "deadline",
            "confidence_target",
            *("required_qualifications", "min_reputation"),
            *("min_gold", "gold_block_threshold", "min_seconds_per_item", "fast_answer_action"),
            "prelabel_model",
            "language",
            "claim_order",
            "continuous",
            "worker_model",
        }
    ),
    # The claim order changes which task comes next, never what an answer is or costs: open while the job runs; so
    # is whether the job stays open for more items (turned off, it completes once its tasks are done), and the worker
    # model, which changes how the answers are read (a requester pins one after seeing what `auto` chose).
    JobStatus.ACTIVE: frozenset({"title", "instructions", "deadline", "claim_order", "continuous", "worker_model"}),
    JobStatus.PAUSED: frozenset(
        {
            *("title", "instructions", "deadline", "assignment_duration", "language", "daily_cap", "claim_order"),
            *("continuous", "worker_model"),
            *("required_qualifications", "min_reputation"),
            *("min_gold", "gold_block_threshold", "min_seconds_per_item", "fast_answer_action"),
        }
    ),
}


def job_can(job: Job, action: str) -> bool:
    """Whether the job's status lets `action` (one of `TRANSITIONS`) move it: what a page offers as a button."""
    return job.status in TRANSITIONS[action][0]


def job_editable_fields(job: Job) -> frozenset[str]:
    """What the job's status lets anyone (the requester through the API, an admin in the admin) change."""
    return EDITABLE_FIELDS.get(job.status, frozenset())


def _clean_schemas(job: Job) -> None:
    label_schema = parse_label_schema(job.label_schema)
    job.label_schema = label_schema.as_dict()
    item_schema = parse_item_schema(job.item_schema)
    types = {field.name: field.type for field in item_schema.fields}
    for key, (name, allowed) in label_schema.item_fields.items():  # e.g. spans' text_field: a string field
        if item_schema.fields and types.get(name) not in allowed:  # free columns (no item schema): any
            kinds = " or ".join(allowed)
            raise ValidationError({"label_schema": f"{key} {name!r} must name a field of type {kinds} in item_schema."})
    if job.claim_order == ClaimOrder.PRIORITY and types.get("priority") not in ("number", "integer"):
        raise ValidationError(
            {"claim_order": "Claims by priority read the items' `priority`: declare it in item_schema as a number."}
        )
    if label_schema.type != "single_choice" and job.worker_model != WorkerModel.DAWID_SKENE:
        raise ValidationError(
            {"worker_model": "Only single-choice jobs choose a worker model; other answer types have their own."}
        )


def _validate(job: Job) -> None:
    _clean_schemas(job)
    job.currency = job.currency.upper()
    try:
        currency_clean(job.currency)
    except InvalidCurrency as exc:
        raise ValidationError({"currency": exc.message}) from None
    if job.overlap_max < job.overlap_min:
        raise ValidationError({"overlap_max": "Must be at least overlap_min."})
    job.full_clean()


@transaction.atomic
def job_create(*, requester: User, required_qualifications: list[dict] | None = None, **fields: Any) -> Job:
    """Create a draft job owned by `requester`. Only requesters may post jobs."""
    if not requester.is_requester:
        raise Forbidden("Only requesters can create jobs; enable the requester role first.")
    job = Job(requester=requester, status=JobStatus.DRAFT, **fields)
    _validate(job)
    job.save()
    _set_requirements(job, required_qualifications or [])
    return job


def _set_requirements(job: Job, requirements: list[dict]) -> None:
    """Replace the job's required qualifications: each must be the requester's own, public, or the job owner is
    staff; `min_score` in 0..1."""
    ids = [r["qualification"] for r in requirements]
    if len(set(ids)) != len(ids):
        raise ValidationError({"required_qualifications": "A qualification is listed twice."})
    for i, requirement in enumerate(requirements):
        if not qualification_usable_by(qualification_id=requirement["qualification"], requester=job.requester):
            raise ValidationError({"required_qualifications": f"[{i}]: no such qualification you may require."})
    JobQualification.objects.filter(job=job).delete()
    JobQualification.objects.bulk_create(
        JobQualification(job=job, qualification_id=r["qualification"], min_score=r.get("min_score", 0.0))
        for r in requirements
    )


@transaction.atomic
def job_update(*, job: Job, **fields: Any) -> Job:
    """Change the fields the job's status allows; the row is locked so a concurrent launch cannot interleave."""
    locked = Job.objects.select_for_update().get(pk=job.pk)
    frozen = sorted(set(fields) - job_editable_fields(locked))
    if frozen:
        raise JobNotEditable(
            f"Cannot change {', '.join(frozen)} while the job is {locked.status}.", fields=frozen, status=locked.status
        )
    requirements = fields.pop("required_qualifications", None)
    for name, value in fields.items():
        setattr(locked, name, value)
    _validate(locked)
    locked.save()
    if requirements is not None:
        _set_requirements(locked, requirements)
    if "claim_order" in fields and locked.launched_at is not None:
        claim_order_rank(job=locked)
    if fields.get("continuous") is False and locked.launched_at is not None:
        job_complete_if_done(job=locked)  # no more items coming: done now if its tasks are
        locked.refresh_from_db()
    return locked


@transaction.atomic
def job_transition(*, job: Job, action: str) -> Job:
    """Apply a lifecycle `action` (launch, pause, resume, complete, cancel; expire, the system's) if the job's
    status allows it.

    Locks the job row and re-reads the status (and, to expire, the deadline) under the lock, so two racing requests
    cannot both move it, and a deadline moved meanwhile is respected. An action whose target status the job already
    has is a no-op (a retried request succeeds). A finished job gets `finished_at`, announces itself
    (`FINISH_EVENTS`) and settles its escrow, all in this transaction.
    """
    sources, to = TRANSITIONS[action]
    locked = Job.objects.select_for_update().get(pk=job.pk)
    if locked.status == to:
        return locked
    if locked.status not in sources:
        raise InvalidTransition(f"Cannot {action} a {locked.status} job.", status=locked.status, action=action)
    if action == "launch":
        _check_launchable(locked)
        job_fund_escrow(job=locked)  # the full cost, or InsufficientFunds: the launch and its money go together
        locked.launched_at = timezone.now()
        claim_order_rank(job=locked)
    if action == "expire" and not job_past_deadline(locked):
        raise InvalidTransition("The job's deadline has not passed.", status=locked.status, action=action)
    if to in FINISHED_STATUSES:
        locked.finished_at = timezone.now()
    locked.status = to
    locked.save(update_fields=["status", "launched_at", "finished_at", "fee_rate", "updated_at"])
    if to in FINISH_EVENTS:
        webhook_emit(job=locked, event=FINISH_EVENTS[to], data=webhook_job_data(locked))
    if to in FINISHED_STATUSES:
        job_settle(job_id=locked.pk)
    return locked


def job_past_deadline(job: Job) -> bool:
    return job.deadline is not None and job.deadline <= timezone.now()


def _check_launchable(job: Job) -> None:
    if not job.tasks.exists():
        raise JobNotLaunchable("Upload at least one item before launching the job.")
    if job.deadline is not None and job.deadline <= timezone.now():
        raise JobNotLaunchable("The job's deadline has already passed.", field="deadline")
    usable_gold = job.items.filter(is_gold=True, gold_flagged_at__isnull=True).count() if job.gold_per_assignment else 0
    if usable_gold < job.gold_per_assignment:
        raise JobNotLaunchable(
            f"Every assignment holds {job.gold_per_assignment} gold items (gold_ratio {job.gold_ratio}): upload at "
            f"least that many gold items (the job has {usable_gold}), or set gold_ratio to 0.",
            field="gold_ratio",
        )
    missing = prelabels_missing(job=job)
    if missing:
        raise JobNotLaunchable(
            f"Workers see {job.prelabel_model}'s prediction on every item, gold included (so that none stands out): "
            f"{missing} items have none yet. Send them, or clear prelabel_model.",
            field="prelabel_model",
        )


def job_complete_if_done(*, job: Job) -> bool:
    """Complete the job once no task is unfinished (fewer submissions than its overlap target) and no slot waits for
    the requester's funds (`services.funding`: those items still need answers), unless it is continuous (its
    requester appends more items; it completes once they turn that off). Returns whether it did.

    The job row is locked first: two submits finishing the last two tasks at once would otherwise each see the
    other's task as unfinished (neither has committed) and neither would complete the job. Under the lock, the
    second one to arrive sees the first one's committed task.
    """
    [locked] = _LOCKED_JOB.instances(Job, job=job.pk)
    if locked.status not in (JobStatus.ACTIVE, JobStatus.PAUSED) or locked.continuous:  # more items may come
        return False
    if _FIRST_UNFINISHED_TASK.rows(job=job.pk):
        return False
    if MicroTask.objects.filter(job_id=job.pk, unfunded_slots__gt=0).exists():  # asked once, at the very end
        return False
    job_transition(job=locked, action="complete")
    return True


# Run each time a task finishes, with the job row locked: prepared once per process (marketplace.prepared).
_LOCKED_JOB = PreparedQuery(
    lambda: Job.objects.select_for_update().filter(pk=Param("job", IntegerField())).values_list(*attnames(Job))
)
# The first unfinished task in number order, not `.exists()`: the ORDER BY makes the partial index
# `task_unfinished_idx` (job, number) the plan, a probe however many tasks are done. For `.exists()` PostgreSQL chose
# a sequential scan from the start of the table, all jobs' tasks (17 ms at 100,000 tasks, under the job's lock).
_FIRST_UNFINISHED_TASK = PreparedQuery(
    lambda: (
        MicroTask.objects.filter(job_id=Param("job", IntegerField()), submitted_count__lt=F("overlap_target"))
        .order_by("number")
        .values_list("pk")[:1]
    )
)
