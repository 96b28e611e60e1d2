"""Settings of the Celery worker the fault tests start: the project's, with a provider whose memory is on disk."""

from marketplace.settings import *  # noqa: F403

PAYMENTS_PROVIDER = "tests.faults.providers.FirstCallFailsProvider"
WEBHOOK_ALLOW_PRIVATE_URLS = True  # the test's receiver listens on loopback
