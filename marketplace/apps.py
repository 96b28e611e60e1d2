from django.apps import AppConfig
from django.core.signals import request_finished


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Marketplace"

    def ready(self) -> None:
        from marketplace.celery import app  # noqa: F401 -- makes it the current app for @shared_task
        from marketplace.observability import celery  # noqa: F401 -- connects its signals
        from marketplace.services.funding import funding_after_deposit  # noqa: PLC0415
        from payments.signals import deposit_settled  # noqa: PLC0415

        # Money arrived: slots of the requester's jobs that wait for funds may open (payments never imports us).
        deposit_settled.connect(funding_after_deposit, dispatch_uid="marketplace.funding_after_deposit")

        # After the response is sent: Django's own log line about an error response still names the request.
        request_finished.connect(_forget_request_id, dispatch_uid="forget-request-id")


def _forget_request_id(**kwargs: object) -> None:
    from django_guid import clear_guid

    clear_guid()
