"""The screen's second source of evidence: a worker's agreement with the other answers on real items, counted per
true class from Dawid-Skene's posteriors with the worker's own answer taken out. Pure: no database."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.aggregation import Answers, dawid_skene
from marketplace.aggregation.screening import (
    MIN_OTHERS,
    SURE,
    agreement_counts,
    gold_screen,
    leave_one_out,
    screen_evidence,
    worker_agreement_counts,
)

THRESHOLD = 0.6  # a job's default gold_block_threshold


def test_taking_an_answer_out_divides_the_posterior_by_its_likelihood():
    # Posterior (0.9, 0.1) with the answer "0" in it, that answer's likelihood 0.9 under truth 0 and 0.2 under
    # truth 1: the others alone say (0.9 / 0.9, 0.1 / 0.2) = (1, 0.5), i.e. (2/3, 1/3).
    q = leave_one_out(np.array([[0.9, 0.1]]), np.array([[0.9, 0.2]]))

    np.testing.assert_allclose(q, [[2 / 3, 1 / 3]])


def test_one_workers_counts_are_soft_counts_per_true_class_on_items_the_others_are_sure_of():
    # Three items: the others say (0.95, 0.05), the worker answered 0; (0.04, 0.96), the worker answered 1;
    # (0.6, 0.4), the worker answered 1: the others are not sure enough (SURE), so the third is left out.
    confusion = np.array([[0.9, 0.1], [0.2, 0.8]])
    labels = np.array([0, 1, 1])
    # Posteriors as the aggregation stored them, the worker's answer in: others times that answer's likelihood.
    others = np.array([[0.95, 0.05], [0.04, 0.96], [0.6, 0.4]])
    stored = others * confusion[:, labels].T
    stored /= stored.sum(axis=1, keepdims=True)

    answered, right = worker_agreement_counts(posteriors=stored, labels=labels, confusion=confusion)

    assert SURE == 0.9
    np.testing.assert_allclose(answered, [0.95 + 0.04, 0.05 + 0.96])
    np.testing.assert_allclose(right, [0.95, 0.96])


def crowd(seed: int, n_items: int = 240, n_gold: int = 20):
    """Eight honest workers (80% right) answer every item; then a 70% worker, a constant answerer (always class 0)
    and a random answerer each answer every item too. Two classes, balanced; the first `n_gold` items are gold."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n_items)
    accuracy = [0.8] * 8 + [0.7]
    given = [np.where(rng.random(n_items) < a, truth, 1 - truth) for a in accuracy]
    given += [np.zeros(n_items, dtype=int), rng.integers(0, 2, n_items)]
    n_workers = len(given)
    answers = Answers(
        tasks=np.tile(np.arange(n_items), n_workers),
        workers=np.repeat(np.arange(n_workers), n_items),
        labels=np.concatenate(given),
        n_tasks=n_items,
        n_workers=n_workers,
        n_classes=2,
    )
    gold = np.zeros(n_items, dtype=bool)
    gold[:n_gold] = True
    result = dawid_skene(answers, gold={t: int(truth[t]) for t in range(n_gold)})
    return answers, result, gold


# 240 items: a random answerer's agreement is 0.5 give or take 0.03, and the default threshold (0.6) is close to it;
# over seeds 0-29 the verdicts below hold on all but one (seed 17: the random answerer scores 0.57, not sure enough).
@pytest.mark.parametrize("seed", range(5))
def test_on_real_answers_a_constant_and_a_random_answerer_fail_and_a_seventy_percent_worker_does_not(seed):
    answers, result, gold = crowd(seed)
    on_gold, on_real = agreement_counts(answers, result, gold)
    verdicts = [
        screen_evidence(gold=(on_gold[0][w], on_gold[1][w]), real=(on_real[0][w], on_real[1][w]), threshold=THRESHOLD)
        for w in range(11)
    ]

    assert [v.fails for v in verdicts] == [False] * 9 + [True, True]
    assert abs(verdicts[8].balanced_accuracy - 0.7) < 0.1
    assert abs(verdicts[9].balanced_accuracy - 0.5) < 0.1 and abs(verdicts[10].balanced_accuracy - 0.5) < 0.1


