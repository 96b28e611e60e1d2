"""Inter-annotator agreement: Krippendorff's alpha (nominal for classes, interval for numbers) and Fleiss' kappa,
each with a bootstrap confidence interval over the items, and per class for categorical answers.

Both are computed from per-item sums, so the bootstrap (items drawn with replacement, `BOOTSTRAP_SAMPLES` times,
from a fixed seed) is a matrix product of resampling counts with those sums, not a loop over resamples.

- Krippendorff's alpha = 1 - D_o / D_e over the items with at least two answers ("pairable" values): D_o, the
  disagreement within items (each item's pairs weighted 1 / (m_u - 1)), D_e the disagreement between all pairable
  values. Nominal: a pair disagrees or not; interval: the squared difference. Any number of answers per item.
- Fleiss' kappa = (P - P_e) / (1 - P_e): P the mean over items of the share of agreeing answer pairs, P_e the sum of
  squared class shares. With the same number of answers on every item this is Fleiss (1971) exactly (what
  statsmodels computes); with different numbers, each item's own pair share is used (its usual generalisation).
- Per class: the same statistic on "class c or not" (for kappa, Fleiss's per-category kappa when answers per item
  are equal).

A statistic that is undefined (no pairable item, or no expected disagreement: every answer the same) is NaN, and so
is its interval. Pure: NumPy only.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED, LEVEL = 1000, 0, 0.95


@dataclass(frozen=True)
class Estimate:
    """A statistic, its bootstrap confidence interval at LEVEL (percentile), and the items it was computed on."""

    value: float
    low: float
    high: float
    items: int

    def as_dict(self) -> dict[str, float | int | None]:
        def clean(x: float) -> float | None:
            return None if np.isnan(x) else round(float(x), 6)

        return {"value": clean(self.value), "low": clean(self.low), "high": clean(self.high), "items": self.items}


@dataclass(frozen=True)
class CategoricalAgreement:
    alpha: Estimate
    kappa: Estimate
    alpha_per_class: tuple[Estimate, ...]
    kappa_per_class: tuple[Estimate, ...]


def categorical_agreement(
    *, tasks: np.ndarray, labels: np.ndarray, n_tasks: int, n_classes: int, samples: int = BOOTSTRAP_SAMPLES
) -> CategoricalAgreement:
    """Nominal alpha and Fleiss' kappa, overall and per class, of answers `labels[i]` (0..K-1) on `tasks[i]`."""
    counts = np.zeros((n_tasks, n_classes))
    np.add.at(counts, (tasks, labels), 1.0)
    counts = counts[counts.sum(axis=1) >= 2]
    weights = _resampling(len(counts), samples)
    binary = [np.stack([counts[:, c], counts.sum(axis=1) - counts[:, c]], axis=1) for c in range(n_classes)]
    return CategoricalAgreement(
        alpha=_estimate(_nominal_alpha, counts, weights),
        kappa=_estimate(_fleiss_kappa, counts, weights),
        alpha_per_class=tuple(_estimate(_nominal_alpha, b, weights) for b in binary),
        kappa_per_class=tuple(_estimate(_fleiss_kappa, b, weights) for b in binary),
    )


def interval_alpha(
    *, tasks: np.ndarray, values: np.ndarray, n_tasks: int, samples: int = BOOTSTRAP_SAMPLES
) -> Estimate:
    """Krippendorff's alpha with the interval metric, (a - b)^2, of numeric answers `values[i]` on `tasks[i]`."""
    m, s1, s2 = (np.bincount(tasks, weights=w, minlength=n_tasks) for w in (np.ones(len(values)), values, values**2))
    sums = np.stack([m, s1, s2], axis=1)[m >= 2]
    return _estimate(_interval_alpha, sums, _resampling(len(sums), samples))


def _nominal_alpha(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row of `weights` (how often each item is drawn): alpha from per-item class counts n_uc."""
    m = counts.sum(axis=1)
    within = (m**2 - (counts**2).sum(axis=1)) / (m - 1)  # sum over ordered pairs that disagree, weighted
    n = weights @ m
    observed = (weights @ within) / n
    totals = weights @ counts  # n_c per resample
    expected = (n**2 - (totals**2).sum(axis=1)) / (n * (n - 1))
    return _one_minus_ratio(observed, expected)


def _interval_alpha(sums: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-item (m, sum v, sum v^2): within an item, the ordered pairs' squared differences sum to
    2 (m sum v^2 - (sum v)^2); over all pairable values, the same with the totals."""
    m, s1, s2 = sums.T
    n, t1, t2 = weights @ m, weights @ s1, weights @ s2
    observed = (weights @ (2 * (m * s2 - s1**2) / (m - 1))) / n
    expected = 2 * (n * t2 - t1**2) / (n * (n - 1))
    return _one_minus_ratio(observed, expected)


def _fleiss_kappa(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    m = counts.sum(axis=1)
    pair_share = ((counts * (counts - 1)).sum(axis=1)) / (m * (m - 1))
    agreement = (weights @ pair_share) / weights.sum(axis=1)
    shares = (weights @ counts) / (weights @ m)[:, None]
    chance = (shares**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (agreement - chance) / (1 - chance)
    return np.where(np.isclose(chance, 1.0), np.nan, kappa)


def _one_minus_ratio(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 1e-12, 1 - observed / expected, np.nan)


def _resampling(n_items: int, samples: int) -> np.ndarray:
    """Row 0: every item once (the statistic itself); rows 1..samples: multinomial draws of n_items items."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = rng.multinomial(n_items, np.full(n_items, 1 / n_items), size=samples) if n_items else np.zeros((samples, 0))
    return np.vstack([np.ones((1, n_items)), draws]).astype(float)


Statistic = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (per-item data, resampling weights) -> per resample


def _estimate(statistic: Statistic, data: np.ndarray, weights: np.ndarray) -> Estimate:
    if len(data) == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    values = statistic(data, weights)
    boot = values[1:][~np.isnan(values[1:])]
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail]) if len(boot) else (np.nan, np.nan)
    return Estimate(float(values[0]), float(low), float(high), len(data))
