"""The worker model a single-choice job's aggregation fits (`Job.worker_model`): full Dawid-Skene (the default),
one-coin or class one-coin, pinned; or `auto`, where each run first cross-validates the three over its own answers
(`aggregation.model_choice`: 5 folds, gold clamped, blocked workers left out; 15 extra fits, so only for `auto`) and
fits the one that best predicts held-out answers. The result says which model ran and why, for `JobAggregate`.

The items' confidence is the fit's, calibrated against the job's gold once it has `MIN_GOLD` answered gold items
(`aggregation.gold_calibration`: a temperature learned from cross-fitted gold, each gold item judged by a fit of the
same worker model that did not clamp it; five more fits per run). Labels never move; the workers' estimates, and
the screening that reads the fit, stay the fit's own."""

from dataclasses import dataclass, replace

import numpy as np

from marketplace.aggregation import Answers, DawidSkeneResult
from marketplace.aggregation.gold_calibration import MIN_GOLD, gold_calibrated_posteriors
from marketplace.aggregation.model_choice import MODELS, choose_model
from marketplace.models import Job, WorkerModel

PINNED = "pinned by the requester"
TOO_FEW = "chosen: too few answers to cross-validate, the model with fewest parameters"


@dataclass(frozen=True)
class Fit:
    """A run's Dawid-Skene fit and the worker model it used (a `WorkerModel` value, never `auto`): why, and under
    `auto` each candidate's held-out score (None where the answers were too few to cross-validate)."""

    result: DawidSkeneResult
    model: str
    reason: str
    scores: dict[str, float | None]
    items: DawidSkeneResult  # what the items get: `result` with its posteriors calibrated on gold where it can be
    calibration: dict[str, float | int] | None  # how (gold used and right, temperatures), or None: the fit's own


def _calibrated(
    result: DawidSkeneResult, answers: Answers, gold: dict[int, int], excluded: np.ndarray, model: str
) -> tuple[DawidSkeneResult, dict[str, float | int] | None]:
    answered = sum(1 for task in gold if result.answer_counts[task])
    if answered < MIN_GOLD:  # too little gold: the fit's own confidence, and no extra fits
        return result, None
    calibration = gold_calibrated_posteriors(
        answers.without_workers(excluded),
        result,
        gold,
        refit=lambda tasks, labels: MODELS[model](answers, gold=(tasks, labels), exclude_workers=excluded),
    )
    summary = {
        "gold": calibration.gold_used,
        "gold_right": calibration.gold_right,
        "temperature": round(calibration.temperature, 4),
        "answer_temperature": round(calibration.prior_temperature, 4),
    }
    items = replace(result, posteriors=calibration.posteriors, confidence=calibration.confidence)
    return items, summary


def worker_model_fit(
    *, job: Job, answers: Answers, gold: dict[int, int], excluded: np.ndarray, init_posteriors: np.ndarray | None
) -> Fit:
    """Fit the job's worker model on `answers` (`gold`: task -> class, clamped; `excluded`: worker indices left
    out; `init_posteriors`: the warm start)."""
    model, reason, scores = job.worker_model, PINNED, dict[str, float | None]()
    if model == WorkerModel.AUTO:
        model, reason, scores = _choose(answers, gold, excluded)
    result = MODELS[model](answers, gold=gold or None, exclude_workers=excluded, init_posteriors=init_posteriors)
    items, calibration = _calibrated(result, answers, gold, excluded, model)
    return Fit(result, model, reason, scores, items, calibration)


def _choose(answers: Answers, gold: dict[int, int], excluded: np.ndarray) -> tuple[str, str, dict[str, float | None]]:
    """The cross-validated choice, on the answers in a canonical order (by task, worker, label), so that the folds,
    drawn by position, do not depend on the order the database returned the rows in."""
    kept = answers.subset(~np.isin(answers.workers, excluded))
    order = np.lexsort((kept.labels, kept.workers, kept.tasks))
    canonical = Answers(
        tasks=kept.tasks[order],
        workers=kept.workers[order],
        labels=kept.labels[order],
        n_tasks=kept.n_tasks,
        n_workers=kept.n_workers,
        n_classes=kept.n_classes,
    )
    choice = choose_model(canonical, gold=gold or None)
    scores = {name: score if np.isfinite(score) else None for name, score in choice.held_out_log_likelihood.items()}
    if None in scores.values():  # fewer answers than folds: nothing to cross-validate
        return choice.model, TOO_FEW, scores
    return choice.model, f"chosen: {choice.reason}", scores