def test_gold_answers_count_exactly_and_real_items_need_enough_other_answers():
    # Item 0 is gold (key 1) answered by worker 0 alone; item 1 is real with MIN_OTHERS other answers; item 2 is
    # real with one other answer only: it is left out.
    tasks = np.array([0, 1, 1, 1, 2, 2])
    workers = np.array([0, 0, 1, 2, 0, 1])
    answers = Answers(
        tasks=tasks, workers=workers, labels=np.array([1, 0, 0, 0, 1, 0]), n_tasks=3, n_workers=3, n_classes=2
    )
    gold = np.array([True, False, False])
    result = dawid_skene(answers, gold={0: 1})
    (gold_answered, gold_right), (real_answered, _) = agreement_counts(answers, result, gold)

    assert MIN_OTHERS == 2
    # Worker 0: the gold item exactly (true class 1, right); item 1's soft counts sum to one answer.
    np.testing.assert_allclose(gold_answered[0], [0.0, 1.0])
    np.testing.assert_allclose(gold_right[0], [0.0, 1.0])
    assert real_answered[0].sum() == pytest.approx(1.0)
    # Worker 1 answered items 1 and 2: only item 1 counts.
    assert real_answered[1].sum() == pytest.approx(1.0) and gold_answered[1].sum() == 0
    # A flagged gold key counts for no one.
    (flagged_gold, _), _ = agreement_counts(answers, result, gold, left_out=np.array([True, False, False]))
    assert flagged_gold[0].sum() == 0


def test_the_one_worker_form_agrees_with_the_whole_crowd_form():
    answers, result, gold = crowd(7)
    _, (answered, right) = agreement_counts(answers, result, np.zeros_like(gold))
    mine = answers.workers == 8
    alone = worker_agreement_counts(
        posteriors=result.posteriors[answers.tasks[mine]], labels=answers.labels[mine], confusion=result.confusions[8]
    )

    np.testing.assert_allclose(alone[0], answered[8])
    np.testing.assert_allclose(alone[1], right[8])


def test_a_worker_right_on_gold_and_wrong_on_real_items_is_judged_on_the_real_ones():
    # 16 of 20 gold right (what a lucky guesser or a gold spotter shows), 7 of 20 real items right: together 23/40
    # is not enough to be sure at the default confidence; the real answers alone are.
    gold = (np.array([10.0, 10.0]), np.array([8.0, 8.0]))
    real = (np.array([10.0, 10.0]), np.array([3.5, 3.5]))

    together = gold_screen(answered=gold[0] + real[0], right=gold[1] + real[1], threshold=0.65)
    verdict = screen_evidence(gold=gold, real=real, threshold=0.65)

    assert not together.fails
    assert verdict.fails and verdict.answered == (10.0, 10.0)


def test_a_worker_with_unlucky_gold_and_good_real_answers_is_not_blocked():
    gold = (np.array([4.0, 4.0]), np.array([2.0, 1.0]))  # 3 of 8 gold right
    real = (np.array([12.0, 12.0]), np.array([10.0, 9.0]))  # 19 of 24 real answers agree with the others

    assert gold_screen(answered=gold[0], right=gold[1], threshold=0.65, confidence=0.75).fails
    assert not screen_evidence(gold=gold, real=real, threshold=0.65).fails


# --- Where the evidence runs out: the demo's seed 5 --------------------------------------------------------------

# Counts (answered, right) per true class as the demo's jobs left them, replayed and screened at every aggregation
# (see the module docstring of marketplace.aggregation.screening): seed 5's spam1, a random answerer, at its most
# suspect; and 74% workers at theirs (sharp on the common class, near chance on the other).
LUCKY_RANDOM = {"gold": ([14, 10], [9, 7]), "real": ([8.12, 6.88], [4.05, 3.93])}
SEVENTY_FOUR = {
    "w1756, seed 2": {"gold": ([3, 5], [2, 1]), "real": ([2.85, 0.15], [1.9, 0.05])},
    "w1759, seed 2": {"gold": ([5, 3], [4, 0]), "real": ([2.86, 0.14], [1.91, 0.05])},
    "w1756, seed 1": {"gold": ([9, 3], [9, 1]), "real": ([4.14, 3.86], [3.21, 0.07])},
    "w1759, seed 1": {"gold": ([9, 7], [9, 3]), "real": ([7.0, 4.0], [6.01, 0.01])},
}


def probabilities_below(evidence: dict, threshold: float = 0.65) -> tuple[float, float]:
    """P(balanced accuracy < threshold): gold and real together, and real alone (the demo job's threshold)."""
    gold, real = (tuple(np.array(x, dtype=float) for x in evidence[k]) for k in ("gold", "real"))
    together = gold_screen(answered=gold[0] + real[0], right=gold[1] + real[1], threshold=threshold)
    alone = gold_screen(answered=real[0], right=real[1], threshold=threshold)
    return together.below_threshold, alone.below_threshold


