"""Aggregating a job: ORM rows in, the pure engine's Dawid-Skene in the middle, labels and worker quality out.

A run reads a snapshot of the job's answers outside any transaction (EM can take seconds on a large job), then
writes the results in one short transaction under the lock of the job's `JobAggregate` row. A run that saw fewer
answers than the stored one does not overwrite it, so runs may overlap or repeat safely (the task is idempotent).

Gold items take part as tasks clamped to their known label (semi-supervised Dawid-Skene), which anchors every
worker's confusion matrix; workers blocked from the job are left out. Results are stored for real items only. Each
model version with predictions on the job is one more annotator (`services/model_annotators.py`): its confusion
matrix is learned as a worker's, and it never counts as a person's answer.

The job's `worker_model` says how each worker is modelled (`services/worker_model.py`): full Dawid-Skene (the
default), one-coin, class one-coin, or `auto`, chosen at each run; the run stores which model it fitted and why.
"""

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from marketplace.aggregation import Answers, DawidSkeneResult
from marketplace.cache import cache_count
from marketplace.models import Answer, ClaimOrder, Item, ItemResult, Job, JobAggregate, JobStatus, Participation
from marketplace.schemas import parse_label_schema
from marketplace.services.aggregation_typed import job_aggregate_typed
from marketplace.services.claim_order import claim_order_rank
from marketplace.services.commit import after_commit
from marketplace.services.disputes import appeals_auto_resolve
from marketplace.services.jobs import job_complete_if_done
from marketplace.services.model_annotators import is_model, model_answers, model_quality_store
from marketplace.services.overlap import overlap_adapt
from marketplace.services.progress import progress_snapshot_take
from marketplace.services.reputation import reputation_recompute
from marketplace.services.settled import items_settled_announce
from marketplace.services.webhooks import webhook_emit, webhook_results_data
from marketplace.services.worker_model import Fit, worker_model_fit

logger = logging.getLogger(__name__)

# A run asked for this long ago and not finished is asked for again (EM takes seconds even on large jobs; a queue
# may be long): at most this many times per request.
RESUME_AFTER = timedelta(minutes=5)
RESUME_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Snapshot:
    """A job's answers, integer-coded for the engine. Index t of the engine's tasks is item `item_ids[t]`."""

    answers: Answers
    item_ids: np.ndarray
    worker_ids: np.ndarray
    gold: dict[int, int]
    last_answer_id: int
    classes: tuple[str, ...]
    item_last_answer: np.ndarray  # the newest answer id per item (index t)
    human_counts: np.ndarray  # people's answers per item (index t): a model's predictions are not among them
    models: list[str]  # the model of worker id -1 - i is models[i]


def job_aggregate(*, job_id: int) -> JobAggregate:
    """Aggregate the job's answers with Dawid-Skene and store per-item labels and per-worker quality.

    A run that gets to its end (results stored, appeals and reputations updated) marks as done the requests made
    before its snapshot (`JobAggregate.requested_at`); a run that dies on the way leaves them for the sweeper."""
    job = Job.objects.get(pk=job_id)
    snapshot_at = timezone.now()
    if parse_label_schema(job.label_schema).type != "single_choice":
        return _after_run(job, snapshot_at, *job_aggregate_typed(job=job, adapt=_adapt))
    snapshot = _snapshot(job)
    started = time.perf_counter()
    fit = _fit(job, snapshot)
    result = fit.result
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    with transaction.atomic(durable=True):
        JobAggregate.objects.get_or_create(job=job)
        state = JobAggregate.objects.select_for_update().get(job=job)
        if state.last_answer_id > snapshot.last_answer_id:
            return state  # a run that saw more answers already stored its results
        since = state.last_answer_id
        _store_items(job, snapshot, fit.items)
        _store_workers(job, snapshot, result)
        model_quality_store(
            job_id=job.pk,
            models=snapshot.models,
            worker_ids=snapshot.worker_ids.tolist(),
            accuracy=result.worker_accuracy,
            counts=result.worker_answer_counts,
            confusions=result.confusions,
        )
        _store_state(state, snapshot, fit, elapsed_ms)
        webhook_emit(job=job, event="results.updated", data=partial(_results_event, state, snapshot, fit.items, since))
        if job.overlap_min < job.overlap_max:
            _adapt(job)
    # Blocks release assignments, and assignments enqueue aggregations: imported here, not at the top.
    from marketplace.services.screening import screen_after_aggregation  # noqa: PLC0415

    blocked = screen_after_aggregation(
        job=job,
        answers=snapshot.answers,
        item_ids=snapshot.item_ids,
        worker_ids=snapshot.worker_ids,
        gold=_gold_mask(snapshot),
        result=result,
    )
    if blocked:  # their answers leave the results, as a block promises: once more, without them
        aggregation_enqueue(job_id=job.pk)
    return _after_run(job, snapshot_at, state, [w for w in snapshot.worker_ids.tolist() if not is_model(w)])


