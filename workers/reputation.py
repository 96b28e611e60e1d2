"""A worker's platform-wide reputation in [0, 1]: pure Python, no Django, no I/O.

The marketplace computes the inputs (it owns gold grading results, aggregation and reviews) and calls
`workers.services.worker_reputation_update`, which stores the score this module computes.

Inputs: ``Gr`` right of ``Gn`` graded gold answers; ``D``, the Dawid-Skene estimated accuracy, an answer-weighted mean
over the worker's aggregated jobs, based on ``Dn`` answers (``Dn`` counts as 0 while ``D`` is None: no aggregation
yet); ``A`` approved of ``R`` reviewed assignments. ::

    g = (Gr + 2) / (Gn + 3)            gold accuracy, Beta(2, 1) prior
    d = (Dn·D + 10·g) / (Dn + 10)      Dawid-Skene accuracy shrunk toward g (d = g with no aggregation yet)
    a = (A + 4) / (R + 5)              approval rate, Beta(4, 1) prior

    Each estimate counts for the evidence behind it, its prior included; a Dawid-Skene answer counts ¼ of a gold
    answer (it is an estimate, not a known truth, and colluding workers can inflate it):
    wg = Gn + 3        wd = ¼·(Dn + 10)        wa = R + 5        n = wg + wd + wa
    q = (wg·g + wd·d + wa·a) / n       quality: evidence-weighted mean of the three estimates
    c = n / (n + 20)                   confidence from volume
    reputation = c·q + (1 − c)·½       a newcomer is pulled toward the neutral ½

Because each ``w·estimate`` is a count of (pseudo-)successes, this is one pooled Beta posterior mean with a neutral
prior worth 20 answers:

    reputation = (Gr + 2 + ¼·(Dn·D + 10·g) + A + 4 + 10) / (Gn + 3 + ¼·(Dn + 10) + R + 5 + 20)

Properties (tested): always in [0, 1]; a right gold answer, an approval or a higher D never lowers it; a wrong gold
answer or a rejection never raises it; a brand-new worker scores 106/183 ≈ 0.579 and a worker with little evidence
stays below a proven good one.

Why weight by evidence rather than fixed shares (say 40/30/30 %): with fixed shares, the confidence ``c`` grows with
every review while ``q`` barely moves, so a brand-new worker's first *rejection* would raise the score (0.500 ->
0.508). Weighting each estimate by its evidence makes the whole a posterior mean, where a failure can only lower it.
The sum is taken in exact rational arithmetic and rounded once, so those properties hold for the returned floats too.
"""

from dataclasses import dataclass
from fractions import Fraction

GOLD_PRIOR = (2, 1)  # Beta(right, wrong) pseudo-answers
APPROVAL_PRIOR = (4, 1)  # Beta(approved, rejected) pseudo-reviews
DS_SHRINK_ANSWERS = 10  # the gold estimate counts as this many Dawid-Skene answers
DS_ANSWER_WEIGHT = Fraction(1, 4)  # one Dawid-Skene answer, in gold answers
NEUTRAL = Fraction(1, 2)
NEUTRAL_WEIGHT = 20  # the neutral prior, in gold answers


@dataclass(frozen=True, slots=True)
class ReputationEvidence:
    """What the marketplace knows about one worker; validated on construction (ValueError)."""

    gold_right: int
    gold_answered: int
    ds_accuracy: float | None
    ds_answers: int
    approved: int
    reviewed: int

    def __post_init__(self) -> None:
        if not 0 <= self.gold_right <= self.gold_answered:
            raise ValueError(f"need 0 <= gold_right <= gold_answered, got {self.gold_right}, {self.gold_answered}")
        if not 0 <= self.approved <= self.reviewed:
            raise ValueError(f"need 0 <= approved <= reviewed, got {self.approved}, {self.reviewed}")
        if self.ds_answers < 0:
            raise ValueError(f"need ds_answers >= 0, got {self.ds_answers}")
        if self.ds_accuracy is not None and not 0.0 <= self.ds_accuracy <= 1.0:  # also refuses NaN
            raise ValueError(f"need 0 <= ds_accuracy <= 1, got {self.ds_accuracy}")

    def score(self) -> float:
        """The reputation, by the formula in the module docstring."""
        gold_wins, gold_trials = self.gold_right + GOLD_PRIOR[0], self.gold_answered + sum(GOLD_PRIOR)
        g = Fraction(gold_wins, gold_trials)
        ds_answers = 0 if self.ds_accuracy is None else self.ds_answers
        ds_wins = ds_answers * Fraction(self.ds_accuracy or 0.0) + DS_SHRINK_ANSWERS * g
        ds_trials = ds_answers + DS_SHRINK_ANSWERS
        wins = gold_wins + DS_ANSWER_WEIGHT * ds_wins + self.approved + APPROVAL_PRIOR[0] + NEUTRAL * NEUTRAL_WEIGHT
        trials = gold_trials + DS_ANSWER_WEIGHT * ds_trials + self.reviewed + sum(APPROVAL_PRIOR) + NEUTRAL_WEIGHT
        return float(wins / trials)


def reputation_score(
    *, gold_right: int, gold_answered: int, ds_accuracy: float | None, ds_answers: int, approved: int, reviewed: int
) -> float:
    """A worker's reputation in [0, 1] (formula in the module docstring). Raises ValueError on impossible inputs;
    `ds_answers` is ignored while `ds_accuracy` is None."""
    evidence = ReputationEvidence(
        gold_right=gold_right,
        gold_answered=gold_answered,
        ds_accuracy=ds_accuracy,
        ds_answers=ds_answers,
        approved=approved,
        reviewed=reviewed,
    )
    return evidence.score()
