"""Continuous jobs (a training loop): items appended to a running job are funded as they arrive (or wait for the
requester's funds, who is told), a continuous job stays open for the next batch, and `job.items_settled` tells the
requester which items are done, once."""

import pytest

from marketplace.errors import NoWorkAvailable
from marketplace.models import Item, JobStatus, MicroTask, WebhookDelivery
from marketplace.selectors import job_slots_owed
from marketplace.services.aggregation import job_aggregate
from marketplace.services.assignments import assignment_claim
from marketplace.services.jobs import job_transition, job_update
from marketplace.services.uploads import upload_receive
from payments.services.deposits import deposit_create
from tests.factories import WorkerFactory
from tests.marketplace.helpers import csv_file, csv_rows, launched_job, work_on
from tests.marketplace.invariants import assignment_invariant_violations
from tests.marketplace.test_slot_funding import available, escrow
from tests.payments.invariants import ledger_invariant_violations

pytestmark = pytest.mark.django_db
PRICE = 12  # reward 10 + the 20% fee


def running_job(requester, **fields):
    """A launched job of two single-item tasks, overlap 1, reward 10, no gold."""
    fields = {"items_per_task": 1, "overlap_min": 1, "overlap_max": 1, "max_open_assignments": 10, **fields}
    return launched_job(requester, n_items=2, reward_cents=10, **fields)


def append(job, requester, n: int, start: int):
    return upload_receive(job=job, user=requester, file=csv_file(csv_rows(n, start=start)), kind="items")


def test_items_appended_to_a_running_job_are_funded_from_the_balance_and_claimed(requester, api):
    job = running_job(requester)
    deposit_create(user=requester, amount=3 * PRICE, currency="USD", idempotency_key="more")
    before = escrow(job)

    upload = append(job, requester, 3, start=100)

    assert upload.tasks_created == 3
    assert (escrow(job) - before, available(requester)) == (3 * PRICE, 0)
    assert escrow(job) >= job_slots_owed(job=job) * PRICE
    worker = WorkerFactory()
    claimed = [assignment_claim(job_id=job.pk, worker=worker).task.number for _ in range(5)]
    assert sorted(claimed) == [1, 2, 3, 4, 5]
    assert assignment_invariant_violations() == [] and ledger_invariant_violations() == []


def test_without_money_the_new_tasks_wait_and_a_deposit_opens_them(requester, requester_api, make_endpoint, callbacks):
    job = running_job(requester)
    make_endpoint(requester, job, events=["job.funds_needed"])

    append(job, requester, 2, start=100)

    new = MicroTask.objects.filter(job=job, number__gt=2)
    assert list(new.values_list("overlap_target", "unfunded_slots")) == [(0, 1), (0, 1)]
    [told] = WebhookDelivery.objects.filter(event_type="job.funds_needed")
    assert told.payload["data"]["deposit_needed_cents"] == 2 * PRICE
    progress = requester_api.get(f"/api/v1/jobs/{job.pk}/progress/").json()
    assert progress["slots_waiting_for_funds"] == 2
    worker = WorkerFactory()
    [assignment_claim(job_id=job.pk, worker=worker) for _ in range(2)]
    with pytest.raises(NoWorkAvailable):
        assignment_claim(job_id=job.pk, worker=worker)

    with callbacks(execute=True):
        deposit_create(user=requester, amount=2 * PRICE, currency="USD", idempotency_key="top-up")

    assert list(new.values_list("overlap_target", "unfunded_slots")) == [(1, 0), (1, 0)]
    assert assignment_claim(job_id=job.pk, worker=worker).task.number in (3, 4)
    assert ledger_invariant_violations() == []


def test_a_continuous_job_stays_open_for_the_next_batch_and_completes_once_turned_off(requester, callbacks):
    job = running_job(requester, continuous=True)
    worker = WorkerFactory()
    for _ in range(2):
        work_on(job, worker, "cat", callbacks)
    job.refresh_from_db()
    assert job.status == JobStatus.ACTIVE  # every task done, but more items may come

    deposit_create(user=requester, amount=PRICE, currency="USD", idempotency_key="batch-2")
    append(job, requester, 1, start=100)
    work_on(job, worker, "cat", callbacks)
    with callbacks(execute=True):  # completing aggregates, once committed
        job = job_update(job=job, continuous=False)

    assert job.status == JobStatus.COMPLETED
    assert Item.objects.filter(job=job, result__isnull=False).count() == 3


def test_settled_items_are_announced_once_with_their_labels(requester, make_endpoint, callbacks):
    job = running_job(requester, continuous=True)
    make_endpoint(requester, job, events=["job.items_settled"])
    worker = WorkerFactory()
    work_on(job, worker, "cat", callbacks)

    job_aggregate(job_id=job.pk)
    job_aggregate(job_id=job.pk)  # a second run announces nothing new

    [first] = WebhookDelivery.objects.filter(event_type="job.items_settled")
    items = first.payload["data"]["items"]
    assert [(i["label"], i["external_id"]) for i in items] == [("cat", "img-1")]
    assert first.payload["data"]["settled_items_total"] == 1

    work_on(job, worker, "cat", callbacks)
    job_aggregate(job_id=job.pk)

    deliveries = WebhookDelivery.objects.filter(event_type="job.items_settled").order_by("id")
    announced = [d.payload["data"]["items"] for d in deliveries]
    assert [[i["external_id"] for i in batch] for batch in announced] == [["img-1"], ["img-2"]]


def test_a_finished_job_takes_no_more_items(requester):
    job = running_job(requester)
    job_transition(job=job, action="cancel")

    with pytest.raises(Exception, match="accepts no items uploads"):
        append(job, requester, 1, start=100)
