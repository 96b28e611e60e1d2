"""The claim and the submit, the two requests every worker makes per task, cost a fixed number of queries: a change
that adds a round trip to them shows up here."""

import random
from decimal import Decimal

import pytest
from django.db import connection

from marketplace.services.assignments import assignment_claim, assignment_submit
from tests.marketplace.helpers import answers_for, launched_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(requester):
    return launched_job(requester, n_items=20, n_gold=10, items_per_task=2, gold_ratio=Decimal("0.5"))


def test_a_claim_and_a_submit_cost_a_fixed_number_of_queries(job, worker, django_assert_num_queries):
    assert connection.vendor == "postgresql"
    first = assignment_claim(job_id=job.pk, worker=worker)  # the first claim creates the worker's participation
    assignment_submit(assignment_id=first.pk, worker=worker, answers=answers_for(first))

    with django_assert_num_queries(CLAIM):
        claimed = assignment_claim(job_id=job.pk, worker=worker, rng=random.Random(7))
    with django_assert_num_queries(SUBMIT):
        assignment_submit(assignment_id=claimed.pk, worker=worker, answers=answers_for(claimed))


# On PostgreSQL, savepoints included (the test runs in a transaction): the same before and after the slot-funding
# and claim-vs-cancel changes of 2026-12-04, whose trigger runs inside the claim's INSERT.
CLAIM, SUBMIT = 5, 5
