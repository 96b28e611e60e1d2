"""Aggregation of the engine's other answer types (multi_choice, text, number, pairwise, bbox, spans): the job's
answers through the type's own method in the pure engine (`marketplace.aggregation.types`), one answer and a
confidence per item (boxes and spans: one per part too), a quality per worker; the items themselves for a type that
reads them. A type that scores what its items compare (pairwise) also stores a score per compared id
(`JobAggregate.item_scores`). Each model version with predictions is one more annotator, as in the single-choice path
(`services/model_annotators.py`). Single-choice jobs keep their Dawid-Skene path (`services/aggregation.py`), which
calls this for the rest."""

import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplace import selectors
from marketplace.aggregation.types import Consensus, answer_type
from marketplace.models import Answer, Item, ItemResult, Job, JobAggregate, Participation
from marketplace.schemas import parse_label_schema
from marketplace.services.model_annotators import is_model, model_answers, model_quality_store
from marketplace.services.webhooks import webhook_emit, webhook_results_data
from qualification.labels import EngineSchema


def job_aggregate_typed(*, job: Job, adapt: Callable[[Job], None]) -> tuple[JobAggregate, list[int]]:
    """Aggregate and store, then (with adaptive overlap) `adapt` the job in the same transaction, as the
    single-choice path does; returns the state and the workers seen (for their reputation)."""
    schema = parse_label_schema(job.label_schema)
    assert isinstance(schema, EngineSchema)  # single choice is job_aggregate's own path
    rows = list(Answer.objects.filter(job=job).order_by("id").values_list("id", "item_id", "worker_id", "value"))
    gold = dict(Item.objects.filter(job=job, is_gold=True).values_list("id", "gold_answer"))
    people = {item_id for _, item_id, _, _ in rows}
    machines = model_answers(job_id=job.pk, answered=people, gold=set(gold))
    counted = rows + [(0, item_id, worker_id, value) for item_id, worker_id, value in machines.rows]
    answered = people | {item_id for item_id, _, _ in machines.rows}
    blocked = Participation.objects.filter(job=job, blocked_at__isnull=False).values_list("worker_id", flat=True)
    kind = answer_type(schema.type)
    if schema.needs_item:
        items: dict[int, dict[str, Any]] | None = _item_contexts(job, answered)
    else:
        items = _item_fields(job, kind.read_fields, answered) if kind.read_fields else None
    started = time.perf_counter()
    consensus = (
        kind.aggregate(
            schema.schema,
            [item_id for _, item_id, _, _ in counted],
            [worker_id for _, _, worker_id, _ in counted],
            [value for _, _, _, value in counted],
            gold={item_id: key for item_id, key in gold.items() if item_id in answered} or None,
            exclude_workers=list(blocked),
            items=items,
        )
        if rows
        else None
    )
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    last_answer_id = rows[-1][0] if rows else 0
    with transaction.atomic(durable=True):
        JobAggregate.objects.get_or_create(job=job)
        state = JobAggregate.objects.select_for_update().get(job=job)
        if state.last_answer_id > last_answer_id:
            return state, []
        since = state.last_answer_id
        if consensus is not None:
            counts = Counter(item_id for _, item_id, _, _ in rows)
            per_worker = Counter(worker_id for _, _, worker_id, _ in counted)
            _store(job, consensus, set(gold), counts)
            model_quality_store(
                job_id=job.pk,
                models=machines.models,
                worker_ids=consensus.workers.tolist(),
                accuracy=consensus.worker_quality,
                counts=np.array([per_worker[w] for w in consensus.workers.tolist()]),
            )
        state.method = schema.type
        state.last_answer_id, state.n_answers = last_answer_id, len(rows)
        state.n_items = len(people - set(gold))
        state.iterations, state.converged, state.log_likelihood, state.class_priors = 0, True, None, {}
        state.item_scores = _item_scores(consensus)
        state.duration_ms, state.computed_at = elapsed_ms, timezone.now()
        state.save()
        updated = sorted({item_id for answer_id, item_id, _, _ in rows if answer_id > since} - set(gold))
        webhook_emit(job=job, event="results.updated", data=partial(_event, state, updated))
        if consensus is not None and job.overlap_min < job.overlap_max:
            adapt(job)
    workers = [w for w in consensus.workers.tolist() if not is_model(w)] if consensus is not None else []
    return state, workers


def _item_contexts(job: Job, item_ids: set[int]) -> dict[int, dict[str, Any]]:
    """The answered items as a type whose answers depend on them reads them (a text's length), media described."""
    pairs = list(Item.objects.filter(job=job, pk__in=item_ids).order_by("pk").values_list("pk", "payload"))
    contexts = selectors.item_contexts(job=job, payloads=[payload for _, payload in pairs])
    return {pk: context for (pk, _), context in zip(pairs, contexts, strict=True)}


def _item_fields(job: Job, fields: tuple[str, ...], answered: set[int]) -> dict[int, dict[str, str]]:
    """The fields the type reads from each answered item (a pairwise item's two sides), as strings."""
    payloads = Item.objects.filter(job=job).values_list("id", "payload").iterator(chunk_size=2000)
    return {
        item_id: {name: str(payload.get(name)) for name in fields}
        for item_id, payload in payloads
        if item_id in answered
    }


def _item_scores(consensus: Consensus | None) -> dict[str, float]:
    if consensus is None or consensus.items is None or consensus.item_scores is None:
        return {}
    return {
        str(item): round(float(score), 6)
        for item, score in zip(consensus.items.tolist(), consensus.item_scores.tolist(), strict=True)
    }


def _store(job: Job, consensus: Consensus, gold: set[int], counts: Counter[int]) -> None:
    # A type whose answers are lists of parts (boxes, spans) keeps each part's confidence where a class type keeps
    # its posterior, in the order of the answer's parts.
    parts = consensus.part_confidence or [[] for _ in consensus.answers]
    rows = [
        ItemResult(
            item_id=int(item_id),
            job=job,
            label=answer,
            confidence=round(float(confidence), 6),
            posterior=part_confidence,
            answer_count=counts.get(int(item_id), 0),
        )
        for item_id, answer, confidence, part_confidence in zip(
            consensus.tasks.tolist(), consensus.answers, consensus.confidence.tolist(), parts, strict=True
        )
        if int(item_id) not in gold
    ]
    ItemResult.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["item"],
        update_fields=["label", "confidence", "posterior", "answer_count", "updated_at"],
    )
    quality = dict(zip(consensus.workers.tolist(), consensus.worker_quality.tolist(), strict=True))
    changed = list(Participation.objects.filter(job=job, worker_id__in=list(quality)))
    for participation in changed:
        participation.estimated_accuracy = round(float(quality[participation.worker_id]), 6)
    Participation.objects.bulk_update(changed, ["estimated_accuracy"], batch_size=500)


def _event(state: JobAggregate, updated: list[int]) -> dict[str, Any]:
    shown = updated[: settings.WEBHOOK_RESULTS_MAX_ITEMS]
    results = ItemResult.objects.filter(item_id__in=shown).select_related("item")
    items = [
        {"item": r.item_id, "external_id": r.item.external_id, "label": r.label, "confidence": r.confidence}
        for r in results.order_by("item_id")
    ]
    return {**webhook_results_data(state), "updated_items": items, "updated_items_total": len(updated)}
