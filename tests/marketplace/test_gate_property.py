"""Property: whatever happens to a worker's qualifications and bans, a claim succeeds exactly when, at that moment,
the worker met the job's requirements; so no worker ever holds an assignment they were not entitled to."""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.errors import NotEligible, NoWorkAvailable, TooManyOpenAssignments
from marketplace.models import Assignment, AssignmentStatus, JobQualification
from marketplace.services.assignments import assignment_claim, assignment_release
from qualification.models import Grant
from tests.factories import QualificationFactory, RequesterFactory, UserFactory, WorkerFactory
from tests.marketplace.helpers import launched_job
from workers.models import Ban

pytestmark = pytest.mark.django_db
MIN_SCORE = 0.8
ACTIONS = ["pass_test", "fail_test", "grant_low", "revoke", "expire", "ban", "unban", "claim", "claim", "release"]


def new_world():
    """A fresh job, qualification, workers and admin for each example (the examples share one test transaction)."""
    job = launched_job(RequesterFactory(), n_items=12, items_per_task=1, overlap_min=3, overlap_max=3)
    qualification = QualificationFactory(owner=job.requester)
    JobQualification.objects.create(job=job, qualification=qualification, min_score=MIN_SCORE)
    return job, qualification, WorkerFactory.create_batch(3), UserFactory(is_staff=True)


def entitled(worker, qualification) -> bool:
    """The test's own statement of the rule, independent of the selector under test."""
    now = timezone.now()
    live = [
        g
        for g in Grant.objects.filter(worker=worker, qualification=qualification, revoked_at__isnull=True)
        if g.expires_at is None or g.expires_at > now
    ]
    banned = Ban.objects.filter(worker=worker, lifted_at__isnull=True).exists()
    return not banned and any(g.score >= MIN_SCORE for g in live)


def regrant(worker, qualification, score):
    Grant.objects.filter(worker=worker, qualification=qualification, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason="superseded"
    )
    Grant.objects.create(worker=worker, qualification=qualification, score=score, source="manual", reason="test")


def apply(action, worker, world):
    job, qualification, _, admin = world
    live = Grant.objects.filter(worker=worker, qualification=qualification, revoked_at__isnull=True)
    if action == "pass_test":
        regrant(worker, qualification, 0.9)
    elif action == "grant_low":
        regrant(worker, qualification, 0.6)
    elif action == "revoke":
        live.update(revoked_at=timezone.now(), revoke_reason="test")
    elif action == "expire":
        live.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif action == "ban" and not Ban.objects.filter(worker=worker, lifted_at__isnull=True).exists():
        Ban.objects.create(worker=worker, reason="test", created_by=admin)
    elif action == "unban":
        Ban.objects.filter(worker=worker, lifted_at__isnull=True).update(lifted_at=timezone.now(), lifted_by=admin)
    elif action == "release":
        for assignment in Assignment.objects.filter(worker=worker, status=AssignmentStatus.OPEN):
            assignment_release(assignment_id=assignment.pk, worker=worker)
    elif action == "claim":
        claim(worker, world)
    # "fail_test" changes nothing: a failed attempt grants nothing


def claim(worker, world):
    job, qualification, _, _ = world
    expected = entitled(worker, qualification)
    try:
        assignment_claim(job_id=job.pk, worker=worker)
    except NotEligible:
        assert not expected, "an entitled worker was refused"
    except (TooManyOpenAssignments, NoWorkAvailable):
        assert expected, "an unentitled worker got past the gate"
    else:
        assert expected, "an unentitled worker got an assignment"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 2)), min_size=1, max_size=30))
def test_no_worker_ever_holds_work_they_were_not_entitled_to_at_claim_time(db, steps):
    world = new_world()
    for action, who in steps:
        apply(action, world[2][who], world)
