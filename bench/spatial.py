"""Benchmark: box and span aggregation against their references, on real crowd data and at scale. Run by hand:

    .venv/bin/python bench/spatial.py [--images 100000] [--sentences 100000] [--skip-synthetic]

One default configuration everywhere (no option is tuned per set); everything in one run, so that the ratios
are measured under the same load (the machine is shared).

- **Boxes**, ``shared/datasets/typed/crowdseg_bbox_derived`` (47 objects, one per task, ~41 workers each): our
  ``box_aggregate`` (``min_objects = max_objects = 1``: each task asks for one object) against the per-task
  median of corners, the mean of corners, and the best single workers. Mean IoU with the truth, share of tasks
  at IoU >= 0.5 and >= 0.75. A single worker is compared on the tasks it did: ours on the same tasks.
- **Spans**, ``shared/datasets/typed/conll_ner_mturk`` (6,055 sentences, 47 workers, BIO tags per token): our
  ``span_aggregate`` against token majority vote and token Dawid-Skene (ours, ``dawid_skene``), each token
  sequence read as ``conlleval`` does; entity-level exact precision, recall and F1.
- **Scale**: ``--images`` images x 5 workers x 3 objects and ``--sentences`` sentences x 5 workers (24
  tokens), seeded crowds of ``tests/aggregation/simulate_structured.py`` with spammers and sloppy workers;
  wall time of the aggregation alone (target < 30 s each), peak memory, and the quality against the known truth.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from marketplace.aggregation import Answers, dawid_skene, majority_vote  # noqa: E402
from marketplace.aggregation.bbox import BoxAnswers, box_aggregate  # noqa: E402
from marketplace.aggregation.bbox.geometry import corners, iou  # noqa: E402
from marketplace.aggregation.spans import SpanAnswers, span_aggregate  # noqa: E402
from marketplace.aggregation.spans.bio import tags_to_spans  # noqa: E402
from tests.aggregation.simulate_structured import box_crowd, span_crowd  # noqa: E402

# shared/ sits beside the checkout (/work/main); a worktree sits one level deeper (/work/wt/<name>).
TYPED = next(
    (p / "shared" / "datasets" / "typed" for p in (REPO.parent, REPO.parent.parent) if (p / "shared").is_dir()),
    REPO.parent / "shared" / "datasets" / "typed",
)
SINGLE_WORKER_MIN_TASKS = 5


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = run()
    return time.perf_counter() - started, value


def _iou_line(name: str, scores: np.ndarray, seconds: float | None = None) -> str:
    timing = f"{seconds:8.3f} s" if seconds is not None else " " * 10
    return f"  {name:<44} {scores.mean():.4f}  {(scores >= 0.5).mean():6.1%}  {(scores >= 0.75).mean():6.1%} {timing}"


def boxes() -> None:
    folder = TYPED / "crowdseg_bbox_derived"
    rows = _read(folder / "answers.csv")
    truth_rows = {row["task"]: json.loads(row["answer"]) for row in _read(folder / "truth.csv")}
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    workers = list(dict.fromkeys(row["worker"] for row in rows))
    task_of = np.array([tasks.index(row["task"]) for row in rows])
    worker_of = np.array([workers.index(row["worker"]) for row in rows])
    drawn = np.array([json.loads(row["answer"]) for row in rows], dtype=float)
    truth = corners(np.array([truth_rows[t] for t in tasks], dtype=float))
    answers = BoxAnswers(
        tasks=task_of,
        workers=worker_of,
        box_responses=np.arange(len(rows)),
        boxes=drawn,
        labels=np.zeros(len(rows), dtype=np.int64),
        n_tasks=len(tasks),
        n_workers=len(workers),
    )
    seconds, result = _timed(lambda: box_aggregate(answers, min_objects=1, max_objects=1))
    ours = iou(corners(result.box[np.argsort(result.task)]), truth)
    boxes_corners = corners(drawn)
    median = np.array([np.median(boxes_corners[task_of == t], axis=0) for t in range(len(tasks))])
    mean = np.array([boxes_corners[task_of == t].mean(axis=0) for t in range(len(tasks))])
    print(f"\nBoxes: crowdseg_bbox_derived ({len(tasks)} objects, {len(workers)} workers, {len(rows)} boxes)")
    print(f"  {'method':<44} {'mIoU':>6}  {'>=0.5':>6}  {'>=0.75':>6}       time")
    print(_iou_line("ours: box_aggregate (min = max = 1 object)", ours, seconds))
    print(_iou_line("median of corners", iou(median, truth)))
    print(_iou_line("mean of corners", iou(mean, truth)))
    _consensus_ceiling(task_of, boxes_corners, truth, tasks)
    _single_workers(task_of, worker_of, boxes_corners, truth, ours, workers)


def _consensus_ceiling(task_of, boxes_corners, truth, tasks) -> None:
    """What no method that follows the crowd can beat: the objects on which at least half of the workers' own boxes
    reach IoU >= 0.5 with the truth (on the others, the crowd drew something else)."""
    scores = iou(boxes_corners, truth[task_of])
    share = np.bincount(task_of, scores >= 0.5) / np.bincount(task_of)
    lost = [f"{tasks[t]} ({share[t]:.0%} of its workers)" for t in np.flatnonzero(share < 0.5)]
    print(f"  consensus ceiling at IoU >= 0.5: {(share >= 0.5).mean():6.1%}; lost: {', '.join(lost) or 'none'}")


def _single_workers(task_of, worker_of, boxes_corners, truth, ours, workers) -> None:
    scores = iou(boxes_corners, truth[task_of])
    counts = np.bincount(worker_of)
    means = np.bincount(worker_of, scores) / np.maximum(counts, 1)
    eligible = np.flatnonzero(counts >= SINGLE_WORKER_MIN_TASKS)
    print(f"  best single workers (>= {SINGLE_WORKER_MIN_TASKS} tasks), each on its own tasks, against ours there:")
    for w in eligible[np.argsort(-means[eligible])][:5]:
        mine = worker_of == w
        exact = int((np.abs(boxes_corners[mine] - truth[task_of[mine]]).max(axis=1) == 0).sum())
        theirs, same = scores[mine], ours[task_of[mine]]
        verdict = "ours ahead" if same.mean() > theirs.mean() else "ours BEHIND"
        print(
            f"    worker {workers[w]:>4} ({counts[w]:2d} tasks, {exact:2d} boxes identical to the truth): "
            f"{theirs.mean():.4f} {(theirs >= 0.75).mean():6.1%} vs ours {same.mean():.4f} {(same >= 0.75).mean():6.1%}"
            f"  {verdict}"
        )


LABELS = ["PER", "LOC", "ORG", "MISC"]
TAGS = ["O"] + [f"{prefix}-{label}" for label in LABELS for prefix in ("B", "I")]


def spans() -> None:
    folder = TYPED / "conll_ner_mturk"
    rows = _read(folder / "answers.csv")
    truth = {row["task"]: json.loads(row["answer"]) for row in _read(folder / "truth.csv")}
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    index = {t: i for i, t in enumerate(tasks)}
    workers = sorted({row["worker"] for row in rows})
    worker_index = {w: i for i, w in enumerate(workers)}
    lengths = np.array([len(truth[t]) for t in tasks])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    parsed = [json.loads(row["answer"]) for row in rows]
    gold = {(index[t], *span) for t in tasks for span in tags_to_spans(truth[t])}
    span_rows = [(r, s, e, LABELS.index(label)) for r, tags in enumerate(parsed) for s, e, label in tags_to_spans(tags)]
    answers = SpanAnswers(
        tasks=[index[row["task"]] for row in rows],
        workers=[worker_index[row["worker"]] for row in rows],
        span_responses=[r for r, *_ in span_rows],
        starts=[s for _, s, _, _ in span_rows],
        ends=[e for *_, e, _ in span_rows],
        labels=[lab for *_, lab in span_rows],
        lengths=lengths,
        n_workers=len(workers),
        n_classes=len(LABELS),
    )
    tokens = Answers(
        tasks=np.concatenate(
            [offsets[index[row["task"]]] + np.arange(len(p)) for row, p in zip(rows, parsed, strict=True)]
        ),
        workers=np.concatenate(
            [np.full(len(p), worker_index[row["worker"]]) for row, p in zip(rows, parsed, strict=True)]
        ),
        labels=np.array([TAGS.index(tag) for p in parsed for tag in p]),
        n_tasks=int(offsets[-1]),
        n_workers=len(workers),
        n_classes=len(TAGS),
    )

    def from_tokens(labels: np.ndarray) -> set[tuple]:
        return {
            (t, *span)
            for t in range(len(tasks))
            for span in tags_to_spans([TAGS[x] for x in labels[offsets[t] : offsets[t + 1]]])
        }

    runs = [
        ("ours: span_aggregate (sequence model)", lambda: _found_spans(span_aggregate(answers))),
        ("token majority vote", lambda: from_tokens(majority_vote(tokens).labels)),
        ("token Dawid-Skene (ours, dawid_skene)", lambda: from_tokens(dawid_skene(tokens).labels)),
    ]
    print(
        f"\nSpans: conll_ner_mturk ({len(tasks)} sentences, {len(workers)} workers, {len(rows)} answers, "
        f"{len(gold)} true entities); entity-level exact match"
    )
    print(f"  {'method':<44} {'P':>6}  {'R':>6}  {'F1':>6}       time")
    for name, run in runs:
        seconds, found = _timed(run)
        hits = len(found & gold)
        precision, recall = hits / len(found), hits / len(gold)
        f1 = 2 * precision * recall / (precision + recall)
        print(f"  {name:<44} {precision:.4f}  {recall:.4f}  {f1:.4f} {seconds:8.3f} s")


def _found_spans(result) -> set[tuple]:
    return {
        (t, s, e, LABELS[lab])
        for t, s, e, lab in zip(
            result.task.tolist(), result.start.tolist(), result.end.tolist(), result.label.tolist(), strict=True
        )
    }


def synthetic(n_images: int, n_sentences: int) -> None:
    print(
        f"\nScale (seeded crowds; target < 30 s each; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        f", OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})"
    )
    crowd = box_crowd(n_images, seed=11)
    seconds, result = _timed(lambda: box_aggregate(crowd.answers))
    truth = corners(crowd.truth_boxes)
    candidates = result.task[:, None] * 3 + np.arange(3)[None, :]
    overlaps = np.stack([iou(corners(result.box), truth[candidates[:, k]]) for k in range(3)], axis=1)
    matched = candidates[np.arange(len(result.task)), overlaps.argmax(axis=1)]
    right = (overlaps.max(axis=1) >= 0.5) & (result.label == crowd.truth_labels[matched])
    print(
        f"  boxes: {n_images:,} images x 5 workers x 3 objects ({len(crowd.answers.labels):,} boxes): {seconds:.1f} s"
        f"; precision {right.mean():.3f}, recall {len(np.unique(matched[right])) / len(truth):.3f}"
        f", mean IoU of the matches {overlaps.max(axis=1)[right].mean():.3f}; peak RSS {_peak_mb():.0f} MB"
    )
    sentences = span_crowd(n_sentences, seed=11)
    seconds, result = _timed(lambda: span_aggregate(sentences.answers))
    gold = set(
        zip(
            sentences.truth_tasks.tolist(),
            sentences.truth_starts.tolist(),
            sentences.truth_ends.tolist(),
            sentences.truth_labels.tolist(),
            strict=True,
        )
    )
    found = set(
        zip(result.task.tolist(), result.start.tolist(), result.end.tolist(), result.label.tolist(), strict=True)
    )
    f1 = 2 * len(found & gold) / (len(found) + len(gold))
    print(
        f"  spans: {n_sentences:,} sentences x 5 workers ({len(sentences.answers.starts):,} spans): {seconds:.1f} s"
        f"; exact-span F1 {f1:.3f}, {result.iterations} EM iterations; peak RSS {_peak_mb():.0f} MB"
    )


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--sentences", type=int, default=100_000)
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    boxes()
    spans()
    if not args.skip_synthetic:
        synthetic(args.images, args.sentences)


if __name__ == "__main__":
    main()