def test_a_random_answerer_with_a_lucky_gold_record_looks_better_than_unlucky_seventy_four_percent_workers():
    """Why seed 5's spam1 keeps working: on both screens it is less suspect than two 74% workers of one seed (two
    blocked would miss the demo's target on that seed), so no bound on either catches it and spares them."""
    spam_together, spam_alone = probabilities_below(LUCKY_RANDOM)
    worker = {name: probabilities_below(evidence) for name, evidence in SEVENTY_FOUR.items()}

    assert spam_together == pytest.approx(0.63, abs=0.01) and spam_alone == pytest.approx(0.77, abs=0.01)
    assert min(worker["w1756, seed 2"][0], worker["w1759, seed 2"][0]) > spam_together
    assert min(worker["w1756, seed 1"][1], worker["w1759, seed 1"][1]) > spam_alone
    assert not screen_evidence(
        gold=tuple(np.array(x, dtype=float) for x in LUCKY_RANDOM["gold"]),
        real=tuple(np.array(x, dtype=float) for x in LUCKY_RANDOM["real"]),
        threshold=0.65,
    ).fails


def test_on_that_evidence_even_the_likelihood_ratio_favours_a_worker_at_the_threshold():
    """The random answerer's 16 of 24 gold and 8 of 15 real: as likely from a worker right 65% of the time (the
    threshold) as from one who does not look, and more so: the evidence, not the rule, is short."""
    right, answered = 16 + 7.98, 24 + 15.0
    log_ratio = right * np.log(0.5 / 0.65) + (answered - right) * np.log(0.5 / 0.35)

    assert log_ratio < 0


def lucky_random_answerer(seed: int, n_real: int, n_gold: int = 24, lucky: int = 16) -> tuple[bool, bool]:
    """Four honest workers (80% right) and two more answer every item of a two-class job, the first `n_gold` gold:
    a random answerer whose gold record is as lucky as seed 5's spam1 (`lucky` of `n_gold` right, its real answers
    at random), and a worker right 70% of the time. Their verdicts at the demo job's threshold (0.65)."""
    rng = np.random.default_rng(seed)
    n = n_gold + n_real
    truth = rng.integers(0, 2, n)
    given = [np.where(rng.random(n) < 0.8, truth, 1 - truth) for _ in range(4)]
    random_answers = rng.integers(0, 2, n)
    right = np.zeros(n_gold, dtype=bool)
    right[rng.choice(n_gold, lucky, replace=False)] = True
    random_answers[:n_gold] = np.where(right, truth[:n_gold], 1 - truth[:n_gold])
    given += [random_answers, np.where(rng.random(n) < 0.7, truth, 1 - truth)]
    answers = Answers(
        tasks=np.tile(np.arange(n), 6),
        workers=np.repeat(np.arange(6), n),
        labels=np.concatenate(given),
        n_tasks=n,
        n_workers=6,
        n_classes=2,
    )
    gold = np.arange(n) < n_gold
    result = dawid_skene(answers, gold={t: int(truth[t]) for t in range(n_gold)})
    on_gold, on_real = agreement_counts(answers, result, gold)
    verdicts = [
        screen_evidence(gold=(on_gold[0][w], on_gold[1][w]), real=(on_real[0][w], on_real[1][w]), threshold=0.65)
        for w in (4, 5)
    ]
    return verdicts[0].fails, verdicts[1].fails


@pytest.mark.parametrize(("n_real", "caught_at_most", "caught_at_least"), [(15, 0.35, 0.15), (72, 1.0, 0.75)])
def test_a_random_answerer_with_a_lucky_gold_record_is_caught_only_once_its_real_answers_say_so(
    n_real, caught_at_most, caught_at_least
):
    """16 of 24 gold right: with 15 real answers (as many as counted for seed 5's spam1) 10 of 40 are caught, with
    72 real answers 33 of 40 (with 48: 25), while the 70% worker beside them is blocked in 1 of 40 (with 48: 3)."""
    verdicts = np.array([lucky_random_answerer(seed, n_real) for seed in range(40)])

    assert caught_at_least <= verdicts[:, 0].mean() <= caught_at_most
    assert verdicts[:, 1].mean() <= 0.05
