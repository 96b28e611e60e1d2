"""Tasks of the workers app."""

from celery import shared_task

from workers.notifications import notification_email


@shared_task(acks_late=True)
def notification_email_task(notification_id: int) -> bool:
    """E-mail one notification, at most once (the row is marked before the message leaves; a failed send unmarks
    it and is logged: the inbox keeps the news)."""
    return notification_email(notification_id=notification_id)
