"""Optional error reporting to Sentry: `settings.py` calls `sentry_init` only when SENTRY_DSN is set, so without it
the SDK is never initialised and sends nothing."""

from typing import Any

import sentry_sdk
from django_guid import get_guid
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration


def _tag_request_id(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """The id the client got in X-Request-ID (or the Celery task's), so a report and a log line can be matched."""
    request_id = get_guid()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,  # no user emails, cookies or request bodies
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=_tag_request_id,
    )
