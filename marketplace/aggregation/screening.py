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

One configuration for every job, chosen on synthetic workers, on the real crowds of tests/aggregation/data and on
the demo's job (see tests/aggregation/test_screening.py for the figures). On gold alone, screened after each of 40
gold answers from the 5th, a worker right 70% of the time is blocked 2% of the time on two classes, 1.5% on five;
a constant answerer on two classes is always caught within 30 answers, a random one 62.5% of the time within 40.
A confidence of 0.75 (the rule before real answers were counted) blocked 16.5% and 5.5% of those 70% workers and
caught 83.5% of the random answerers within 40; a uniform prior made the 70% workers' share 35% and 41%.

Gold alone is little evidence: a job holds a few dozen gold items, so a worker who guesses may pass the few they
see, and a good worker may miss half of eight. A worker's answers on the job's real items say more once other
workers answered the same items: `agreement_counts` counts, per true class, how often the worker agreed with what
the *other* answers on each item say (the aggregation's posterior with the worker's own answer divided out: leave
one out, so a worker never vouches for themself), as soft counts, beside the gold answers (clamped items: exact
counts). A real item counts once it has `MIN_OTHERS` other answers that make one class `SURE`: with no other
answer, the posterior is the class prior and would make anyone look like a guesser; on an item the crowd splits
over, agreeing says little, and a good worker who disagrees with a wrong crowd there would be counted wrong.
`screen_evidence` judges gold and real answers together, and real answers alone (a worker who does well on gold and
badly on real items, one who tells gold apart or a lucky guesser, is judged on the work they are paid for).

On the demo (`make demo DEMO_ARGS="--seeds 1-5"`): at 0.9, no real worker right 70% of the time or more is blocked
on any seed and every spammer is kept out on four; at 0.85, two 74% workers were blocked on seed 2; at 0.8,
workers right 86-87% of the time were blocked on their real answers alone, against crowds that were wrong.
Re-measured on 4 December 2026 (seeds 1-5: target met on seeds 1-4; Dawid-Skene 81.4, 82.9, 82.9, 77.1, 72.9%).

What no rule on this evidence can do: seed 5's spam1, a random answerer right on 16 of its 24 gold answers, agrees
with the others on 7.9 of the 15 (soft) real answers that count. Replaying the five jobs' answers and screening at
every aggregation, its highest posterior probability of being below the threshold is 0.63 (gold and real together)
and 0.77 (real alone), while 74% workers (w1756, w1759: sharp on the common class, near chance on the other,
balanced accuracy 0.71-0.72) reach 0.88 (together, seed 2) and 0.88 (alone, seed 1): a bound on either that blocks
spam1 blocks two of them on one seed. The evidence, not the rule, is short: the exact posterior of the worker's two
recalls with every real item's other answers as a mixture likelihood (no `MIN_OTHERS`, no `SURE`) gives spam1 0.58
against a 74% worker's 0.90; the likelihood ratio between a random answerer and a worker at the threshold favours
the worker (its gold alone: 16 of 24). Counting uncertain real items adds little: where the others are unsure, an
answer says how often a worker gives each class, not whether they look. More answers from that worker would: beside
four 80% workers, a random answerer right on 16 of 24 gold is caught 10 times in 40 with 15 real answers and 33 in
40 with 72, a 70% worker once (tests/aggregation/test_screening_agreement.py). (The gold-only rule at 0.75 left out
more of the weak workers, gaining Dawid-Skene 0 to 3 points per seed on the same answers, but blocked three 73-74%
workers, two on seed 2, and let three spammers through. This rule replayed at 0.85, 0.8 or 0.75, or with gold and
real together only, misses the target on some seed: two 74% workers blocked on seed 2, or at 0.85 an 87% worker on
seed 5, whose 8 gold answers were all right, on 6 real answers against a wrong crowd.)

Seed 5 is no exception (measured on 5 December 2026, seeds 6-15): the target is met on 6 of those 10 seeds, no real
worker of 70% or better is blocked on any of the 15, every constant answerer who passes the test is blocked, and 7
of the 29 random answerers who pass it keep working (seeds 5, 6, 6, 10, 11, 11, 13), each after 16 to 32 gold
answers, right on 56 to 67% of them but one (10 of 24, whose 17 real answers that count agreed on 12.75). Other
tests of the same counts do not separate them either. "Answers independent of the truth" (one answer distribution
for every class) against "a recall per class": seed 5's spam1 at the end gives a log Bayes factor of 0.07 for
independence, w1756 and w1759 at their worst on seed 2 0.47 and 0.45. An informativeness bound (mutual information
with the truth, credibly below that of a worker at the threshold) gives spam1 0.65 and w1756 on seed 2 0.86. A third
screen, gold alone, catches seed 13's spammer but, run through the demo over seeds 1-15, keeps as many random
answerers working (another on seed 5); beside four 80% workers it catches 75.0% of random answerers instead of 70.7%
and blocks 7.3% of 70% workers instead of 4.7% (24 gold and 15 real answers each, 300 crowds).

Pure: NumPy and SciPy only. `marketplace.services.screening` reads the answers and acts on the verdict.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from marketplace.aggregation.inputs import Answers
from marketplace.aggregation.results import DawidSkeneResult

