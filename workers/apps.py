from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"

    def ready(self) -> None:
        from payments.signals import payout_finished  # noqa: PLC0415
        from workers.notifications import news_of_payout  # noqa: PLC0415

        payout_finished.connect(news_of_payout, dispatch_uid="workers.news_of_payout")
