"""The claim, the submit, the submit-and-claim and the release, the requests every worker makes per task, cost a
fixed number of queries on each database: a change that adds a round trip to them shows up here (as Zulip's
`TestQueryCounts`). Counts include the SAVEPOINT and RELEASE of each transaction (the test runs in one)."""

import random
from decimal import Decimal

import pytest
from django.db import connection

from marketplace.services.assignments import (
    assignment_claim,
    assignment_release,
    assignment_submit,
    assignment_submit_and_claim,
)
from tests.marketplace.helpers import answers_for, launched_job

pytestmark = pytest.mark.django_db

# PostgreSQL: the eligibility rule, the slot and the task in one statement; the gold draw; the assignment and its
# gold exposures in one. SQLite: the rule, the slot, the task and its items each in its own statement; exposures
# inserted apart. The same before and after the slot-funding and claim-vs-cancel changes of 2026-12-04, whose
# trigger runs inside the claim's INSERT.
QUERIES = {
    "postgresql": {"claim": 5, "submit": 5, "submit_and_claim": 10, "release": 6},
    "sqlite": {"claim": 9, "submit": 9, "submit_and_claim": 18, "release": 6},
}


def queries(use_case: str) -> int:
    return QUERIES[connection.vendor][use_case]


@pytest.fixture
def job(requester):
    return launched_job(requester, n_items=20, n_gold=10, items_per_task=2, gold_ratio=Decimal("0.5"))


@pytest.fixture
def started(job, worker):
    """The worker has claimed and submitted once: the first claim creates their participation on the job."""
    first = assignment_claim(job_id=job.pk, worker=worker)
    assignment_submit(assignment_id=first.pk, worker=worker, answers=answers_for(first))
    return worker


def test_a_claim_costs_a_fixed_number_of_queries(job, started, django_assert_num_queries):
    with django_assert_num_queries(queries("claim")):
        claimed = assignment_claim(job_id=job.pk, worker=started, rng=random.Random(7))

    assert len(claimed.item_ids) == 4  # two items and two gold: the path that draws gold was taken


def test_a_submit_costs_a_fixed_number_of_queries(job, started, django_assert_num_queries):
    claimed = assignment_claim(job_id=job.pk, worker=started, rng=random.Random(7))

    with django_assert_num_queries(queries("submit")):
        submitted = assignment_submit(assignment_id=claimed.pk, worker=started, answers=answers_for(claimed))

    assert submitted.gold_total == 2


def test_a_submit_and_claim_costs_a_submit_and_a_claim(job, started, django_assert_num_queries):
    claimed = assignment_claim(job_id=job.pk, worker=started, rng=random.Random(7))

    with django_assert_num_queries(queries("submit_and_claim")):
        _, following, refusal = assignment_submit_and_claim(
            assignment_id=claimed.pk, worker=started, answers=answers_for(claimed), rng=random.Random(8)
        )

    assert refusal is None and following is not None and following.pk != claimed.pk


def test_a_release_costs_a_fixed_number_of_queries(job, started, django_assert_num_queries):
    claimed = assignment_claim(job_id=job.pk, worker=started, rng=random.Random(7))

    with django_assert_num_queries(queries("release")):
        released = assignment_release(assignment_id=claimed.pk, worker=started)

    assert released.status == "released"
