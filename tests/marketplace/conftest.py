# The webhook receiver, for the marketplace tests that check which events a change sends.
from tests.webhooks.conftest import make_endpoint, receiver  # noqa: F401 -- fixtures
