"""What the other workers' answers say about an appealed assignment: the evidence an automatic overturn needs.

The job's aggregated label of an item counts the appellant's own answer, so on a job with one answer per item it
*is* that answer, and an appeal checked against it would always win. The label that can back an appeal is the one
the other workers' answers determine: the appellant's answers are left out, and so are those of workers blocked
from the job (as the aggregation leaves them out). Each item's label is then the Dawid-Skene posterior of those
answers alone, under the model of the job's last aggregation (each worker's confusion matrix and the class priors:
`marketplace.aggregation.dawid_skene_posteriors`, one E-step over a few dozen answers, never a refit of the job).

An item's label is *determined* when at least `APPEAL_AUTO_MIN_ANSWERS` answers of other workers reach
`APPEAL_AUTO_CONFIDENCE` on one class. The appellant is *backed* on a determined item whose label is their answer.
The share that decides, `agreement`, is backed items over all the assignment's real items (gold left out): an item
nobody else answered, or that the others leave in doubt, never counts for the appellant. The last aggregation's
worker models did see the appellant's answers; that is second order (it shapes how much each other worker is
trusted, not what they answered), and the price of not refitting the job on every appeal.

The engine's other answer types (multi_choice, text, number, pairwise, bbox, spans) have no stored worker model
to reuse: their label of an item is the type's own aggregation (`marketplace.aggregation.types`, through the
registry) of the other workers' answers on the appellant's items alone, a refit over a few dozen answers. It is
*determined* when at least `APPEAL_AUTO_MIN_ANSWERS` answers of other workers back it, and the appellant is *backed*
where their answer passes the type's own grading measure against it (Jaccard, 1 - WER, the tolerance, the order,
boxes matched at the schema's IoU, span F1), as a gold key would.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from django.conf import settings

from marketplace.aggregation import Answers, dawid_skene_posteriors
from marketplace.aggregation.types import answer_type
from marketplace.models import Answer, Assignment, Item, JobAggregate, Participation
from marketplace.schemas import parse_label_schema
from qualification.labels import EngineSchema, LabelSchema, SingleChoice

Others = list[tuple[int, int, Any]]  # (item id, worker id, answer) of the other workers


@dataclass(frozen=True)
class AppealEvidence:
    """Over the assignment's real items: how many there are, how many the other workers' answers determine, and on
    how many of those the label is the appellant's answer."""

    items: int
    determined: int
    backed: int
    rule: str = ""  # when an item's label counts as determined, in words

    @property
    def contradicted(self) -> int:
        return self.determined - self.backed

    @property
    def agreement(self) -> Fraction | None:
        """Backed items over all real items; None while no item is determined (no evidence either way)."""
        return Fraction(self.backed, self.items) if self.determined else None


def appeal_evidence(*, assignment: Assignment) -> AppealEvidence | None:
    """The evidence for the appealed `assignment` (gold left out), or None before the job's first aggregation (no
    worker model yet). Four queries, whatever the size of the job (five for a type that reads its items' fields)."""
    model = JobAggregate.objects.filter(job_id=assignment.job_id, computed_at__isnull=False).first()
    if model is None:
        return None
    schema = parse_label_schema(assignment.job.label_schema)
    mine = dict(Answer.objects.filter(assignment=assignment, is_gold=False).values_list("item_id", "value"))
    blocked = Participation.objects.filter(job_id=assignment.job_id, blocked_at__isnull=False).values("worker_id")
    others = list(
        Answer.objects.filter(item_id__in=list(mine))
        .exclude(worker_id=assignment.worker_id)
        .exclude(worker_id__in=blocked)
        .values_list("item_id", "worker_id", "value")
    )
    items = list(mine)
    determine, rule = _DETERMINE[type(schema)]
    labels = determine(schema, others, items, model, assignment.job_id)
    backed = sum(
        label is not None and schema.is_correct(mine[item_id], label)
        for item_id, label in zip(items, labels, strict=True)
    )
    return AppealEvidence(
        items=len(items), determined=sum(label is not None for label in labels), backed=backed, rule=rule()
    )


def _single_choice_labels(
    schema: LabelSchema, others: Others, items: list[int], model: JobAggregate, job_id: int
) -> list[Any]:
    return _labels(others, items, schema.classes, model, job_id=job_id)


def _single_choice_rule() -> str:
    return (
        f"an item needs {settings.APPEAL_AUTO_MIN_ANSWERS} answers from other workers and "
        f"{settings.APPEAL_AUTO_CONFIDENCE:.0%} confidence in one label"
    )


