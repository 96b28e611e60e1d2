"""Taking a test: drawing questions, grading, granting on a pass, retakes, time limits, and what workers see."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from qualification.errors import (
    AlreadyQualified,
    AlreadySubmitted,
    AttemptClosed,
    AttemptLimitReached,
    InvalidAnswers,
    NotEligible,
    NotFound,
    QualificationInactive,
    QualificationRevoked,
    RetakeCooldown,
)
from qualification.models import Attempt, Grant
from qualification.services.attempts import attempt_expire_overdue, attempt_start, attempt_submit
from qualification.services.grants import grant_manual, grant_revoke
from qualification.tasks import attempt_expire_overdue_task
from tests.factories import WorkerFactory
from tests.qualification.conftest import age, answers, make_overdue, make_qualification

pytestmark = pytest.mark.django_db


def start(qualification, worker) -> Attempt:
    attempt, created = attempt_start(qualification_id=qualification.pk, worker=worker, rng=random.Random(3))
    assert created
    return attempt


def submit(attempt, worker, *, right=None) -> Attempt:
    return attempt_submit(attempt_id=attempt.pk, worker=worker, answers=answers(attempt, right=right))


class TestStarting:
    def test_an_attempt_draws_the_configured_number_of_distinct_questions_from_the_pool(self, qualification, worker):
        attempt = start(qualification, worker)

        pool = set(qualification.questions.values_list("id", flat=True))
        assert len(attempt.question_ids) == 5
        assert len(set(attempt.question_ids)) == 5
        assert set(attempt.question_ids) <= pool
        assert attempt.status == Attempt.Status.STARTED
        assert attempt.deadline == pytest.approx(
            attempt.started_at + qualification.time_limit, abs=timedelta(seconds=1)
        )

    def test_starting_again_while_an_attempt_is_in_progress_returns_it(self, qualification, worker):
        first = start(qualification, worker)

        again, created = attempt_start(qualification_id=qualification.pk, worker=worker)

        assert not created
        assert again.pk == first.pk
        assert Attempt.objects.count() == 1

    def test_a_worker_cannot_take_the_test_of_their_own_qualification(self, requester):
        requester.is_worker = True
        requester.save()
        own = make_qualification(requester)

        with pytest.raises(NotEligible) as refused:
            attempt_start(qualification_id=own.pk, worker=requester)

        assert refused.value.extra["reason"] == "own_qualification"

    def test_a_closed_test_takes_no_new_attempt(self, qualification, worker):
        qualification.is_active = False
        qualification.save()

        with pytest.raises(QualificationInactive):
            attempt_start(qualification_id=qualification.pk, worker=worker)

    def test_a_missing_qualification_is_not_found(self, worker):
        with pytest.raises(NotFound):
            attempt_start(qualification_id=123456, worker=worker)


class TestGrading:
    def test_a_passing_attempt_is_graded_and_grants_the_qualification(self, qualification, worker):
        attempt = start(qualification, worker)

        submit(attempt, worker, right=4)  # 4 of 5 = 0.8, the pass mark

        attempt.refresh_from_db()
        assert attempt.status == Attempt.Status.GRADED
        assert attempt.score == 0.8
        assert attempt.passed is True
        assert attempt.graded_at is not None
        grant = Grant.objects.get(worker=worker, qualification=qualification)
        assert grant.source == Grant.Source.TEST
        assert grant.attempt == attempt
        assert grant.score == 0.8
        assert grant.revoked_at is None
        assert grant.expires_at == pytest.approx(timezone.now() + timedelta(days=30), abs=timedelta(seconds=5))

    def test_a_failing_attempt_grants_nothing(self, qualification, worker):
        attempt = start(qualification, worker)

        submit(attempt, worker, right=3)

        attempt.refresh_from_db()
        assert attempt.score == 0.6
        assert attempt.passed is False
        assert not Grant.objects.exists()

    def test_the_pass_mark_is_compared_exactly(self, requester, worker):
        """7 of 10 is 0.7 exactly, though 7 / 10 as a float is a hair below Decimal("0.7")."""
        seventy = make_qualification(requester, questions_per_attempt=10, pass_mark=Decimal("0.7"))
        attempt = start(seventy, worker)

        submit(attempt, worker, right=7)

        attempt.refresh_from_db()
        assert attempt.passed is True

    def test_a_qualification_without_validity_grants_forever(self, requester, worker):
        forever = make_qualification(requester, valid_for=None)

        submit(start(forever, worker), worker)

        assert Grant.objects.get().expires_at is None

    def test_every_position_must_be_answered_with_a_valid_class(self, qualification, worker):
        attempt = start(qualification, worker)
        given = answers(attempt)[:3] + [{"position": 3, "answer": "horse"}, {"position": 9, "answer": "cat"}]

        with pytest.raises(InvalidAnswers) as refused:
            attempt_submit(attempt_id=attempt.pk, worker=worker, answers=given)

        errors = refused.value.extra["errors"]
        assert [(e["position"], e["field"]) for e in errors] == [(3, "answer"), (4, "answer"), (9, "position")]
        attempt.refresh_from_db()
        assert attempt.status == Attempt.Status.STARTED
        assert attempt.answers is None

    def test_the_same_submit_again_returns_the_same_result_and_writes_nothing(self, qualification, worker):
        attempt = start(qualification, worker)
        first = submit(attempt, worker)

        again = submit(attempt, worker)

        assert (again.pk, again.score, again.passed, again.graded_at) == (
            first.pk,
            first.score,
            first.passed,
            first.graded_at,
        )
        assert Grant.objects.count() == 1

    def test_a_different_second_submit_is_refused(self, qualification, worker):
        attempt = start(qualification, worker)
        submit(attempt, worker)

        with pytest.raises(AlreadySubmitted):
            submit(attempt, worker, right=0)

        attempt.refresh_from_db()
        assert attempt.score == 1.0

    def test_a_submit_after_the_time_limit_is_refused_and_the_attempt_expires(self, qualification, worker):
        attempt = start(qualification, worker)
        make_overdue(attempt)

        with pytest.raises(AttemptClosed):
            submit(attempt, worker)

        attempt.refresh_from_db()
        assert attempt.status == Attempt.Status.EXPIRED
        assert attempt.score is None
        assert not Grant.objects.exists()
        with pytest.raises(AttemptClosed):
            submit(attempt, worker)

    def test_overdue_attempts_are_expired_by_the_periodic_task(self, qualification, worker):
        overdue = start(qualification, worker)
        make_overdue(overdue)
        other = start(make_qualification(qualification.owner), worker)

        assert attempt_expire_overdue_task.delay().get() == 1

        overdue.refresh_from_db()
        other.refresh_from_db()
        assert overdue.status == Attempt.Status.EXPIRED
        assert other.status == Attempt.Status.STARTED
        assert attempt_expire_overdue() == 0


class TestRetakes:
    def test_a_retake_waits_for_the_cool_down_from_the_last_attempts_start(self, qualification, worker):
        attempt = start(qualification, worker)
        submit(attempt, worker, right=0)

        with pytest.raises(RetakeCooldown) as refused:
            attempt_start(qualification_id=qualification.pk, worker=worker)
        age(attempt, timedelta(hours=24))
        retake = start(qualification, worker)

        assert refused.value.extra["retake_allowed_at"] == attempt.started_at + timedelta(hours=24)
        assert retake.pk != attempt.pk

    def test_an_expired_attempt_counts_and_starts_the_cool_down(self, qualification, worker):
        attempt = start(qualification, worker)
        make_overdue(attempt)

        with pytest.raises(RetakeCooldown):
            attempt_start(qualification_id=qualification.pk, worker=worker)

        attempt.refresh_from_db()
        assert attempt.status == Attempt.Status.STARTED  # the refusal rolled back; the beat or next start expires it
        age(attempt, timedelta(hours=24))
        start(qualification, worker)
        attempt.refresh_from_db()
        assert attempt.status == Attempt.Status.EXPIRED

    def test_the_attempt_limit_counts_every_attempt(self, qualification, worker):
        for _ in range(3):
            attempt = start(qualification, worker)
            submit(attempt, worker, right=0)
            age(attempt, timedelta(days=2))

        with pytest.raises(AttemptLimitReached) as refused:
            attempt_start(qualification_id=qualification.pk, worker=worker)

        assert refused.value.extra == {"attempts_used": 3, "attempts_left": 0}
        assert Attempt.objects.filter(worker=worker).count() == 3

    def test_a_worker_holding_a_live_grant_may_not_retake(self, qualification, worker):
        attempt = start(qualification, worker)
        submit(attempt, worker)
        age(attempt, timedelta(days=2))

        with pytest.raises(AlreadyQualified):
            attempt_start(qualification_id=qualification.pk, worker=worker)

    def test_after_the_grant_expires_a_retake_supersedes_it(self, qualification, worker):
        first = start(qualification, worker)
        submit(first, worker, right=5)
        age(first, timedelta(days=31))
        Grant.objects.update(expires_at=timezone.now() - timedelta(days=1))

        second = start(qualification, worker)
        submit(second, worker, right=4)

        old, new = Grant.objects.order_by("id")
        assert (old.revoked_at is not None, old.revoke_reason, old.revoked_by) == (True, "superseded", None)
        assert (new.revoked_at, new.attempt, new.score) == (None, second, 0.8)

    def test_a_pass_keeps_a_better_grant_given_by_hand_during_the_attempt(self, requester, qualification, worker):
        attempt = start(qualification, worker)
        manual = grant_manual(qualification=qualification, worker=worker, score=0.9, reason="vouched for", by=requester)

        submit(attempt, worker, right=4)

        attempt.refresh_from_db()
        manual.refresh_from_db()
        assert attempt.passed is True
        assert manual.revoked_at is None
        assert Grant.objects.count() == 1

    def test_a_better_pass_replaces_a_worse_grant_given_by_hand_during_the_attempt(
        self, requester, qualification, worker
    ):
        attempt = start(qualification, worker)
        manual = grant_manual(qualification=qualification, worker=worker, score=0.5, reason="trial", by=requester)

        submit(attempt, worker, right=5)

        manual.refresh_from_db()
        assert (manual.revoke_reason, manual.revoked_by) == ("superseded", None)
        live = Grant.objects.get(revoked_at__isnull=True)
        assert (live.source, live.score, live.attempt) == (Grant.Source.TEST, 1.0, attempt)

    def test_a_worker_whose_grant_was_revoked_cannot_win_it_back_by_retaking(self, requester, qualification, worker):
        attempt = start(qualification, worker)
        submit(attempt, worker)
        age(attempt, timedelta(days=2))
        grant_revoke(grant=Grant.objects.get(), reason="copied answers", by=requester)

        with pytest.raises(QualificationRevoked):
            attempt_start(qualification_id=qualification.pk, worker=worker)

    def test_a_worker_without_the_role_cannot_start(self, qualification, plain_user):
        with pytest.raises(NotEligible):
            attempt_start(qualification_id=qualification.pk, worker=plain_user)


class TestOthersAttempts:
    def test_a_worker_cannot_submit_another_workers_attempt(self, qualification, worker):
        attempt = start(qualification, worker)

        with pytest.raises(NotFound):
            attempt_submit(attempt_id=attempt.pk, worker=WorkerFactory(), answers=answers(attempt))

        attempt.refresh_from_db()
        assert attempt.status == Attempt.Status.STARTED