PRIOR_RIGHT, PRIOR_WRONG = 2.0, 1.0
BLOCK_CONFIDENCE = 0.9
# Bins per unit of each class's recall: the mean is placed to within 1 / bins (1e-3 for up to 20 classes; 100 classes,
# where a job's gold rarely reaches every class, to 5e-3), at a few milliseconds at most.
GRID, GRID_TOTAL = 1000, 20_000
MIN_OTHERS = 2  # other answers an item needs before agreeing with them counts as evidence about a worker
SURE = 0.9  # ... and how sure those answers must be of one class
TINY = 1e-12


@dataclass(frozen=True)
class GoldScreen:
    """The verdict on one worker's gold answers: per true class answered and right; the posterior mean of their
    balanced accuracy; the posterior probability that it is below the threshold; whether that is enough to block."""

    answered: tuple[float, ...]
    right: tuple[float, ...]
    balanced_accuracy: float
    below_threshold: float
    fails: bool


def gold_screen(
    *, answered: Iterable[float], right: Iterable[float], threshold: float, confidence: float = BLOCK_CONFIDENCE
) -> GoldScreen:
    """Screen a worker from their answers counted per true class (`answered[c]`, `right[c]`: gold counts, or the
    soft counts of `agreement_counts`; classes with less than one answer's worth are left out: they say nothing
    about the worker). No answer at all never fails."""
    pairs = [(float(n), float(k)) for n, k in zip(answered, right, strict=True) if n >= 1]
    if any(k < 0 or k > n + 1e-9 for n, k in pairs):
        raise ValueError("Each class needs 0 <= right <= answered.")
    if not pairs:
        return GoldScreen((), (), float("nan"), 0.0, False)
    pairs = [(n, min(k, n)) for n, k in pairs]
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


Counts = tuple[np.ndarray, np.ndarray]  # (answered, right) per true class


def agreement_counts(
    answers: Answers, result: DawidSkeneResult, gold: np.ndarray, left_out: np.ndarray | None = None
) -> tuple[Counts, Counts]:
    """Per worker and true class, soft counts `(answered, right)`, each `(n_workers, K)`, of the answers the
    aggregation kept, against the truth as the *other* answers on each item say it (see `leave_one_out`): on gold
    items (`gold[t]`; clamped, so these are the exact gold counts) and on real items with `MIN_OTHERS` other
    answers, returned apart: `(gold_counts, real_counts)`. Tasks where `left_out[t]` (e.g. a flagged gold key)
    count for no one."""
    tasks, workers, labels = answers.tasks, answers.workers, answers.labels
    kept = result.worker_answer_counts[workers] > 0
    if left_out is not None:
        kept &= ~left_out[tasks]
    q = leave_one_out(result.posteriors[tasks], result.confusions[workers, :, labels])
    real = ~gold[tasks] & (result.answer_counts[tasks] > MIN_OTHERS) & (q.max(axis=1) >= SURE)
    on_gold, on_real = kept & gold[tasks], kept & real
    return tuple(  # type: ignore[return-value]
        _sum_by(workers[m], labels[m], q[m], answers.n_workers) for m in (on_gold, on_real)
    )


def screen_evidence(
    *, gold: Counts, real: Counts, threshold: float, confidence: float = BLOCK_CONFIDENCE
) -> GoldScreen:
    """One worker's verdict: gold and real answers together; and the real answers alone, so that a worker who
    answers gold well and real items badly (one who tells gold apart, or a lucky guesser) is judged on the work
    they are paid for. The failing screen if either fails (together first), else the joint one."""
    both = gold_screen(answered=gold[0] + real[0], right=gold[1] + real[1], threshold=threshold, confidence=confidence)
    if both.fails:
        return both
    alone = gold_screen(answered=real[0], right=real[1], threshold=threshold, confidence=confidence)
    return alone if alone.fails else both


def worker_agreement_counts(*, posteriors: np.ndarray, labels: np.ndarray, confusion: np.ndarray) -> Counts:
    """One worker's soft counts `(answered, right)` per true class, from the stored posteriors of the items they
    answered (rows of `posteriors`, each computed with their answer `labels[i]` in it) and their stored confusion
    matrix (rows: true class). The caller keeps only items with `MIN_OTHERS` other answers."""
    q = leave_one_out(posteriors, confusion[:, labels].T)
    sure = q.max(axis=1) >= SURE
    answered, right = _sum_by(np.zeros(int(sure.sum()), dtype=np.int64), labels[sure], q[sure], 1)
    return answered[0], right[0]


def leave_one_out(posteriors: np.ndarray, likelihoods: np.ndarray) -> np.ndarray:
    """Each row of `posteriors` with one answer taken back out: divided by that answer's likelihood under each
    true class (`likelihoods[i, c]` = P(this answer | truth c)) and renormalised. Dawid-Skene's posterior is a
    product over the answers, so this is exactly the posterior the other answers (and the class priors) give."""
    q = posteriors / np.maximum(likelihoods, TINY)
    return q / np.maximum(q.sum(axis=1, keepdims=True), TINY)


def _sum_by(rows: np.ndarray, labels: np.ndarray, q: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    answered, right = np.zeros((n_rows, q.shape[1])), np.zeros((n_rows, q.shape[1]))
    np.add.at(answered, rows, q)
    np.add.at(right, (rows, labels), q[np.arange(len(labels)), labels])
    return answered, right