def _engine_labels(
    schema: LabelSchema, others: Others, items: list[int], model: JobAggregate, job_id: int
) -> list[Any]:
    """The type's own aggregate of the other workers' answers on each item (in `items` order), or None where fewer
    than `APPEAL_AUTO_MIN_ANSWERS` of them answered it."""
    if not others:
        return [None] * len(items)
    assert isinstance(schema, EngineSchema)
    kind = answer_type(schema.type)
    fields = (
        {
            item_id: {name: str(payload.get(name)) for name in kind.read_fields}
            for item_id, payload in Item.objects.filter(id__in=items).values_list("id", "payload")
        }
        if kind.read_fields
        else None
    )
    consensus = kind.aggregate(
        schema.schema,
        [item_id for item_id, _, _ in others],
        [worker_id for _, worker_id, _ in others],
        [value for _, _, value in others],
        items=fields,
    )
    label_of = dict(zip(consensus.tasks.tolist(), consensus.answers, strict=True))
    counts = Counter(item_id for item_id, _, _ in others)
    return [label_of[item_id] if counts[item_id] >= settings.APPEAL_AUTO_MIN_ANSWERS else None for item_id in items]


def _engine_rule() -> str:
    return (
        f"an item needs {settings.APPEAL_AUTO_MIN_ANSWERS} answers from other workers, whose aggregate the "
        "worker's answer must pass as a gold key"
    )


# How each kind of label schema determines an item's label from the other workers' answers, and that rule in words.
_DETERMINE: dict[
    type, tuple[Callable[[LabelSchema, Others, list[int], JobAggregate, int], list[Any]], Callable[[], str]]
] = {
    SingleChoice: (_single_choice_labels, _single_choice_rule),
    EngineSchema: (_engine_labels, _engine_rule),
}


def _labels(
    others: list[tuple[int, int, object]],
    items: list[int],
    classes: tuple[str, ...],
    model: JobAggregate,
    *,
    job_id: int,
) -> list[str | None]:
    """The label the other workers' answers determine on each item (in `items` order), or None."""
    if not others:
        return [None] * len(items)
    index: dict[object, int] = {label: k for k, label in enumerate(classes)}
    worker_ids = sorted({worker_id for _, worker_id, _ in others})
    task_of, worker_of = {item_id: t for t, item_id in enumerate(items)}, {w: i for i, w in enumerate(worker_ids)}
    answers = Answers(
        tasks=np.array([task_of[item_id] for item_id, _, _ in others], dtype=np.int64),
        workers=np.array([worker_of[worker_id] for _, worker_id, _ in others], dtype=np.int64),
        labels=np.array([index[value] for _, _, value in others], dtype=np.int64),
        n_tasks=len(items),
        n_workers=len(worker_ids),
        n_classes=len(classes),
    )
    posteriors = dawid_skene_posteriors(
        answers, confusions=_confusions(job_id, worker_ids, len(classes)), priors=_priors(model, classes)
    )
    counts = np.bincount(answers.tasks, minlength=len(items))
    sure = (counts >= settings.APPEAL_AUTO_MIN_ANSWERS) & (posteriors.max(axis=1) >= settings.APPEAL_AUTO_CONFIDENCE)
    return [classes[int(k)] if ok else None for k, ok in zip(posteriors.argmax(axis=1), sure, strict=True)]


def _confusions(job_id: int, worker_ids: list[int], n_classes: int) -> np.ndarray:
    """Each worker's confusion matrix from the last aggregation; NaN (the engine's prior mean) for one it has none
    of, or one fitted before the label schema had its present shape."""
    fitted = dict(
        Participation.objects.filter(job_id=job_id, worker_id__in=worker_ids).values_list("worker_id", "confusion")
    )
    matrices = np.full((len(worker_ids), n_classes, n_classes), np.nan)
    for w, worker_id in enumerate(worker_ids):
        matrix = np.array(fitted.get(worker_id) or [], dtype=np.float64)
        if matrix.shape == (n_classes, n_classes):
            matrices[w] = matrix
    return matrices


def _priors(model: JobAggregate, classes: tuple[str, ...]) -> np.ndarray:
    stored = model.class_priors or {}
    priors = np.array([float(stored.get(label, 0.0)) for label in classes])
    return priors if priors.sum() > 0 else np.full(len(classes), 1.0 / len(classes))