def _after_run(job: Job, snapshot_at: datetime, state: JobAggregate, worker_ids: list[int]) -> JobAggregate:
    """After a run's commit: reputations, appeals the answers now decide, the job's progress, and the requests it
    served."""
    reputation_recompute(worker_ids=worker_ids)
    progress_snapshot_take(job=job)
    if job.claim_order == ClaimOrder.UNCERTAIN:
        claim_order_rank(job=job)  # active learning: the least certain tasks first, as of this run
    items_settled_announce(job=job)
    appeals_auto_resolve(job_id=job.pk)  # after the commit: paying an appeal never holds the JobAggregate lock
    JobAggregate.objects.filter(job=job, requested_at__lte=snapshot_at).update(requested_at=None, request_attempts=0)
    return state


def _results_event(state: JobAggregate, snapshot: Snapshot, result: DawidSkeneResult, since: int) -> dict:
    """`results.updated`: the run's summary, and the results of the real items answered since the previous run (at
    most WEBHOOK_RESULTS_MAX_ITEMS of them, the oldest first; `updated_items_total` counts them all), each with its
    posterior, class -> probability."""
    updated = np.flatnonzero((snapshot.item_last_answer > since) & ~_gold_mask(snapshot))
    shown = updated[: settings.WEBHOOK_RESULTS_MAX_ITEMS].tolist()
    external = dict(Item.objects.filter(pk__in=snapshot.item_ids[shown].tolist()).values_list("id", "external_id"))
    items = [
        {
            "item": int(snapshot.item_ids[t]),
            "external_id": external.get(int(snapshot.item_ids[t]), ""),
            "label": snapshot.classes[int(result.labels[t])] if result.answer_counts[t] else None,
            "confidence": round(float(result.confidence[t]), 6),
            "posterior": {c: round(float(p), 6) for c, p in zip(snapshot.classes, result.posteriors[t], strict=True)},
        }
        for t in shown
    ]
    return {**webhook_results_data(state), "updated_items": items, "updated_items_total": len(updated)}


def _adapt(job: Job) -> None:
    """Adaptive overlap: open slots for uncertain tasks, or complete the job when no task needs another answer.

    The raises lock their tasks, then the job row (the engine's order; `funding.job_slots_add` refuses a job that is
    no longer active or paused); the completion check then holds the job row to the end of this transaction, so
    completion and a raise of targets never interleave (targets of a completed job never move again)."""
    overlap_adapt(job=job)
    locked = Job.objects.select_for_update().get(pk=job.pk)
    if locked.status in (JobStatus.ACTIVE, JobStatus.PAUSED):
        job_complete_if_done(job=locked)


def _fit(job: Job, snapshot: Snapshot) -> Fit:
    return worker_model_fit(
        job=job,
        answers=snapshot.answers,
        gold=snapshot.gold,
        excluded=_blocked_worker_indices(job, snapshot),
        init_posteriors=_previous_posteriors(job, snapshot),
    )


