"""Slots added after launch, and the money behind them: the one way a job gains a claimable slot once it runs.

Invariant, for every launched job, at every commit:

    escrow >= (reward + fee) x (slots that may still be paid)

where the slots that may still be paid are its free slots while it may take claims, its open assignments, its
submitted work awaiting review, and its rejections that may still be appealed (`selectors.job_slots_owed`). Launch
establishes it (tasks x `overlap_max` are funded; targets start at `overlap_min` or equal it). Tasks appended to a
running job start with their `overlap_min` slots waiting, funded at once as far as the money allows
(`job_tasks_fund_new`). Claims, submits,
expiry and releases move a slot from one kind to another; an approval pays one slot from the escrow; a rejection
keeps its slot until the appeal window closes. Only a new slot raises the right-hand side, and every new slot
comes through `job_slots_add` (a block's replacement slots, adaptive overlap; an unblock reopening rejected work
goes through `job_escrow_cover`): in the transaction that adds it, the escrow's surplus is spent first (so a raise
within `overlap_max` is paid by the launch reserve, never twice), then the requester's available balance; a slot
neither can pay is not opened but waits on its task (`MicroTask.unfunded_slots`), progress shows it with the deposit
that would open it, and `job.funds_needed` goes to the requester's webhooks. Waiting slots open when money arrives:
after each deposit of the requester (`payments.signals.deposit_settled`) and by beat (`jobs_slots_fund_waiting`,
which also catches a surplus freed by a closed appeal window). A job with slots waiting is not complete.

Locks, in the engine's order: the tasks concerned (ascending id), the job row, then (in `payments`) the requester's
available balance and the job's escrow, ascending, before what is owed is counted. The job's lock serialises every
top-up with the others, with settlement and with the lifecycle; each top-up has its own key,
`job:<id>:top-up:<n>`, n counted on the job (as `job.refunds` counts refunds).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.db.models import F, Q

from marketplace.accounts.models import User
from marketplace.models import Job, JobStatus, MicroTask
from marketplace.selectors import assignment_price, job_deposit_needed, job_slots_owed
from marketplace.services.webhooks import webhook_emit
from payments.services.escrow import Reservation, escrow_reserve

FUNDABLE = (JobStatus.ACTIVE, JobStatus.PAUSED)


@dataclass(frozen=True)
class Slots:
    """What a call did: slots opened (claimable now) and slots left waiting for funds on the job."""

    opened: int = 0
    waiting: int = 0


def job_slots_add(
    *, job: Job, add: Mapping[int, int] | None = None, raise_to: Mapping[int, int] | None = None
) -> Slots:
    """Give the job's tasks more slots, funded in this transaction or left waiting for funds.

    `add`: slots to add per task id (a block's replacements); `raise_to`: a target per task id, counting the slots
    already waiting (adaptive overlap: a raise another run already asked for is not asked twice). The new slots
    join the job's slots already waiting, and the lowest task numbers open first. A job that no longer takes claims
    (completed, cancelled) gets nothing. Returns the slots opened and the job's slots still waiting.
    """
    wanted = {**(add or {})}
    with transaction.atomic():
        tasks = tasks_lock(job_id=job.pk, task_ids={*wanted, *(raise_to or {})})
        locked = _lock_job(job.pk)
        if locked.status not in FUNDABLE:
            return Slots()
        for task in tasks:
            more = wanted.get(task.pk, 0)
            if raise_to and task.pk in raise_to:
                more += max(0, raise_to[task.pk] - task.overlap_target - task.unfunded_slots)
            if more:
                task.unfunded_slots += more
                MicroTask.objects.filter(pk=task.pk).update(unfunded_slots=F("unfunded_slots") + more)
        slots = _open_waiting(locked, [task for task in tasks if task.unfunded_slots])
        if slots.waiting:
            webhook_emit(job=locked, event="job.funds_needed", data=partial(_funds_needed_data, locked, slots.waiting))
    return slots


def job_tasks_fund_new(*, job: Job, task_ids: Iterable[int]) -> Slots:
    """Tasks just appended to a running job (a continuous job's next batch), their `overlap_min` slots waiting: open
    as many as the escrow's surplus and the requester's available balance pay, in this transaction; the rest wait
    for a deposit (with `job.funds_needed`). The caller holds the job's lock and created the tasks in this
    transaction, so no one else can hold them: only the job is locked (again), never another task."""
    tasks = list(MicroTask.objects.filter(pk__in=list(task_ids)).order_by("pk"))
    locked = _lock_job(job.pk)
    if locked.status not in FUNDABLE or not tasks:
        return Slots()
    slots = _open_waiting(locked, tasks)
    if slots.waiting:
        webhook_emit(job=locked, event="job.funds_needed", data=partial(_funds_needed_data, locked, slots.waiting))
    return slots


def job_slots_fund_waiting(*, job_id: int) -> Slots:
    """Open the job's slots that wait for funds, as far as the escrow's surplus and the requester's available
    balance allow (after a deposit, or from the beat sweep). Idempotent: nothing waiting, nothing done."""
    with transaction.atomic(durable=True):
        tasks = tasks_lock(job_id=job_id, task_ids=())
        locked = _lock_job(job_id)
        if locked.status not in FUNDABLE or not tasks:
            return Slots()
        return _open_waiting(locked, [task for task in tasks if task.unfunded_slots])


def job_escrow_cover(*, job: Job) -> Reservation:
    """Top the escrow up to what the job owes now, all or `InsufficientFunds` with the shortfall (an unblock that
    reopened rejected work for review). The caller holds the locks of the tasks it changed."""
    locked = _lock_job(job.pk)
    if locked.fee_rate is None:  # never launched: no escrow, nothing owed
        return Reservation(covered=0, top_up=None, shortfall=0)
    return _reserve(locked, wanted=0, all_or_nothing=True)


def jobs_slots_fund_waiting() -> int:
    """The beat's sweep: try every active or paused job with slots waiting for funds. Returns the slots opened."""
    job_ids = (
        MicroTask.objects.filter(unfunded_slots__gt=0, job__status__in=FUNDABLE)
        .values_list("job_id", flat=True)
        .distinct()
    )
    return sum(job_slots_fund_waiting(job_id=job_id).opened for job_id in list(job_ids))


def funding_after_deposit(*, user: User, currency: str, **kwargs: object) -> None:
    """Receiver of `payments.signals.deposit_settled`: queue `job_slots_fund_waiting` for each of the requester's
    jobs in that currency with slots waiting for funds. Only enqueues; the task does the work, once per job."""
    from marketplace.tasks import job_slots_fund_waiting_task  # noqa: PLC0415 -- tasks import this module

    waiting = MicroTask.objects.filter(
        unfunded_slots__gt=0, job__requester=user, job__currency=currency, job__status__in=FUNDABLE
    )
    for job_id in waiting.values_list("job_id", flat=True).distinct():
        transaction.on_commit(partial(job_slots_fund_waiting_task.delay, job_id))


def tasks_lock(*, job_id: int, task_ids: Iterable[int]) -> list[MicroTask]:
    """Lock the job's tasks `task_ids`, and those with slots waiting for funds (funded along with any new ones), in
    ascending id, at once: a caller about to add slots takes every task lock it will need before the job's.
    `FOR NO KEY UPDATE`: claims only meet these rows through `SKIP LOCKED`."""
    waiting = Q(job_id=job_id, unfunded_slots__gt=0)
    return list(
        MicroTask.objects.select_for_update(no_key=True).filter(Q(pk__in=list(task_ids)) | waiting).order_by("pk")
    )


def _lock_job(job_id: int) -> Job:
    return Job.objects.select_for_update().select_related("requester").get(pk=job_id)


def _open_waiting(job: Job, tasks: list[MicroTask]) -> Slots:
    """Fund and open as many of `tasks`' waiting slots as the money allows, the lowest task numbers first."""
    waiting = sum(task.unfunded_slots for task in tasks)
    reservation = _reserve(job, wanted=waiting, all_or_nothing=False)
    left = reservation.covered
    for task in sorted(tasks, key=lambda t: t.number):
        opened = min(left, task.unfunded_slots)
        if opened:
            MicroTask.objects.filter(pk=task.pk).update(
                overlap_target=F("overlap_target") + opened, unfunded_slots=F("unfunded_slots") - opened
            )
            left -= opened
    return Slots(opened=reservation.covered, waiting=waiting - reservation.covered)


def _reserve(job: Job, *, wanted: int, all_or_nothing: bool) -> Reservation:
    """`payments.escrow_reserve` for the job (locked by the caller), with its own key; counts the top-up."""
    reward, fee = assignment_price(job)
    reservation = escrow_reserve(
        job_id=job.pk,
        requester=job.requester,
        currency=job.currency,
        price=reward + fee,
        owed=partial(job_slots_owed, job=job),
        wanted=wanted,
        all_or_nothing=all_or_nothing,
        idempotency_key=f"job:{job.pk}:top-up:{job.top_ups}",
    )
    if reservation.top_up is not None:
        job.top_ups += 1
        Job.objects.filter(pk=job.pk).update(top_ups=job.top_ups)
    return reservation


def _funds_needed_data(job: Job, waiting: int) -> dict[str, object]:
    return {
        "slots_waiting_for_funds": waiting,
        "deposit_needed_cents": job_deposit_needed(job=job, slots=waiting),
        "currency": job.currency,
        "progress_url": f"/api/v1/jobs/{job.pk}/progress/",
    }
