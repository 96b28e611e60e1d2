"""Real concurrent clients on PostgreSQL: starts, submits and grants racing on one worker and qualification."""

import pytest

from qualification.models import Attempt, Grant
from qualification.services.attempts import attempt_start, attempt_submit
from qualification.services.grants import grant_manual
from tests.qualification.conftest import answers, make_qualification
from tests.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_starts_give_the_worker_one_attempt(requester, worker):
    qualification = make_qualification(requester)

    results = run_in_threads(8, lambda i: attempt_start(qualification_id=qualification.pk, worker=worker))

    attempt = Attempt.objects.get(worker=worker)
    assert {a.pk for a, _ in results} == {attempt.pk}
    assert sum(created for _, created in results) == 1


def test_simultaneous_identical_submits_grade_once_and_grant_once(requester, worker):
    qualification = make_qualification(requester)
    attempt, _ = attempt_start(qualification_id=qualification.pk, worker=worker)
    given = answers(attempt)

    results = run_in_threads(6, lambda i: attempt_submit(attempt_id=attempt.pk, worker=worker, answers=given))

    assert {(a.score, a.passed) for a in results} == {(1.0, True)}
    assert Grant.objects.filter(worker=worker).count() == 1


def test_a_pass_racing_a_manual_grant_leaves_exactly_one_live_grant(requester, worker):
    qualification = make_qualification(requester)
    attempt, _ = attempt_start(qualification_id=qualification.pk, worker=worker)
    given = answers(attempt)

    def act(i: int) -> object:
        if i == 0:
            return attempt_submit(attempt_id=attempt.pk, worker=worker, answers=given)
        return grant_manual(qualification=qualification, worker=worker, score=0.5, reason="race", by=requester)

    run_in_threads(2, act)

    assert Grant.objects.filter(worker=worker, revoked_at__isnull=True).count() == 1
    assert set(Grant.objects.exclude(revoked_at__isnull=True).values_list("revoke_reason", flat=True)) <= {"superseded"}
