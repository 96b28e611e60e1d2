"""Adaptive overlap in the marketplace: after each aggregation, give one more slot to the micro-tasks that still
hold an uncertain item, up to `overlap_max`; stop the others at the answers they have.

The rule itself is pure (`marketplace.aggregation.adaptive.overlap_targets`, where the design choice is
explained: a micro-task keeps receiving assignments while any of its items is uncertain). This module feeds it
from the database and writes back the targets that changed.
"""

import numpy as np

from marketplace.aggregation.adaptive import overlap_targets
from marketplace.models import Item, Job, MicroTask
from marketplace.services.funding import job_slots_add


def overlap_adapt(*, job: Job) -> int:
    """Raise the overlap target of the job's uncertain micro-tasks; returns how many it asked to raise.

    Targets only ever rise, so a slot a worker holds is never taken back and `assigned_count <= overlap_target`
    keeps holding. An item's answer count is its task's submissions (answers of blocked workers, left out of the
    aggregation, still occupy a slot: the lower confidence they leave is what earns the task another answer).
    The raises go through `funding.job_slots_add`, which locks the tasks, then the job: a job no longer active or
    paused gets none; raises within `overlap_max` are paid by the launch's reserve (a slot another cause already
    spent it on is paid from the requester's balance, or waits for funds).
    """
    tasks = list(
        MicroTask.objects.filter(job=job).order_by("id").values_list("id", "overlap_target", "submitted_count")
    )
    if not tasks:
        return 0
    task_ids = np.array([t[0] for t in tasks], dtype=np.int64)
    current = np.array([t[1] for t in tasks], dtype=np.int64)
    submitted = np.array([t[2] for t in tasks], dtype=np.int64)
    rows = Item.objects.filter(job=job, is_gold=False).values_list("task_id", "result__confidence")
    item_task = np.array([r[0] for r in rows], dtype=np.int64)
    confidence = np.array([r[1] if r[1] is not None else 0.0 for r in rows], dtype=np.float64)
    task_of_item = np.searchsorted(task_ids, item_task)
    # A target may sit above overlap_max when quality control gave a task a replacement slot for a blocked
    # worker's answer: the policy sees it capped, and the result never goes below the real target.
    targets = overlap_targets(
        confidence=confidence,
        answer_counts=np.minimum(submitted[task_of_item], job.overlap_max),
        task_of_item=task_of_item,
        current_targets=np.minimum(current, job.overlap_max),
        overlap_min=job.overlap_min,
        overlap_max=job.overlap_max,
        confidence_target=job.confidence_target,
    )
    targets = np.maximum(targets, current)
    changed = np.flatnonzero(targets != current)
    if len(changed):
        # Targets, not increments: a raise a concurrent run (or a waiting slot) already asked for is not asked twice.
        job_slots_add(job=job, raise_to={int(task_ids[i]): int(targets[i]) for i in changed.tolist()})
    return len(changed)
