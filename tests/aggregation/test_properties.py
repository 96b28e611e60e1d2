"""Properties every answer type's aggregation keeps: the order of the answers and the workers' names do not matter."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.aggregation.types import ANSWER_TYPES, Consensus, answer_type

WORDS = ["the", "cat", "sat", "on", "a", "mat", "red"]
ITEMS = ["i0", "i1", "i2", "i3"]
PAIRS = [f"{a}|{b}" for a in ITEMS for b in ITEMS if a < b]


SCHEMAS = {"bbox": {"labels": ["car", "bus"]}, "spans": {"text_field": "text", "labels": ["PER", "LOC"]}}


def _value(name: str, task: str) -> st.SearchStrategy[Any]:
    if name == "single_choice":
        return st.sampled_from(["x", "y", "z"])
    if name == "multi_choice":
        return st.lists(st.sampled_from(["x", "y", "z"]), unique=True, max_size=3)
    if name == "text":
        return st.lists(st.sampled_from(WORDS), min_size=0, max_size=6).map(" ".join)
    if name == "number":
        return st.integers(0, 10).map(float)
    if name == "bbox":
        box = st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(1, 20), st.integers(1, 20))
        return st.lists(st.tuples(box, st.sampled_from(["car", "bus"])), max_size=3).map(
            lambda boxes: [[*b, label] for b, label in boxes]
        )
    if name == "spans":  # non-overlapping spans over a 30-character text: cut points, each stretch labelled or not
        cuts = st.lists(st.integers(1, 29), unique=True, max_size=6).map(lambda c: [0, *sorted(c), 30])
        return cuts.flatmap(
            lambda c: st.lists(st.sampled_from([None, "PER", "LOC"]), min_size=len(c) - 1, max_size=len(c) - 1).map(
                lambda labels: [[a, b, lab] for a, b, lab in zip(c, c[1:], labels, strict=False) if lab]
            )
        )
    return st.sampled_from(task.split("|"))


@st.composite
def jobs(draw: st.DrawFn, name: str) -> tuple[list[str], list[str], list[Any]]:
    """Up to 5 tasks x 5 workers, each (task, worker) answered at most once."""
    tasks = PAIRS[:4] if name == "pairwise" else [f"t{i}" for i in range(5)]
    cells = draw(
        st.lists(
            st.tuples(st.sampled_from(tasks), st.sampled_from([f"w{i}" for i in range(5)])),
            min_size=1,
            max_size=20,
            unique=True,
        )
    )
    answers = [draw(_value(name, task)) for task, _ in cells]
    return [task for task, _ in cells], [worker for _, worker in cells], answers


# The number EM stops once no estimate moves more than 1e-6 (standardised) in a damped round: two orders of the same
# answers stop at the same round, within floating-point noise (1e-11 over 5,000 random jobs); 1e-4 leaves room.
AGREE = {"number": 1e-4}  # the others: 1e-6


def _by_task(consensus: Consensus) -> dict[Any, tuple[Any, float]]:
    return {
        task: (answer, conf)
        for task, answer, conf in zip(
            consensus.tasks.tolist(), consensus.answers, consensus.confidence.tolist(), strict=True
        )
    }


def _same(a: Consensus, b: Consensus, rename: dict[str, str] | None = None, *, agree: float = 1e-6) -> None:
    left, right = _by_task(a), _by_task(b)
    assert left.keys() == right.keys()
    for task, (answer, confidence) in left.items():
        other_answer, other_confidence = right[task]
        if isinstance(answer, float):
            assert abs(answer - other_answer) < agree, task
        else:
            assert answer == other_answer, task
        assert abs(confidence - other_confidence) < agree, task
    quality_a = dict(zip(a.workers.tolist(), a.worker_quality.tolist(), strict=True))
    quality_b = dict(zip(b.workers.tolist(), b.worker_quality.tolist(), strict=True))
    for worker, quality in quality_a.items():
        other = quality_b[(rename or {}).get(worker, worker)]
        assert (np.isnan(quality) and np.isnan(other)) or abs(quality - other) < agree, worker
    if a.item_scores is not None and b.item_scores is not None:
        np.testing.assert_allclose(a.item_scores, b.item_scores, atol=1e-6)


def _check(name: str, job: tuple[list[str], list[str], list[Any]], permutation: list[int], names: list[str]) -> None:
    kind = answer_type(name)
    schema = kind.parse_schema(SCHEMAS.get(name))
    tasks, workers, answers = job
    base = kind.aggregate(schema, tasks, workers, answers)

    shuffled = kind.aggregate(
        schema, [tasks[i] for i in permutation], [workers[i] for i in permutation], [answers[i] for i in permutation]
    )
    rename = dict(zip(sorted(set(workers)), names, strict=False))
    renamed = kind.aggregate(schema, tasks, [rename[w] for w in workers], answers)

    agree = AGREE.get(name, 1e-6)
    _same(base, shuffled, agree=agree)
    _same(base, renamed, rename, agree=agree)


def _property(name: str):  # noqa: ANN202 -- a hypothesis test per type, built the same way
    @settings(
        max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "60")),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(data=st.data())
    def test(data: st.DataObject) -> None:
        job = data.draw(jobs(name))
        permutation = data.draw(st.permutations(range(len(job[0]))))
        names = data.draw(
            st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=4), min_size=5, max_size=5, unique=True)
        )
        _check(name, job, list(permutation), names)

    return test


test_single_choice_ignores_answer_order_and_worker_names = _property("single_choice")
test_multi_choice_ignores_answer_order_and_worker_names = _property("multi_choice")
test_text_ignores_answer_order_and_worker_names = _property("text")
test_number_ignores_answer_order_and_worker_names = _property("number")
test_pairwise_ignores_answer_order_and_worker_names = _property("pairwise")
test_bbox_ignores_answer_order_and_worker_names = _property("bbox")
test_spans_ignores_answer_order_and_worker_names = _property("spans")


def test_every_registered_type_has_its_property_test() -> None:
    assert set(ANSWER_TYPES) == {"single_choice", "multi_choice", "text", "number", "pairwise", "bbox", "spans"}
