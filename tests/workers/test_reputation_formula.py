"""The reputation formula (`workers.reputation`), without a database: hand-checked values and properties."""

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.reputation import ReputationEvidence, reputation_score

NEWCOMER = ReputationEvidence(gold_right=0, gold_answered=0, ds_accuracy=None, ds_answers=0, approved=0, reviewed=0)
# 97 of 97 gold right, Dawid-Skene 0.9 over 990 answers, 95 of 95 reviews approved.
PROVEN = ReputationEvidence(gold_right=97, gold_answered=97, ds_accuracy=0.9, ds_answers=990, approved=95, reviewed=95)
# Random clicks on three classes: a third of the gold right, Dawid-Skene 0.3, most reviews rejected.
SPAMMER = ReputationEvidence(gold_right=31, gold_answered=97, ds_accuracy=0.3, ds_answers=990, approved=16, reviewed=95)


@st.composite
def evidence(draw, max_count: int = 10_000) -> ReputationEvidence:
    gold_answered = draw(st.integers(0, max_count))
    reviewed = draw(st.integers(0, max_count))
    return ReputationEvidence(
        gold_right=draw(st.integers(0, gold_answered)),
        gold_answered=gold_answered,
        ds_accuracy=draw(st.none() | st.floats(0.0, 1.0)),
        ds_answers=draw(st.integers(0, 10 * max_count)),
        approved=draw(st.integers(0, reviewed)),
        reviewed=reviewed,
    )


def test_a_newcomer_scores_close_to_neutral():
    # wins = 2 + ¼·(10·2/3) + 4 + 10 = 53/3; trials = 3 + ¼·10 + 5 + 20 = 61/2
    assert NEWCOMER.score() == pytest.approx(106 / 183)
    assert 0.5 < NEWCOMER.score() < 0.6


def test_a_proven_good_worker_scores_high():
    # g = 99/100; wins = 99 + ¼·(891 + 9.9) + 99 + 10 = 433.225; trials = 100 + ¼·1000 + 100 + 20 = 470
    assert PROVEN.score() == pytest.approx(433.225 / 470)
    assert PROVEN.score() > 0.9


def test_a_spammer_scores_low():
    # g = 33/100; wins = 33 + ¼·(297 + 3.3) + 20 + 10 = 138.075; trials = 470
    assert SPAMMER.score() == pytest.approx(138.075 / 470)
    assert SPAMMER.score() < 0.3


def test_the_dawid_skene_estimate_is_shrunk_toward_gold_when_it_rests_on_few_answers():
    perfect_gold = replace(NEWCOMER, gold_right=20, gold_answered=20)
    few = replace(perfect_gold, ds_accuracy=0.0, ds_answers=2)
    many = replace(perfect_gold, ds_accuracy=0.0, ds_answers=2000)
    # g = 22/23; with 2 answers at 0: wins = 22 + ¼·(10·22/23) + 4 + 10, trials = 23 + ¼·12 + 5 + 20
    assert few.score() == pytest.approx((36 + 2.5 * 22 / 23) / 51)
    assert many.score() < 0.2 < 0.7 < few.score()


def test_without_aggregation_the_dawid_skene_answer_count_is_ignored():
    no_aggregation = replace(PROVEN, ds_accuracy=None, ds_answers=0)
    assert replace(PROVEN, ds_accuracy=None).score() == no_aggregation.score()


def test_the_function_and_the_dataclass_agree():
    assert (
        reputation_score(gold_right=31, gold_answered=97, ds_accuracy=0.3, ds_answers=990, approved=16, reviewed=95)
        == SPAMMER.score()
    )


@pytest.mark.parametrize(
    "change",
    [
        {"gold_right": 5, "gold_answered": 4},
        {"gold_right": -1},
        {"approved": 3, "reviewed": 2},
        {"approved": -1},
        {"ds_answers": -1},
        {"ds_accuracy": 1.01},
        {"ds_accuracy": -0.1},
        {"ds_accuracy": float("nan")},
    ],
)
def test_it_refuses_impossible_evidence(change):
    fields = {"gold_right": 0, "gold_answered": 4, "ds_accuracy": 0.5, "ds_answers": 1, "approved": 0, "reviewed": 2}
    with pytest.raises(ValueError):
        reputation_score(**(fields | change))


@given(evidence())
def test_the_score_is_always_between_zero_and_one(e):
    assert 0.0 <= e.score() <= 1.0


@given(evidence())
def test_one_more_right_gold_answer_never_lowers_the_score(e):
    assert replace(e, gold_right=e.gold_right + 1, gold_answered=e.gold_answered + 1).score() >= e.score()


@given(evidence())
def test_a_wrong_gold_answer_turned_right_never_lowers_the_score(e):
    if e.gold_right < e.gold_answered:
        assert replace(e, gold_right=e.gold_right + 1).score() >= e.score()


@given(evidence())
def test_one_more_wrong_gold_answer_never_raises_the_score(e):
    assert replace(e, gold_answered=e.gold_answered + 1).score() <= e.score()


@given(evidence())
def test_one_more_rejection_never_raises_the_score(e):
    assert replace(e, reviewed=e.reviewed + 1).score() <= e.score()


@given(evidence())
def test_an_approval_turned_rejection_never_raises_the_score(e):
    if e.approved:
        assert replace(e, approved=e.approved - 1).score() <= e.score()


@given(evidence())
def test_one_more_approval_never_lowers_the_score(e):
    assert replace(e, approved=e.approved + 1, reviewed=e.reviewed + 1).score() >= e.score()


@given(evidence(), st.floats(0.0, 1.0))
def test_a_higher_dawid_skene_accuracy_never_lowers_the_score(e, other):
    if e.ds_accuracy is not None:
        low, high = sorted([e.ds_accuracy, other])
        assert replace(e, ds_accuracy=high).score() >= replace(e, ds_accuracy=low).score()


@given(evidence(max_count=10))
def test_a_worker_with_little_evidence_never_outranks_a_proven_good_one(e):
    assert e.score() < 0.8 < PROVEN.score()
