"""Redis (cache and broker) stops in the middle of real claims and submits: they keep answering 201/200, what they
commit stays committed, and what the after-commit hooks could not do is left for the sweepers."""

import time

import pytest

from marketplace.models import Answer, Assignment, AssignmentStatus, JobAggregate, JobStatus, WebhookDelivery
from marketplace.services.webhooks import webhook_endpoint_create
from tests.faults.conftest import broker_at
from tests.marketplace.helpers import launched_job

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def work(client, job) -> tuple[int, int, float]:
    """Claim and submit once; the two status codes and the slower request's seconds."""
    started = time.monotonic()
    claimed = client.post(f"/api/v1/work/jobs/{job.pk}/claim/")
    claim_seconds = time.monotonic() - started
    assert claimed.status_code == 201, claimed.content
    answers = [{"position": item["position"], "answer": "cat"} for item in claimed.json()["items"]]
    started = time.monotonic()
    submitted = client.post(f"/api/v1/work/assignments/{claimed.json()['id']}/submit/", {"answers": answers})
    return claimed.status_code, submitted.status_code, max(claim_seconds, time.monotonic() - started)


def test_claims_and_submits_keep_working_when_redis_stops_mid_test(
    private_redis, cache_at, settings, api, requester, worker, caplog
):
    settings.AGGREGATE_EVERY_ANSWERS = 1  # each submit counts its answers in the cache and asks for a run
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    cache_at(private_redis.url)
    with broker_at(private_redis.url):
        job = launched_job(requester, n_items=6, items_per_task=2, overlap_min=1, overlap_max=1, max_open_assignments=1)
        webhook_endpoint_create(owner=requester, job=job, url="http://127.0.0.1:9/hooks")  # only its enqueue matters
        client = api.as_user(worker)
        assert work(client, job)[:2] == (201, 200)  # with Redis up

        private_redis.stop()
        down = [work(client, job) for _ in range(2)]  # the second submit completes the job

    assert [codes for *codes, _ in down] == [[201, 200], [201, 200]]
    assert max(seconds for *_, seconds in down) < 5
    submitted = Assignment.objects.filter(job=job, status=AssignmentStatus.SUBMITTED)
    assert submitted.count() == 3
    assert Answer.objects.filter(assignment__in=submitted, is_gold=False).count() == 6
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    # What the hooks could not send is on record for the sweepers: the final run, and the webhook deliveries.
    assert JobAggregate.objects.get(job=job).requested_at is not None
    assert WebhookDelivery.objects.filter(job_id=job.pk, status="pending").count() >= 2
    assert "failing open" in caplog.text