def _snapshot(job: Job) -> Snapshot:
    schema = parse_label_schema(job.label_schema)
    index: dict[object, int] = {label: i for i, label in enumerate(schema.classes)}
    people = [
        (a, i, w, index[v])
        for a, i, w, v in Answer.objects.filter(job=job).values_list("id", "item", "worker", "value")
    ]
    gold_keys = dict(Item.objects.filter(job=job, is_gold=True).values_list("id", "gold_answer"))
    machines = model_answers(job_id=job.pk, answered={i for _, i, _, _ in people}, gold=set(gold_keys))
    predicted = [(0, i, w, index[v]) for i, w, v in machines.rows if v in index]  # id 0: no answer id of people's
    rows = np.array(people + predicted, dtype=np.int64).reshape(-1, 4)
    item_ids, tasks = np.unique(rows[:, 1], return_inverse=True)
    worker_ids, workers = np.unique(rows[:, 2], return_inverse=True)
    answers = Answers(
        tasks=tasks,
        workers=workers,
        labels=rows[:, 3],
        n_tasks=len(item_ids),
        n_workers=len(worker_ids),
        n_classes=len(schema.classes),
    )
    position = {item_id: t for t, item_id in enumerate(item_ids.tolist())}
    gold = {position[item_id]: index[key] for item_id, key in gold_keys.items() if item_id in position}
    last = int(rows[:, 0].max()) if len(rows) else 0
    item_last_answer = np.zeros(len(item_ids), dtype=np.int64)
    np.maximum.at(item_last_answer, tasks, rows[:, 0])
    human_counts = np.bincount(tasks[: len(people)], minlength=len(item_ids))
    return Snapshot(
        answers, item_ids, worker_ids, gold, last, schema.classes, item_last_answer, human_counts, machines.models
    )


def _blocked_worker_indices(job: Job, snapshot: Snapshot) -> np.ndarray:
    blocked = Participation.objects.filter(job=job, blocked_at__isnull=False).values_list("worker_id", flat=True)
    return np.flatnonzero(np.isin(snapshot.worker_ids, np.fromiter(blocked, dtype=np.int64)))


def _previous_posteriors(job: Job, snapshot: Snapshot) -> np.ndarray | None:
    """Warm start: the stored posteriors of items seen before; NaN rows (new items) start from majority vote."""
    stored = dict(ItemResult.objects.filter(job=job).values_list("item_id", "posterior"))
    if not stored:
        return None
    k = len(snapshot.classes)
    init = np.full((len(snapshot.item_ids), k), np.nan)
    for t, item_id in enumerate(snapshot.item_ids.tolist()):
        posterior = stored.get(item_id)
        if posterior and len(posterior) == k:
            init[t] = posterior
    return init


def _gold_mask(snapshot: Snapshot) -> np.ndarray:
    gold = np.zeros(len(snapshot.item_ids), dtype=bool)
    gold[list(snapshot.gold)] = True
    return gold


def _store_items(job: Job, snapshot: Snapshot, result: DawidSkeneResult) -> None:
    gold = _gold_mask(snapshot)
    rows = [
        ItemResult(
            item_id=int(snapshot.item_ids[t]),
            job=job,
            label=snapshot.classes[int(result.labels[t])] if result.answer_counts[t] else None,
            confidence=round(float(result.confidence[t]), 6),
            posterior=[round(float(p), 6) for p in result.posteriors[t]],
            answer_count=int(snapshot.human_counts[t]),
        )
        for t in np.flatnonzero(~gold).tolist()
    ]
    ItemResult.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["item"],
        update_fields=["label", "confidence", "posterior", "answer_count", "updated_at"],
    )


def _store_workers(job: Job, snapshot: Snapshot, result: DawidSkeneResult) -> None:
    by_worker = {
        p.worker_id: p for p in Participation.objects.filter(job=job, worker_id__in=snapshot.worker_ids.tolist())
    }
    changed = []
    for w, worker_id in enumerate(snapshot.worker_ids.tolist()):
        participation = by_worker.get(worker_id)
        if participation is None or not result.worker_answer_counts[w]:
            continue
        participation.estimated_accuracy = round(float(result.worker_accuracy[w]), 6)
        participation.confusion = np.round(result.confusions[w], 4).tolist()
        changed.append(participation)
    Participation.objects.bulk_update(changed, ["estimated_accuracy", "confusion"], batch_size=500)


