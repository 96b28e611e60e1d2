"""Real concurrent clients on PostgreSQL: starts, submits and grants racing on one worker and qualification."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from qualification.models import Attempt, Grant
from qualification.services.attempts import attempt_start, attempt_submit
from qualification.services.grants import grant_manual
from tests.qualification.conftest import answers, make_qualification

pytestmark = pytest.mark.django_db(transaction=True)


def run_in_threads(n: int, target: Callable[[int], object]) -> list[object]:
    """Start `n` threads at the same instant; each closes its own connection when done."""
    barrier = threading.Barrier(n)

    def run(i: int) -> object:
        try:
            barrier.wait()
            return target(i)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


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
