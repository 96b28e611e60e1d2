"""Fixtures for the dispute tests: a small funded job and staff."""

from decimal import Decimal

import pytest

from marketplace.accounts.models import User
from marketplace.models import Job
from tests.factories import UserFactory
from tests.marketplace.helpers import launched_job


@pytest.fixture
def job(requester) -> Job:
    """Two tasks of two items, two answers each, no gold: 4 assignments of 30 cents in escrow (120)."""
    return launched_job(requester, n_items=4, items_per_task=2, overlap_min=2, overlap_max=2, gold_ratio=Decimal(0))


@pytest.fixture
def staff(db) -> User:
    return UserFactory(is_staff=True)


@pytest.fixture
def staff_api(api, staff):
    return api.as_user(staff)