def _store_state(state: JobAggregate, snapshot: Snapshot, fit: Fit, elapsed_ms: int) -> None:
    result = fit.result
    state.method = "ds"
    state.worker_model, state.worker_model_reason, state.worker_model_scores = fit.model, fit.reason, fit.scores
    state.calibration = fit.calibration
    state.last_answer_id = snapshot.last_answer_id
    state.n_answers = int(result.answer_counts.sum())
    state.n_items = len(snapshot.item_ids) - len(snapshot.gold)
    state.iterations, state.converged = result.iterations, result.converged
    state.log_likelihood = float(result.log_likelihood) if np.isfinite(result.log_likelihood) else None
    state.class_priors = {c: round(float(p), 6) for c, p in zip(snapshot.classes, result.priors, strict=True)}
    state.excluded_workers = int((result.worker_answer_counts == 0).sum())
    state.duration_ms, state.computed_at = elapsed_ms, timezone.now()
    state.save()


# --- When to aggregate ----------------------------------------------------------------------------------------


def aggregation_note_answers(*, job_id: int, count: int) -> None:
    """Count newly submitted answers (after commit) and enqueue an aggregation every AGGREGATE_EVERY answers.

    The counter lives in the cache (Redis in production): one atomic increment per submit, no hot database row.
    It runs after the submit committed, so it must never raise: a missing counter is simply started again.
    Exactly one submit crosses each multiple of the threshold. A lost counter, or answers not counted while the
    cache is down, only delay a run; completion and the requester's own request always aggregate.
    """
    every = settings.AGGREGATE_EVERY_ANSWERS
    total = cache_count(f"job-answers-since:{job_id}", count, timeout=None)
    if total is not None and total // every > (total - count) // every:
        aggregation_enqueue(job_id=job_id)


def aggregation_enqueue(*, job_id: int) -> None:
    """Ask for a run after the surrounding transaction commits: first recorded on the job's `JobAggregate` row
    (`requested_at`, outside the caller's transaction and its locks), then sent to Celery. A broker that is down, or
    a worker killed before the run ends, only delays it: the sweeper asks again."""
    from marketplace.tasks import job_aggregate_task  # noqa: PLC0415 -- tasks import this module

    def request_aggregation() -> None:
        JobAggregate.objects.bulk_create(
            [JobAggregate(job_id=job_id, requested_at=timezone.now())],
            update_conflicts=True,
            unique_fields=["job"],
            update_fields=["requested_at"],
        )
        job_aggregate_task.delay(job_id)

    after_commit(request_aggregation)


def aggregation_enqueue_if_answered(*, job_id: int) -> None:
    """Ask for a run if the job has answers (after a model's new predictions: a model is an annotator)."""
    if Answer.objects.filter(job_id=job_id).exists():
        aggregation_enqueue(job_id=job_id)


def aggregation_after_edit(*, job: Job, fields: Iterable[str]) -> None:
    """After `jobs.job_update` (which this module's imports rule out calling it): a launched job whose worker model
    changed reads its answers again now, not at the next run's turn."""
    if "worker_model" in fields and job.launched_at is not None:
        aggregation_enqueue_if_answered(job_id=job.pk)


def aggregation_resume_stuck(*, limit: int = 100) -> int:
    """Enqueue again the runs asked for more than `RESUME_AFTER` ago and still not finished (their task lost, their
    worker killed), up to `RESUME_MAX_ATTEMPTS` times per request; then give up on it, with an error in the log.
    Returns how many it enqueued. A duplicate run is harmless: the older of two never overwrites the newer."""
    from marketplace.tasks import job_aggregate_task  # noqa: PLC0415 -- tasks import this module

    now = timezone.now()
    with transaction.atomic():
        stuck = (
            JobAggregate.objects.select_for_update(skip_locked=True)
            .filter(requested_at__lt=now - RESUME_AFTER)
            .order_by("job_id")
        )
        rows = list(stuck.values_list("job_id", "request_attempts")[:limit])
        retry = [job_id for job_id, attempts in rows if attempts < RESUME_MAX_ATTEMPTS]
        given_up = [job_id for job_id, attempts in rows if attempts >= RESUME_MAX_ATTEMPTS]
        JobAggregate.objects.filter(job_id__in=retry).update(
            requested_at=now, request_attempts=F("request_attempts") + 1
        )
        JobAggregate.objects.filter(job_id__in=given_up).update(requested_at=None)
        for job_id in given_up:
            logger.error(
                "Aggregation of job %s: gave up after %s runs that did not finish.", job_id, RESUME_MAX_ATTEMPTS
            )
        for job_id in retry:
            after_commit(job_aggregate_task.delay, job_id)
    return len(retry)
