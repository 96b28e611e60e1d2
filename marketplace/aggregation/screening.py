"""Screening a worker on gold: is their class-balanced accuracy credibly below a job's threshold?

Raw gold accuracy cannot tell a constant answerer from a good worker: on two classes, "always answer A" is right on
every gold item of class A. The class-balanced accuracy, the mean over the true classes of the share answered right
(each class's recall), can: any answerer who ignores the item (constant, random, or any mix) has a recall of q_c on
class c, where q_c is how often they give c, and the mean of those is 1/K whatever q is. A worker who looks at the
items scores their real accuracy (when their errors do not favour one class).

Each class's recall gets a Beta(2, 1) prior (a new worker starts at 2/3 on every class, as the platform's smoothed
gold accuracy does); the posterior of the mean of K independent Beta posteriors is computed on a grid (the sum of K
variables on [0, 1] is the convolution of their densities). A worker fails when the posterior probability that
their balanced accuracy is below the threshold reaches `BLOCK_CONFIDENCE`: a block needs evidence, so a few unlucky
answers early on do not block a good worker, and the evidence against one who answers without looking keeps growing
until it does.

One configuration for every job, chosen on synthetic workers and on the real crowds of tests/aggregation/data (see
tests/aggregation/test_screening.py for the figures). Screened after each of 40 gold answers from the 5th, a worker
right 70% of the time is blocked 17% of the time on two classes, 6% on five; a uniform prior made that 35% and 41%,
a confidence of 1/2 41% and 22%; a confidence of 0.9 let every constant answerer on two classes through 20 gold
answers, and 38% of the random ones through 40 (0.75: none, and 17%).

Pure: NumPy and SciPy only. `marketplace.services.quality` counts the answers and acts on the verdict.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

PRIOR_RIGHT, PRIOR_WRONG = 2.0, 1.0
BLOCK_CONFIDENCE = 0.75
# Bins per unit of each class's recall: the mean is placed to within 1 / bins (1e-3 for up to 20 classes; 100 classes,
# where a job's gold rarely reaches every class, to 5e-3), at a few milliseconds at most.
GRID, GRID_TOTAL = 1000, 20_000


@dataclass(frozen=True)
class GoldScreen:
    """The verdict on one worker's gold answers: per true class answered and right; the posterior mean of their
    balanced accuracy; the posterior probability that it is below the threshold; whether that is enough to block."""

    answered: tuple[int, ...]
    right: tuple[int, ...]
    balanced_accuracy: float
    below_threshold: float
    fails: bool


def gold_screen(
    *, answered: Sequence[int], right: Sequence[int], threshold: float, confidence: float = BLOCK_CONFIDENCE
) -> GoldScreen:
    """Screen a worker from their gold answers counted per true class (`answered[c]`, `right[c]`; classes with no
    gold answer are left out: they say nothing about the worker). No answer at all never fails."""
    pairs = [(int(n), int(k)) for n, k in zip(answered, right, strict=True) if n > 0]
    if any(k < 0 or k > n for n, k in pairs):
        raise ValueError("Each class needs 0 <= right <= answered.")
    if not pairs:
        return GoldScreen((), (), float("nan"), 0.0, False)
    alpha = np.array([k + PRIOR_RIGHT for n, k in pairs])
    beta = np.array([n - k + PRIOR_WRONG for n, k in pairs])
    mean = float(np.mean(alpha / (alpha + beta)))
    below = _mean_below(alpha, beta, threshold)
    return GoldScreen(
        answered=tuple(n for n, _ in pairs),
        right=tuple(k for _, k in pairs),
        balanced_accuracy=mean,
        below_threshold=below,
        fails=below >= confidence,
    )


def _mean_below(alpha: np.ndarray, beta: np.ndarray, threshold: float) -> float:
    """P(mean of independent Beta(alpha_c, beta_c) < threshold): each density as masses on GRID bins, their sum's
    distribution by one FFT convolution, read up to K * threshold."""
    k = len(alpha)
    if k == 1:
        return float(stats.beta.cdf(threshold, alpha[0], beta[0]))
    bins = min(GRID, GRID_TOTAL // k)
    edges = np.linspace(0.0, 1.0, bins + 1)
    masses = np.diff(stats.beta.cdf(edges[None, :], alpha[:, None], beta[:, None]), axis=1)
    size = k * bins
    spectrum = np.prod(np.fft.rfft(masses, n=size), axis=0)
    total = np.clip(np.fft.irfft(spectrum, n=size), 0.0, None)
    # Bin j of a class holds [j, j + 1) / bins: the sum of the K bin indices s covers [s, s + K) / bins, centred
    # on (s + K / 2) / bins.
    centres = (np.arange(size) + k / 2) / bins
    return float(min(1.0, total[centres < k * threshold].sum()))
