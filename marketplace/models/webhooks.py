from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q

from marketplace.models.jobs import Job


class WebhookEvent(models.TextChoices):
    """Every event a requester can subscribe to. `ping` is sent only by the 'send test event' call."""

    ASSIGNMENT_SUBMITTED = "assignment.submitted", "Assignment submitted"
    ASSIGNMENT_APPROVED = "assignment.approved", "Assignment approved"
    ASSIGNMENT_REJECTED = "assignment.rejected", "Assignment rejected"
    ASSIGNMENT_EXPIRED = "assignment.expired", "Assignment expired"
    JOB_COMPLETED = "job.completed", "Job completed"
    JOB_EXPIRED = "job.expired", "Job expired: its deadline ended it"
    JOB_FUNDS_NEEDED = "job.funds_needed", "Job needs funds for slots added after launch"
    JOB_ITEMS_SETTLED = "job.items_settled", "Items done: their tasks got every answer they need"
    RESULTS_UPDATED = "results.updated", "Results updated"
    PING = "ping", "Test event"


SUBSCRIBABLE_EVENTS: tuple[str, ...] = tuple(e for e in WebhookEvent.values if e != WebhookEvent.PING)


class WebhookEndpoint(models.Model):
    """A URL where a requester receives signed event notifications, for one job or (job empty) all of theirs.

    `events` lists the subscribed event types; an empty list means every event, including ones added later.
    The secret signs each delivery (HMAC-SHA256); it is kept in clear because signing needs it, shown to the
    requester once at creation and on rotation, and never in full anywhere else.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, null=True, blank=True, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000, validators=[URLValidator(schemes=["http", "https"])])
    events = models.JSONField(default=list, blank=True, help_text="Subscribed event types; empty means all.")
    secret = models.CharField(max_length=128)
    is_active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["job"], condition=Q(is_active=True), name="webhook_active_job_idx"),
            models.Index(
                fields=["owner"], condition=Q(is_active=True, job__isnull=True), name="webhook_active_account_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"webhook {self.pk} → {self.url}"

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events

    @property
    def secret_hint(self) -> str:
        """Enough of the secret to tell two apart: its prefix and last four characters."""
        prefix, _, rest = self.secret.partition("_")
        return f"{prefix}_…{rest[-4:]}" if rest else "…"


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one endpoint, with the outcome of the latest attempt.

    Created in the transaction that produced the event, so a rolled-back event leaves no row and sends nothing.
    A sender claims the row with a conditional UPDATE (pending → sending), so a delivery is never sent by two
    workers at once, nor again once delivered.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False)
    event_id = models.UUIDField(help_text="The event's id; the same in every endpoint's delivery of it.")
    event_type = models.CharField(max_length=32, choices=WebhookEvent.choices)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_log_idx"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="webhook_delivery_due_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once_per_event"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending", "delivered", "failed"]),
                name="webhook_delivery_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(delivered_at__isnull=False),
                name="webhook_delivered_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → endpoint {self.endpoint_id} ({self.status})"
