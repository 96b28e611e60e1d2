"""How far a confidence can be trusted: expected calibration error and AUROC of confidence against correctness.

Both take, per item, the confidence a method gave its label and whether that label was right.

- :func:`expected_calibration_error`: items sorted by confidence and cut into ``bins`` groups of equal count (sizes
  differ by at most one); ECE = Σ_b (n_b / n) · |mean confidence_b − accuracy_b|. Equal-count bins keep every bin
  populated when confidences pile up near 1, where equal-width bins would leave most of them empty.
- :func:`auroc`: the probability that a right item has a higher confidence than a wrong one (ties count half),
  the Mann-Whitney statistic; NaN when every item is right or every item is wrong (nothing to rank).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.errors import InvalidOptionError


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
