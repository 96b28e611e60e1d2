"""The assignment engine: workers claim micro-tasks (with hidden gold), submit answers, release or let them expire.

One module per use case, re-exported here so that callers import the engine from one place:
- `assignment_claims`: `assignment_claim` (the eligibility rule, the worker's slot, a free task, the gold draw);
- `assignment_gold`: the gold draw;
- `assignment_submits`: `assignment_submit`, `assignment_submit_and_claim`;
- `assignment_release`: `assignment_release`, `assignments_release_open`, `assignment_expire_overdue`;
- `assignment_own`: the worker's own assignment read under its lock (submit, release);
- `assignment_sql`: the hand-written SQL of all of them, composed as (sql, params) pairs.

Invariants, each also held by the database:
- a task never has more open + submitted assignments than its overlap target (`MicroTask.assigned_count`, checked
  by `task_never_over_assigned`);
- a worker gets a task at most once (`assignment_one_per_task_and_worker`) and a gold item at most once
  (`gold_seen_once_per_worker`), and answers an item at most once (`answer_one_per_item_and_worker`);
- gold answers never count toward a task's overlap or the job's completion: only assignments count, per task;
- once the job's cancel (or completion, or pause) commits, no claim commits: a trigger checks the job's status
  under a lock as each assignment is inserted (see `assignment_claims.JOB_ACTIVE_CONSTRAINT`).

Locks, always in this order, so no two of these transactions wait on each other in a cycle:
- claim: the worker's `Participation` row (serialises that worker's claims on the job), then one task taken with
  `FOR UPDATE SKIP LOCKED` (so concurrent claimers never wait on each other);
- submit, release, expiry: the assignment, then its task, then the participation, then (on completion) the job.
"""

from marketplace.services.assignment_claims import LAZY_EXPIRY_LIMIT, assignment_claim
from marketplace.services.assignment_release import (
    assignment_expire_overdue,
    assignment_release,
    assignments_release_open,
)
from marketplace.services.assignment_submits import assignment_submit, assignment_submit_and_claim

__all__ = [
    "LAZY_EXPIRY_LIMIT",
    "assignment_claim",
    "assignment_expire_overdue",
    "assignment_release",
    "assignment_submit",
    "assignment_submit_and_claim",
    "assignments_release_open",
]
