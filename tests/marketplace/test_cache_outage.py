"""With the Redis cache unreachable, work goes on: throttles and counters fail open with a logged warning, and
nothing that runs after a commit turns a committed request into a 500.

Here the cache points at a port nobody listens on; tests/faults/test_redis_down.py stops a real Redis mid-test.
"""

import socket

import pytest
from django.core.cache import caches

from marketplace import cache as crowd_cache
from marketplace.cache import cache_count
from marketplace.models import Answer, Assignment, AssignmentStatus
from tests.marketplace.helpers import launched_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache_down(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {"BACKEND": "marketplace.cache.RedisCache", "LOCATION": f"redis://127.0.0.1:{closed_port}/0"}
    }
    crowd_cache.cache_outages_forget()
    yield
    crowd_cache.cache_outages_forget()


def test_claims_and_submits_go_on_while_the_cache_is_down(api, requester, worker, settings, cache_down, caplog):
    settings.AGGREGATE_EVERY_ANSWERS = 1  # every submit would count answers in the cache and enqueue a run
    job = launched_job(requester, n_items=20, items_per_task=2, overlap_min=1, overlap_max=1)
    client = api.as_user(worker)

    claimed = client.post(f"/api/v1/work/jobs/{job.pk}/claim/")
    answers = [{"position": item["position"], "answer": "cat"} for item in claimed.json()["items"]]
    submitted = client.post(f"/api/v1/work/assignments/{claimed.json()['id']}/submit/", {"answers": answers})
    again = client.post(f"/api/v1/work/jobs/{job.pk}/claim/")

    assert (claimed.status_code, submitted.status_code, again.status_code) == (201, 200, 201)
    assert Assignment.objects.get(pk=claimed.json()["id"]).status == AssignmentStatus.SUBMITTED
    assert Answer.objects.filter(assignment_id=claimed.json()["id"]).count() == len(answers)
    assert "failing open" in caplog.text


def test_the_cache_answers_its_fallbacks_and_tries_again_after_a_pause(cache_down, monkeypatch, caplog):
    cache = caches["default"]

    assert cache.get("k", "fallback") == "fallback"
    assert cache_count("throttle_claim_7:1") is None  # unknown: a throttle lets the request through
    assert cache.add("k", 1) is False
    assert cache.get_many(["a", "b"]) == {}
    cache.set("k", 1)
    cache.delete("k")
    assert caplog.text.count("failing open") == 1  # one warning per outage, not per call

    calls = []
    monkeypatch.setattr(crowd_cache.redis.RedisCache, "get", lambda *args, **kwargs: calls.append(args) or "v")
    assert cache.get("k") is None  # within the pause: Redis is not even asked
    later = crowd_cache.monotonic() + crowd_cache.RETRY_AFTER_SECONDS
    monkeypatch.setattr(crowd_cache, "monotonic", lambda: later)
    assert cache.get("k") == "v"
    assert len(calls) == 1
    assert "cache is back" in caplog.text
