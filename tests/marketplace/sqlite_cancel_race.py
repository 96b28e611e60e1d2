"""Run by tests/marketplace/test_cancel_race.py in a process of its own, on an embedded SQLite file: eight workers
claim and submit from threads while the requester cancels. Prints "ok" when every rule held."""

import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402

from marketplace.errors import NotEligible, NoWorkAvailable  # noqa: E402
from marketplace.models import Assignment, AssignmentStatus, Job, JobStatus, ReviewStatus  # noqa: E402
from marketplace.selectors import job_slots_owed  # noqa: E402
from marketplace.services.assignments import assignment_claim, assignment_submit  # noqa: E402
from marketplace.services.jobs import job_transition  # noqa: E402
from marketplace.services.reviews import assignment_approve  # noqa: E402
from payments.selectors import account_escrow_get  # noqa: E402
from tests.factories import RequesterFactory, WorkerFactory  # noqa: E402
from tests.marketplace.helpers import answers_for, launched_job  # noqa: E402
from tests.payments.invariants import ledger_invariant_violations  # noqa: E402

CANCEL_AFTER = 10  # submits: the cancel lands mid-way through the job's 200 slots, never after its end
RACE_WINDOW = 40  # submits the workers may make while the cancel is under way; then they wait for it to land


def main() -> None:
    assert connection.vendor == "sqlite"
    call_command("migrate", verbosity=0)
    job = launched_job(RequesterFactory(), n_items=100, items_per_task=1, overlap_min=2, overlap_max=2, gold_ratio="0")
    workers = WorkerFactory.create_batch(8)
    submits, cancelling, cancelled = [0], threading.Event(), threading.Event()

    def work(i: int) -> None:
        try:
            if i == len(workers):
                while submits[0] < CANCEL_AFTER:
                    time.sleep(0.001)
                cancelling.set()  # the workers go on: the cancel races their claims and submits
                try:
                    job_transition(job=Job.objects.get(pk=job.pk), action="cancel")
                finally:
                    cancelled.set()  # also if it failed: no worker waits for it forever (the checks below fail)
                return
            rng = random.Random(i)
            while True:
                try:
                    held = assignment_claim(job_id=job.pk, worker=workers[i], rng=rng)
                except NotEligible:
                    return
                except NoWorkAvailable:
                    if cancelled.is_set():
                        return
                    continue
                assignment_submit(assignment_id=held.pk, worker=workers[i], answers=answers_for(held))
                submits[0] += 1
                if submits[0] >= CANCEL_AFTER:  # on a loaded machine the workers could finish the job first
                    cancelling.wait()
                if submits[0] >= CANCEL_AFTER + RACE_WINDOW:  # SQLite's write lock is not fair: a cancel waiting
                    cancelled.wait()  # for it could watch the workers take all 200 slots; they race it for 40
                time.sleep(0.002)  # let the requester's thread in: the cancel must land mid-way, not after the end
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(workers) + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED, job.status
    assert not Assignment.objects.filter(job=job, created_at__gte=job.finished_at).exists()
    try:
        assignment_claim(job_id=job.pk, worker=WorkerFactory())
        raise AssertionError("a claim on a cancelled job succeeded")
    except NotEligible as refused:
        assert refused.extra["reason"] == "job_not_active"
    pending = Assignment.objects.filter(job=job, status=AssignmentStatus.SUBMITTED, review_status=ReviewStatus.PENDING)
    escrow = account_escrow_get(job_id=job.pk, currency="USD")
    assert escrow.balance == pending.count() * 30 == job_slots_owed(job=job) * 30, escrow.balance
    for assignment_id in pending.values_list("id", flat=True):
        assignment_approve(assignment_id=assignment_id)
    assert ledger_invariant_violations() == []
    print("ok")


if __name__ == "__main__":
    main()
