import pytest

# The webhook receiver, for the marketplace tests that check which events a change sends.
from tests.webhooks.conftest import make_endpoint, receiver  # noqa: F401 -- fixtures


@pytest.fixture
def callbacks(django_capture_on_commit_callbacks):
    """Run on-commit work (quality control, webhooks) as a service's transaction commits."""
    return django_capture_on_commit_callbacks
