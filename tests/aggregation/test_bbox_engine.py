"""Box aggregation on hand-checked images and seeded crowds: objects, existence, labels and fused boxes."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.aggregation import InvalidAnswersError, InvalidGoldError, InvalidOptionError
from marketplace.aggregation.bbox import BoxAnswers, box_aggregate
from marketplace.aggregation.bbox.geometry import corners, iou
from tests.aggregation.simulate_structured import box_crowd

CAR, PERSON = 0, 1


def answers(responses: list[tuple[int, int, list[tuple[float, ...]]]], n_classes: int = 2) -> BoxAnswers:
    """``(task, worker, [(x, y, w, h, label), ...])`` per response."""
    boxes = [(r, box) for r, (_, _, drawn) in enumerate(responses) for box in drawn]
    return BoxAnswers(
        tasks=[t for t, _, _ in responses],
        workers=[w for _, w, _ in responses],
        box_responses=[r for r, _ in boxes],
        boxes=np.array([box[:4] for _, box in boxes], dtype=float).reshape(-1, 4),
        labels=[int(box[4]) for _, box in boxes],
        n_tasks=1 + max(t for t, _, _ in responses),
        n_workers=1 + max(w for _, w, _ in responses),
        n_classes=n_classes,
    )


def boxes_of(result, task: int) -> list[tuple[list[float], int]]:
    rows = np.flatnonzero(result.task == task)
    return sorted((result.box[r].tolist(), int(result.label[r])) for r in rows)


def test_two_workers_overlapping_boxes_fuse_to_their_midpoint() -> None:
    crowd = answers([(0, 0, [(10, 20, 100, 50, CAR)]), (0, 1, [(14, 24, 100, 50, CAR)])])

    result = box_aggregate(crowd)

    assert boxes_of(result, 0) == [([12.0, 22.0, 100.0, 50.0], CAR)]
    assert result.support.tolist() == [2]
    assert result.box_object.tolist() == [0, 0]


def test_the_fused_box_follows_the_precise_workers_more_than_the_median_does() -> None:
    crowd = box_crowd(400, per_image=5, careful_noise=0.02, sloppy_noise=0.25, sloppy_every=2, seed=4)
    a = crowd.answers

    result = box_aggregate(a)

    truth = corners(crowd.truth_boxes)
    # Each kept box against the true object it overlaps most, and the plain median of that object's boxes.
    ours = _best_iou(result.task, corners(result.box), crowd.truth_tasks, truth)
    medians = _median_boxes(a, result)
    assert ours.mean() > _best_iou(result.task, medians, crowd.truth_tasks, truth).mean() + 0.02
    careful = np.arange(a.n_workers) % 2 == 1
    errors = result.worker_localisation_error
    assert np.nanmedian(errors[careful]) < np.nanmedian(errors[~careful]) / 3


def _best_iou(tasks, rows, truth_tasks, truth) -> np.ndarray:
    best = np.zeros(len(rows))
    for i, task in enumerate(tasks):
        candidates = truth[truth_tasks == task]
        best[i] = iou(np.repeat(rows[i : i + 1], len(candidates), axis=0), candidates).max()
    return best


def _median_boxes(a: BoxAnswers, result) -> np.ndarray:
    rows = np.zeros((len(result.task), 4))
    drawn = corners(a.boxes)
    for i in range(len(result.task)):
        rows[i] = np.median(drawn[result.box_object == i], axis=0)
    return rows


def test_a_spammers_random_boxes_do_not_survive() -> None:
    crowd = box_crowd(300, seed=2)
    a = crowd.answers

    result = box_aggregate(a)

    by_spammer = np.isin(a.box_workers, crowd.spammers)
    assert by_spammer.sum() > 100
    kept_rows = result.box_object[by_spammer]
    kept_rows = kept_rows[kept_rows >= 0]
    # A spammer's box is kept only where it happened to land on a real object that honest workers drew.
    assert (result.support[kept_rows] >= 3).all()
    assert len(result.task) == pytest.approx(len(crowd.truth_tasks), rel=0.02)
    assert np.nanmax(result.worker_precision[crowd.spammers]) < 0.35
    honest = np.setdiff1d(np.arange(a.n_workers), crowd.spammers)
    assert np.nanmedian(result.worker_precision[honest]) > 0.85
    assert np.nanmedian(result.worker_recall[honest]) > 0.8


def test_several_objects_and_labels_on_one_image_are_kept_apart_and_labelled_by_vote() -> None:
    car, person = (10, 10, 50, 40), (200, 30, 30, 80)
    crowd = answers(
        [
            (0, 0, [(*car, CAR), (*person, PERSON)]),
            (0, 1, [(*person, PERSON), (12, 11, 49, 40, CAR)]),
            (0, 2, [(11, 9, 50, 41, PERSON), (201, 31, 30, 80, PERSON)]),  # calls the car a person
        ]
    )

    result = box_aggregate(crowd)

    kept = boxes_of(result, 0)
    assert [label for _, label in kept] == [CAR, PERSON]
    assert kept[0][0] == pytest.approx([11.0, 10.0, 50.0, 40.0])
    assert kept[1][0] == pytest.approx([200.0, 30.0, 30.0, 80.0])


def test_two_adjacent_objects_are_not_merged() -> None:
    left, right = (0, 0, 50, 50), (40, 0, 50, 50)  # IoU 10/90 between them
    crowd = answers([(0, w, [(*left, CAR), (*right, CAR)]) for w in range(3)])

    result = box_aggregate(crowd)

    assert [box for box, _ in boxes_of(result, 0)] == [[0.0, 0.0, 50.0, 50.0], [40.0, 0.0, 50.0, 50.0]]


def test_one_workers_lone_box_is_dropped_and_an_empty_answer_counts_against_it() -> None:
    crowd = answers([(0, 0, [(5, 5, 20, 20, CAR)]), (0, 1, []), (0, 2, []), (1, 1, [(5, 5, 20, 20, CAR)])])

    result = box_aggregate(crowd)

    assert boxes_of(result, 0) == []
    assert result.box_object[0] == -1
    assert result.answer_counts.tolist() == [3, 1]


def test_a_minority_reading_is_dropped_unless_min_objects_asks_for_a_box() -> None:
    # Two workers out of five see a small object where the others see nothing.
    crowd = answers([(0, w, []) for w in range(3)] + [(0, w, [(60, 60, 30, 30, CAR)]) for w in (3, 4)])

    free = box_aggregate(crowd)
    at_least_one = box_aggregate(crowd, min_objects=1)

    assert boxes_of(free, 0) == []
    assert boxes_of(at_least_one, 0) == [([60.0, 60.0, 30.0, 30.0], CAR)]


def test_max_objects_keeps_the_better_supported_reading_with_its_share_as_confidence() -> None:
    # Two readings of one object, 4 workers against 3; the job says each image has exactly one object.
    wide, tight = (0, 0, 100, 100), (60, 60, 30, 30)
    crowd = answers([(0, w, [(*wide, CAR)]) for w in range(4)] + [(0, w, [(*tight, CAR)]) for w in (4, 5, 6)])

    one = box_aggregate(crowd, min_objects=1, max_objects=1)

    assert boxes_of(one, 0) == [([0.0, 0.0, 100.0, 100.0], CAR)]
    assert one.task_confidence[0] == pytest.approx(4 / 7, abs=0.02)


def test_gold_images_come_back_exactly_and_gold_marks_a_worker_as_imprecise() -> None:
    truth = [(100, 100, 50, 50, CAR)]
    responses = []
    for task in range(20):
        responses += [(task, 0, [(100, 100, 50, 50, CAR)]), (task, 1, [(101, 99, 50, 51, CAR)])]
        responses += [(task, 2, [(110, 108, 45, 47, CAR)])]
    crowd = answers(responses)
    gold = dict.fromkeys(range(5), truth) | {5: []}

    result = box_aggregate(crowd, gold=gold)

    for task in range(5):
        assert boxes_of(result, task) == [([100.0, 100.0, 50.0, 50.0], CAR)]
        assert result.task_confidence[task] == pytest.approx(1.0)
    assert boxes_of(result, 5) == []
    errors = result.worker_localisation_error
    assert errors[0] < errors[1] < errors[2]


def test_excluded_workers_boxes_do_not_count() -> None:
    crowd = answers([(0, 0, [(0, 0, 10, 10, CAR)]), (0, 1, [(0, 0, 10, 10, CAR)]), (0, 2, [(50, 50, 10, 10, CAR)])])

    result = box_aggregate(crowd, exclude_workers=[0, 1])

    assert boxes_of(result, 0) == [([50.0, 50.0, 10.0, 10.0], CAR)]
    assert result.box_object.tolist() == [-1, -1, 0]
    assert result.worker_answer_counts.tolist() == [0, 0, 1]


def test_no_box_at_all_gives_nothing_and_full_confidence() -> None:
    result = box_aggregate(answers([(0, 0, []), (1, 1, [])]))

    assert len(result.task) == 0
    assert result.task_confidence.tolist() == [1.0, 1.0]
    assert np.isnan(result.worker_precision).all()


def test_a_worker_answering_an_image_twice_and_bad_boxes_are_refused() -> None:
    with pytest.raises(InvalidAnswersError, match="answered task 0 more than once"):
        answers([(0, 1, []), (0, 1, [(0, 0, 5, 5, CAR)])])
    with pytest.raises(InvalidAnswersError, match="boxes row 0"):
        answers([(0, 1, [(0, 0, 0, 5, CAR)])])
    with pytest.raises(InvalidAnswersError, match="boxes row 0"):
        answers([(0, 1, [(0, float("nan"), 3, 5, CAR)])])


def test_bad_gold_and_options_are_refused() -> None:
    crowd = answers([(0, 0, [(0, 0, 5, 5, CAR)])])
    with pytest.raises(InvalidGoldError):
        box_aggregate(crowd, gold={0: [(0, 0, 5, 5, 7)]})
    with pytest.raises(InvalidGoldError):
        box_aggregate(crowd, gold={3: []})
    with pytest.raises(InvalidOptionError):
        box_aggregate(crowd, iou_threshold=0)
    with pytest.raises(InvalidOptionError):
        box_aggregate(crowd, min_objects=2, max_objects=1)
