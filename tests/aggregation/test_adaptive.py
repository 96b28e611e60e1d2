"""Adaptive overlap: the policy on hand-checked cases, then on a simulated crowd against fixed overlap."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from marketplace.aggregation import (
    InvalidOptionError,
    initial_overlap_targets,
    overlap_targets,
    settled_items,
)
from tests.aggregation.adaptive_sim import Crowd, Outcome, make_crowd, run_adaptive, run_fixed

POLICY: dict[str, Any] = {"overlap_min": 3, "overlap_max": 7, "confidence_target": 0.95}


def _targets(confidence: list[float], counts: list[int], task_of_item: list[int], current: list[int]) -> list[int]:
    new = overlap_targets(
        confidence=np.array(confidence),
        answer_counts=np.array(counts),
        task_of_item=np.array(task_of_item),
        current_targets=np.array(current),
        **POLICY,
    )
    return new.tolist()


# --- The policy, hand-checked -------------------------------------------------------------------------------------


def test_every_task_starts_at_overlap_min() -> None:
    np.testing.assert_array_equal(initial_overlap_targets(4, overlap_min=3), [3, 3, 3, 3])


def test_a_task_whose_items_are_all_confident_stops() -> None:
    assert _targets([0.99, 0.96], [3, 3], [0, 0], [3]) == [3]


def test_a_task_with_an_uncertain_item_that_has_its_answers_grows_by_one() -> None:
    assert _targets([0.7, 0.6], [3, 3], [0, 0], [3]) == [4]


def test_one_uncertain_item_among_confident_ones_keeps_its_task_growing() -> None:
    confidence = [0.99, 0.99, 0.80, 0.99]
    assert _targets(confidence, [4] * 4, [0] * 4, [4]) == [5]
    assert _targets(confidence, [5] * 4, [0] * 4, [5]) == [6]


def test_growth_stops_at_overlap_max() -> None:
    assert _targets([0.5], [6], [0], [6]) == [7]
    assert _targets([0.5], [7], [0], [7]) == [7]


def test_a_task_still_waiting_for_answers_keeps_its_target() -> None:
    # Target 5, only 4 answers in: the fifth slot is still open (or held by a worker), so nothing to add yet.
    assert _targets([0.5, 0.5], [4, 4], [0, 0], [5]) == [5]


def test_a_stopped_task_never_loses_a_slot_already_opened() -> None:
    # Confident at 4 answers while a fifth worker holds the slot opened earlier: targets never decrease.
    assert _targets([0.99], [4], [0], [5]) == [5]


def test_a_confident_item_below_overlap_min_is_not_settled() -> None:
    # E.g. overlap_min was raised: two unanimous answers from strong workers are not enough to stop.
    assert _targets([0.999], [2], [0], [2]) == [3]


def test_a_nan_confidence_counts_as_uncertain() -> None:
    assert _targets([np.nan], [3], [0], [3]) == [4]


def test_a_task_with_no_item_keeps_its_target() -> None:
    assert _targets([0.99], [3], [1], [3, 3]) == [3, 3]


def test_tasks_are_decided_independently() -> None:
    confidence = [0.99, 0.99, 0.60, 0.99, 0.50, 0.98]
    counts = [3, 3, 3, 3, 7, 7]
    task_of_item = [0, 0, 1, 1, 2, 2]
    assert _targets(confidence, counts, task_of_item, [3, 3, 7]) == [3, 4, 7]


def test_it_matches_a_plain_loop_on_random_cases_and_never_decreases_nor_passes_overlap_max() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        n_tasks = int(rng.integers(1, 6))
        task_of_item = rng.integers(0, n_tasks, int(rng.integers(0, 12)))
        current = rng.integers(1, 8, n_tasks)
        counts = rng.integers(0, current[task_of_item] + 1) if task_of_item.size else task_of_item.copy()
        confidence = rng.choice([0.5, 0.94, 0.95, 0.99], task_of_item.size)

        new = _targets(confidence.tolist(), counts.tolist(), task_of_item.tolist(), current.tolist())

        assert new == _reference(confidence, counts, task_of_item, current)
        assert (np.array(new) >= current).all()
        assert (np.array(new) <= POLICY["overlap_max"]).all()


def _reference(confidence: np.ndarray, counts: np.ndarray, task_of_item: np.ndarray, current: np.ndarray) -> list:
    """The policy as the issue states it, one task at a time."""
    out = []
    for task, target in enumerate(current.tolist()):
        mine = task_of_item == task
        if not mine.any():
            out.append(target)
            continue
        count = int(counts[mine].min())
        settled = (confidence[mine] >= POLICY["confidence_target"]) & (counts[mine] >= POLICY["overlap_min"])
        if settled.all():
            out.append(max(target, count))
        elif count >= target:
            out.append(min(target + 1, POLICY["overlap_max"]))
        else:
            out.append(target)
    return out


def test_settled_items_counts_confident_items_with_enough_answers() -> None:
    settled = settled_items(
        confidence=np.array([0.99, 0.95, 0.94, 0.99]),
        answer_counts=np.array([3, 3, 5, 2]),
        overlap_min=3,
        confidence_target=0.95,
    )
    np.testing.assert_array_equal(settled, [True, True, False, False])
    assert settled.sum() == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"overlap_min": 0}, "overlap_min"),
        ({"overlap_max": 2}, "overlap_min <= overlap_max"),
        ({"confidence_target": 0.0}, "confidence_target"),
        ({"confidence_target": 1.5}, "confidence_target"),
        ({"task_of_item": np.array([0, 2])}, "task_of_item"),
        ({"answer_counts": np.array([3])}, "one length"),
        ({"answer_counts": np.array([3.0, 3.0])}, "integers"),
        ({"current_targets": np.array([8, 3])}, "overlap_max"),
        ({"answer_counts": np.array([-1, 3])}, "non-negative"),
    ],
)
def test_it_refuses_inconsistent_inputs(change: dict, message: str) -> None:
    arguments = {
        "confidence": np.array([0.9, 0.99]),
        "answer_counts": np.array([3, 3]),
        "task_of_item": np.array([0, 1]),
        "current_targets": np.array([3, 3]),
        **POLICY,
        **change,
    }
    with pytest.raises(InvalidOptionError, match=message):
        overlap_targets(**arguments)


# --- On a simulated crowd -----------------------------------------------------------------------------------------
# 2,000 items of 4 classes, 100 workers (accuracy drawn in [0.55, 0.95], 10 of them spammers), log-normal activity;
# seed fixed before the first run. Fixed and adaptive overlap collect the same pre-drawn answers (see adaptive_sim).

CROWD: dict[str, Any] = {"n_items": 2000, "n_classes": 4, "n_workers": 100, "spammer_share": 0.1, "depth": 7, "seed": 7}


def _crowd(items_per_task: int) -> Crowd:
    return make_crowd(items_per_task=items_per_task, **CROWD)


def _report(items_per_task: int, fixed: dict[int, Outcome], adaptive: Outcome) -> str:
    lines = [f"items_per_task={items_per_task}"]
    lines += [f"  fixed {k}: accuracy {o.accuracy:.4f}, answers {o.answers}" for k, o in fixed.items()]
    lines.append(f"  adaptive 3..7 @0.95: accuracy {adaptive.accuracy:.4f}, answers {adaptive.answers}")
    lines.append(f"    ({adaptive.rounds} rounds, {adaptive.answers / fixed[5].answers:.1%} of fixed 5's answers)")
    return "\n".join(lines)


def test_the_simulated_workers_of_a_task_are_distinct() -> None:
    crowd = _crowd(items_per_task=1)
    ordered = np.sort(crowd.order, axis=1)
    assert (np.diff(ordered, axis=1) > 0).all()


def test_adaptive_overlap_is_as_accurate_as_fixed_overlap_5_with_fewer_answers() -> None:
    crowd = _crowd(items_per_task=1)
    fixed = {k: run_fixed(crowd, k) for k in (3, 5, 7)}
    adaptive = run_adaptive(crowd, **POLICY)
    report = _report(1, fixed, adaptive)
    print("\n" + report)

    assert adaptive.accuracy >= fixed[5].accuracy, report
    assert adaptive.answers < fixed[5].answers, report
    assert fixed[3].answers < adaptive.answers, report  # every item got at least overlap_min answers


def test_with_several_items_per_task_the_saving_shrinks() -> None:
    # The price of "a task grows while any of its items is uncertain": its confident items get answers too.
    one, four = _crowd(items_per_task=1), _crowd(items_per_task=4)
    fixed_1, fixed_4 = run_fixed(one, 5), run_fixed(four, 5)
    single, grouped = run_adaptive(one, **POLICY), run_adaptive(four, **POLICY)
    report = _report(4, {5: fixed_4}, grouped)
    print("\n" + report)

    assert grouped.accuracy >= fixed_4.accuracy, report
    assert grouped.answers / fixed_4.answers > single.answers / fixed_1.answers, report
