"""A requester cancels while thirty workers claim and submit, on PostgreSQL with real concurrent connections: once
the cancel commits no claim succeeds, the refund keeps exactly what the open work can still cost, and every piece
of work accepted is paid on approval. On SQLite (whose writers take turns) a claim after a cancel is refused too."""

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from marketplace.errors import NotEligible, NoWorkAvailable
from marketplace.models import Assignment, AssignmentStatus, Job, JobStatus, ReviewStatus
from marketplace.selectors import job_slots_owed
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.jobs import job_transition
from marketplace.services.reviews import assignment_approve
from payments.selectors import account_escrow_get
from tests.factories import WorkerFactory
from tests.marketplace.helpers import answers_for, launched_job
from tests.payments.invariants import ledger_invariant_violations
from tests.threads import run_in_threads

ROOT = Path(__file__).resolve().parents[2]
PRICE = 30  # the factory's reward 25 + 20% fee
WORKERS = 30


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql_only("races the claim's trigger and row locks against the cancel's (SQLite: the test below)")
@pytest.mark.parametrize("round_", range(4))
def test_a_cancel_racing_thirty_workers_refuses_every_later_claim_and_keeps_what_open_work_costs(requester, round_):
    job = launched_job(requester, n_items=80, items_per_task=1, overlap_min=3, overlap_max=3, gold_ratio="0")
    workers = WorkerFactory.create_batch(WORKERS)
    submits, cancelled = [0], threading.Event()
    lock = threading.Lock()

    def work(i: int) -> list[str]:
        if i == WORKERS:  # the requester: cancels once the crowd is in full swing
            while submits[0] < 40 + 10 * round_:
                time.sleep(0.001)
            job_transition(job=Job.objects.get(pk=job.pk), action="cancel")
            cancelled.set()
            return []
        worker, rng, refusals = workers[i], random.Random(i), []
        while True:
            try:
                held = assignment_claim(job_id=job.pk, worker=worker, rng=rng)
            except NotEligible as refused:
                assert refused.extra["reason"] == "job_not_active"
                return refusals + ["refused after the cancel" if cancelled.is_set() else "refused"]
            except NoWorkAvailable:
                if cancelled.is_set():
                    return refusals
                continue
            assignment_submit(assignment_id=held.pk, worker=worker, answers=answers_for(held))  # accepted work
            with lock:
                submits[0] += 1

    run_in_threads(WORKERS + 1, work)

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    late = Assignment.objects.filter(job=job, created_at__gte=job.finished_at)
    assert list(late.values_list("id", flat=True)) == []
    assert not Assignment.objects.filter(job=job, status=AssignmentStatus.OPEN).exists()
    escrow = account_escrow_get(job_id=job.pk, currency="USD")
    owed = Assignment.objects.filter(job=job, review_status=ReviewStatus.PENDING, status=AssignmentStatus.SUBMITTED)
    assert escrow.balance == owed.count() * PRICE == job_slots_owed(job=job) * PRICE  # kept exactly, refunded the rest
    for assignment_id in owed.values_list("id", flat=True):
        assignment_approve(assignment_id=assignment_id)  # every accepted submission is paid
    escrow.refresh_from_db()
    assert escrow.balance == 0
    assert ledger_invariant_violations() == []


def test_on_sqlite_a_claim_after_a_cancel_is_refused_and_its_open_work_is_kept(tmp_path):
    """SQLite takes the write lock at BEGIN (`BEGIN IMMEDIATE`), so a claim and a cancel never interleave; the claim
    that comes after is refused by the eligibility rule, as any claim on a cancelled job."""
    script = ROOT / "tests" / "marketplace" / "sqlite_cancel_race.py"
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'race.sqlite3'}",
        "REDIS_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    env.pop("SECRET_KEY", None)

    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "ok"
