"""Notifications for workers: one function to send one (`notify`), the inbox and the e-mail settings.

Apps above call `notify` where the event happens, inside their transaction (the row commits with the event, or not
at all); apps below send a signal that `workers.apps` turns into a notification (payouts). The e-mail, if the
worker's settings want it, is sent by a Celery task after the commit (`notification_email_task`), once: the task
marks the row under a lock before it sends.
"""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from payments.models import Payout, PayoutStatus
from payments.money import format_amount
from workers.models import EMAILED_BY_DEFAULT, Notification, NotificationKind, NotificationSetting

logger = logging.getLogger(__name__)


def notify(*, worker_id: int, kind: str, key: str, title: str, body: str = "") -> Notification | None:
    """Tell a worker; idempotent by `key` (the same event notifies once). None if it was already sent."""
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                worker_id=worker_id, kind=kind, key=key[:100], title=title[:200], body=body
            )
    except IntegrityError:
        return None
    if _emailed(worker_id, kind):
        from workers.tasks import notification_email_task  # noqa: PLC0415 -- tasks import this module

        transaction.on_commit(lambda: notification_email_task.delay(notification.pk))
    return notification


def _emailed(worker_id: int, kind: str) -> bool:
    chosen = NotificationSetting.objects.filter(worker_id=worker_id, kind=kind).values_list("email", flat=True).first()
    return kind in EMAILED_BY_DEFAULT if chosen is None else chosen


def notification_email(*, notification_id: int) -> bool:
    """Send the notification's e-mail once (the Celery task's body); False if it was sent already."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",)).select_related("worker").get(pk=notification_id)
        )
        if notification.emailed_at is not None or not notification.worker.email:
            return False
        notification.emailed_at = timezone.now()
        notification.save(update_fields=["emailed_at"])
    # Sent after the mark is committed: a crash between the two loses one e-mail (the inbox keeps the news), never
    # sends one twice.
    footer = "\n\n--\nChange which notifications you get by e-mail in your notification settings."
    try:
        send_mail(
            f"[crowdmarket] {notification.title}",
            notification.body + footer,
            settings.DEFAULT_FROM_EMAIL,
            [notification.worker.email],
        )
    except OSError:  # SMTP down or refusing: unmark, log; the inbox has it
        Notification.objects.filter(pk=notification.pk).update(emailed_at=None)
        logger.warning("notification %s: e-mail not sent", notification.pk, exc_info=True)
        return False
    return True


def notification_list(*, worker: AbstractBaseUser, unread: bool | None = None) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(worker=worker)
    if unread is not None:
        notifications = notifications.filter(read_at__isnull=unread)
    return notifications


def notifications_mark_read(*, worker: AbstractBaseUser, ids: Iterable[int] | None = None) -> int:
    """Mark the worker's notifications read (`ids`, or all of them); returns how many changed."""
    unread = Notification.objects.filter(worker=worker, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())


def notification_settings(*, worker: AbstractBaseUser) -> dict[str, bool]:
    """Whether each kind is e-mailed to the worker."""
    chosen = dict(NotificationSetting.objects.filter(worker=worker).values_list("kind", "email"))
    return {kind: chosen.get(kind, kind in EMAILED_BY_DEFAULT) for kind in NotificationKind.values}


def notification_settings_update(*, worker: AbstractBaseUser, email: dict[str, bool]) -> dict[str, bool]:
    for kind, wanted in email.items():
        NotificationSetting.objects.update_or_create(worker=worker, kind=kind, defaults={"email": wanted})
    return notification_settings(worker=worker)


def news_of_payout(sender: object, *, payout: Payout, **kwargs: object) -> None:
    """Receiver of `payments.signals.payout_finished`: tell the worker their payout left, or came back."""
    amount = format_amount(payout.amount, payout.currency)
    if payout.status == PayoutStatus.SENT:
        kind, title, body = NotificationKind.PAYOUT_SENT, f"Payout of {amount} sent", "It is on its way to you."
    else:
        kind, title = NotificationKind.PAYOUT_FAILED, f"Payout of {amount} failed"
        body = f"The provider refused it ({payout.last_error}); the amount is back in your balance."
    notify(worker_id=payout.worker_id, kind=kind, key=f"payout:{payout.pk}:{payout.status}", title=title, body=body)
