"""Properties of the box and span engines: the aggregate does not depend on the order of the answers nor on
the workers' names.

One exception is inherent: when two readings are exactly tied (one worker says PER, another LOC), which one
wins is decided by floating-point rounding. Such a task's confidence is at most 1/2 in both runs, and the
tests allow a different choice there and only there."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.aggregation.bbox import BoxAnswers, box_aggregate
from marketplace.aggregation.spans import SpanAnswers, span_aggregate

N_TASKS, N_WORKERS = 3, 5

boxes = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(5, 40), st.integers(5, 40), st.integers(0, 1)),
    max_size=3,
)
spans = st.lists(st.tuples(st.integers(0, 11), st.integers(1, 4), st.integers(0, 1)), max_size=3)


def _responses(draw_items: st.SearchStrategy) -> st.SearchStrategy:
    """A set of (task, worker) responses, each with its items."""
    pairs = st.lists(
        st.tuples(st.integers(0, N_TASKS - 1), st.integers(0, N_WORKERS - 1)), min_size=1, max_size=12, unique=True
    )
    return pairs.flatmap(
        lambda keys: st.tuples(st.just(keys), st.lists(draw_items, min_size=len(keys), max_size=len(keys)))
    )


def _shuffle(seed: int, keys, items):
    """The same answers, responses and items in another order, workers renamed."""
    rng = np.random.default_rng(seed)
    rename = rng.permutation(N_WORKERS)
    order = rng.permutation(len(keys))
    return [(t, int(rename[w])) for t, w in (keys[i] for i in order)], [
        [items[i][j] for j in rng.permutation(len(items[i]))] for i in order
    ]


def _box_answers(keys, items) -> BoxAnswers:
    rows = [(r, box) for r, drawn in enumerate(items) for box in drawn]
    return BoxAnswers(
        tasks=[t for t, _ in keys],
        workers=[w for _, w in keys],
        box_responses=[r for r, _ in rows],
        boxes=np.array([box[:4] for _, box in rows], dtype=float).reshape(-1, 4),
        labels=[box[4] for _, box in rows],
        n_tasks=N_TASKS,
        n_workers=N_WORKERS,
        n_classes=2,
    )


def _box_table(result) -> list[tuple]:
    return sorted(
        (int(t), *np.round(box, 6).tolist(), int(label), round(float(c), 6))
        for t, box, label, c in zip(result.task, result.box, result.label, result.confidence, strict=True)
    )


@settings(max_examples=60, deadline=None)
@given(data=_responses(boxes), seed=st.integers(0, 2**32 - 1))
def test_box_aggregation_ignores_answer_order_and_worker_names(data, seed: int) -> None:
    keys, items = data
    original = box_aggregate(_box_answers(keys, items))
    shuffled = box_aggregate(_box_answers(*_shuffle(seed, keys, items)))

    _assert_same_but_ties(_box_table(original), _box_table(shuffled), original, shuffled)


def _span_answers(keys, items) -> SpanAnswers:
    rows = [(r, span) for r, marked in enumerate(items) for span in marked]
    return SpanAnswers(
        tasks=[t for t, _ in keys],
        workers=[w for _, w in keys],
        span_responses=[r for r, _ in rows],
        starts=[s for _, (s, _, _) in rows],
        ends=[s + n for _, (s, n, _) in rows],
        labels=[lab for _, (_, _, lab) in rows],
        lengths=[16] * N_TASKS,
        n_workers=N_WORKERS,
        n_classes=2,
    )


@settings(max_examples=60, deadline=None)
@given(data=_responses(spans), seed=st.integers(0, 2**32 - 1))
def test_span_aggregation_ignores_answer_order_and_worker_names(data, seed: int) -> None:
    keys, items = data
    original = span_aggregate(_span_answers(keys, items))
    shuffled = span_aggregate(_span_answers(*_shuffle(seed, keys, items)))

    def table(result) -> list[tuple]:
        return sorted(
            zip(result.task.tolist(), result.start.tolist(), result.end.tolist(), result.label.tolist(), strict=True)
        )

    _assert_same_but_ties(table(original), table(shuffled), original, shuffled)


def _assert_same_but_ties(before: list[tuple], after: list[tuple], original, shuffled) -> None:
    np.testing.assert_allclose(shuffled.task_confidence, original.task_confidence, atol=1e-6)
    differing = {row[0] for row in set(before) ^ set(after)}
    tied = set(np.flatnonzero(original.task_confidence <= 0.5 + 1e-6).tolist())
    assert differing <= tied
    assert [row for row in before if row[0] not in tied] == [row for row in after if row[0] not in tied]
