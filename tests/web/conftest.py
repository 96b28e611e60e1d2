"""Fixtures of the page tests: a requester, and a test client signed in as them."""

import pytest
from django.test import Client

from tests.factories import RequesterFactory


@pytest.fixture
def requester():
    return RequesterFactory()


@pytest.fixture
def browser(client: Client, requester) -> Client:
    """The test client, signed in as `requester` (the page tests' "browser"; no JavaScript runs)."""
    client.force_login(requester)
    return client
