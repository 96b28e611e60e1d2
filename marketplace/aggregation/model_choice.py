"""Which worker model fits a job: cross-validation over its answers.

Each candidate (one-coin Dawid-Skene; class-conditional one-coin, an accuracy per worker and true class, in between;
full Dawid-Skene) is fitted ``folds`` times, each time without one fold of
the answers (folds drawn at random, fixed seed); every held-out answer (worker w, task t, label l) is then predicted
from the posterior of t given the answers the fit saw, ``P(l) = Σ_k T[t, k] π[w, k, l]``. The candidate with the
highest mean log-probability of held-out answers wins. Unlike the fit's own likelihood, this does not reward a
model for having more parameters: a full confusion matrix per worker wins only where the job has answers enough to
estimate it. A worker or task that the fit did not see is predicted from the prior mean / class priors, as DS rates
them. Gold tasks, when given, stay clamped to their known class in every fit, so a held-out answer on a gold task is
scored against the truth, ``P(l) = π[w, gold, l]``: where there is gold, the choice weighs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from marketplace.aggregation.em import class_one_coin_dawid_skene, dawid_skene, one_coin_dawid_skene
from marketplace.aggregation.errors import InvalidOptionError
from marketplace.aggregation.inputs import Answers, GoldInput
from marketplace.aggregation.results import DawidSkeneResult

# Each takes the answers and the keyword arguments of `dawid_skene` (gold, exclude_workers, init_posteriors, ...).
# Simplest first: a tie goes to the model with fewer parameters (on two classes, class one-coin is full DS).
MODELS: dict[str, Callable[..., DawidSkeneResult]] = {
    "one_coin": one_coin_dawid_skene,
    "class_one_coin": class_one_coin_dawid_skene,
    "dawid_skene": dawid_skene,
}
# Scores closer than this (relative) are a tie: the same model fitted twice differs by rounding, not by evidence.
TIE = 1e-9


@dataclass(frozen=True)
class ModelChoice:
    """``model``: the name in :data:`MODELS` chosen; ``held_out_log_likelihood``: each candidate's mean
    log-probability per held-out answer (the evidence for the choice, higher is better)."""

    model: str
    held_out_log_likelihood: dict[str, float]

    @property
    def reason(self) -> str:
        scores = ", ".join(f"{name} {score:.4f}" for name, score in self.held_out_log_likelihood.items())
        return f"best mean log-probability of held-out answers ({scores})"


def choose_model(answers: Answers, *, folds: int = 5, seed: int = 0, gold: GoldInput | None = None) -> ModelChoice:
    """Cross-validate every model of :data:`MODELS` on ``answers``; the best wins (ties: the simpler, listed first).
    ``gold``: task -> known class, clamped in every fit (as ``dawid_skene`` takes it).

    A job with fewer answers than folds gets one-coin, the model with fewest parameters, and NaN scores.
    """
    if folds < 2:
        raise InvalidOptionError("folds must be at least 2")
    if answers.tasks.size < folds:
        return ModelChoice("one_coin", {name: float("nan") for name in MODELS})
    fold_of = np.random.default_rng(seed).permutation(answers.tasks.size) % folds
    scores: dict[str, float] = {}
    for name, fit in MODELS.items():
        total = 0.0
        for fold in range(folds):
            held = fold_of == fold
            result = fit(answers.subset(~held), gold=gold)
            tasks, workers, labels = answers.tasks[held], answers.workers[held], answers.labels[held]
            predicted = np.einsum("nk,nk->n", result.posteriors[tasks], result.confusions[workers, :, labels])
            total += float(np.log(np.maximum(predicted, 1e-12)).sum())
        scores[name] = total / answers.tasks.size
    top = max(scores.values())
    best = next(name for name, score in scores.items() if score >= top - TIE * abs(top))
    return ModelChoice(best, scores)
