"""How far a confidence can be trusted: expected calibration error and AUROC of confidence against correctness.

Both take, per item, the confidence a method gave its label and whether that label was right.

- :func:`expected_calibration_error`: items sorted by confidence and cut into ``bins`` groups of equal count (sizes
  differ by at most one); ECE = Σ_b (n_b / n) · |mean confidence_b − accuracy_b|. Equal-count bins keep every bin
  populated when confidences pile up near 1, where equal-width bins would leave most of them empty.
- :func:`auroc`: the probability that a right item has a higher confidence than a wrong one (ties count half),
  the Mann-Whitney statistic; NaN when every item is right or every item is wrong (nothing to rank).

And one way to make a fitted Dawid-Skene's confidence more honest without any truth,
:func:`held_out_temperature` / :func:`tempered_posteriors`: DS treats a task's answers as independent given its
class, but on real crowds they are not (hard items fool several workers at once), so its posteriors overstate. The
log posterior is divided by a temperature τ >= 1 chosen on the job's own answers: each answer is held out in turn,
predicted from the tempered posterior of its task's *other* answers, and τ maximises the mean log-probability of
the held-out answers. Dividing the whole log posterior by τ keeps every label (the argmax does not move).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.errors import InvalidOptionError
from marketplace.aggregation.inputs import Answers, FloatArray
from marketplace.aggregation.matrix import AnswerMatrix
from marketplace.aggregation.results import DawidSkeneResult

#: Candidate temperatures: 1 (no change) to 20, log-spaced; one grid for every job, no per-set tuning.
TEMPERATURES = np.exp(np.linspace(0.0, np.log(20.0), 40))
_MIN_PROBABILITY = 1e-12


def _checked(confidence: npt.ArrayLike, correct: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    conf = np.asarray(confidence, dtype=np.float64).ravel()
    right = np.asarray(correct, dtype=bool).ravel()
    if conf.shape != right.shape:
        raise InvalidOptionError(f"confidence ({conf.size}) and correct ({right.size}) need one entry per item")
    if conf.size and (not np.isfinite(conf).all() or conf.min() < 0 or conf.max() > 1):
        raise InvalidOptionError("confidence must be finite and within [0, 1]")
    return conf, right


def expected_calibration_error(confidence: npt.ArrayLike, correct: npt.ArrayLike, *, bins: int = 10) -> float:
    """ECE over ``bins`` equal-count bins of items sorted by confidence; 0.0 for no item."""
    if bins < 1:
        raise InvalidOptionError("bins must be at least 1")
    conf, right = _checked(confidence, correct)
    if conf.size == 0:
        return 0.0
    # A stable sort keeps tied confidences in input order, so the result is deterministic.
    order = np.argsort(conf, kind="stable")
    total = 0.0
    for chunk in np.array_split(order, min(bins, conf.size)):
        total += chunk.size * abs(conf[chunk].mean() - right[chunk].mean())
    return total / conf.size


def auroc(confidence: npt.ArrayLike, correct: npt.ArrayLike) -> float:
    """P(confidence of a right item > confidence of a wrong one), ties counting half; NaN without both kinds."""
    conf, right = _checked(confidence, correct)
    n_right = int(right.sum())
    n_wrong = conf.size - n_right
    if n_right == 0 or n_wrong == 0:
        return float("nan")
    # Average ranks (1-based) give ties half a win each: the Mann-Whitney U of the right items.
    order = np.argsort(conf, kind="stable")
    sorted_conf = conf[order]
    ranks = np.empty(conf.size, dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_conf[1:] != sorted_conf[:-1]])
    ends = np.r_[starts[1:], conf.size]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    u_right = ranks[right].sum() - n_right * (n_right + 1) / 2.0
    return float(u_right / (n_right * n_wrong))


def softmax_rows(logits: FloatArray) -> FloatArray:
    """Each row of ``logits`` as probabilities (a new array)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def _log_posterior(answers: Answers, fit: DawidSkeneResult) -> tuple[FloatArray, FloatArray]:
    """Unnormalised log posterior per task ``(T, K)`` and each answer's own term ``log π[w, :, l]`` ``(N, K)``."""
    log_confusion = np.log(np.clip(fit.confusions, _MIN_PROBABILITY, 1.0))  # (W, k, l)
    evidence = AnswerMatrix.build(answers).log_evidence(np.ascontiguousarray(log_confusion.transpose(0, 2, 1)))
    evidence += np.log(np.clip(fit.priors, _MIN_PROBABILITY, 1.0))
    return evidence, log_confusion[answers.workers, :, answers.labels]


def log_posterior(answers: Answers, fit: DawidSkeneResult) -> FloatArray:
    """``(T, K)``: each task's unnormalised log posterior under ``fit``'s parameters, from its answers alone (a gold
    task is not clamped here); ``answers`` must be the answers ``fit`` saw."""
    return _log_posterior(answers, fit)[0]


def held_out_temperature(answers: Answers, fit: DawidSkeneResult) -> float:
    """τ in :data:`TEMPERATURES` that best predicts each answer from its task's other answers (see module doc).

    ``answers`` must be the answers ``fit`` was fitted on (after any worker exclusion). A job with no answer gets 1.
    """
    if answers.tasks.size == 0:
        return 1.0
    evidence, own = _log_posterior(answers, fit)
    without_own = evidence[answers.tasks] - own
    own_probability = np.exp(own)
    scores = [np.log((softmax_rows(without_own / tau) * own_probability).sum(axis=1)).mean() for tau in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmax(scores))])


def tempered_posteriors(answers: Answers, fit: DawidSkeneResult) -> tuple[FloatArray, float]:
    """``fit``'s posteriors at :func:`held_out_temperature`, and that τ. Same labels; gold rows stay one-hot."""
    tau = held_out_temperature(answers, fit)
    posteriors = softmax_rows(log_posterior(answers, fit) / tau)
    # A gold (or otherwise certain) task keeps its one-hot row: tempering is about the answers' evidence only.
    certain = fit.posteriors.max(axis=1) >= 1.0
    posteriors[certain] = fit.posteriors[certain]
    return posteriors, tau
