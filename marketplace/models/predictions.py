from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from marketplace.models.items import Item
from marketplace.models.jobs import Job

MODEL_NAME = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,99}$", "A model version: letters, digits and _.:/+-.")


class Prediction(models.Model):
    """A model's answer to an item, in the job's answer type, with the model's own score: one per item and model
    version (sending it again replaces it). Predictions are never paid and never count as human answers."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="predictions", db_index=False)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="predictions")
    model = models.CharField(max_length=100, validators=[MODEL_NAME], help_text="The model version, e.g. resnet50-v3.")
    answer = models.JSONField()
    score = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "model"], name="prediction_one_per_item_and_model")]
        indexes = [models.Index(fields=["job", "model"], name="prediction_by_job_model")]

    def __str__(self) -> str:
        return f"{self.model} on item {self.item_id}"


class ModelQuality(models.Model):
    """What the latest aggregation learned of a model version on a job, where it took part as an annotator: its
    estimated accuracy (the type's reliability) and, for single-choice jobs, its confusion matrix (rows: true
    class, columns: its answer), earned from gold and from agreement with the crowd, as a worker's is."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="model_qualities")
    model = models.CharField(max_length=100, validators=[MODEL_NAME])
    predictions = models.PositiveIntegerField(help_text="Its predictions the aggregation counted.")
    estimated_accuracy = models.FloatField(null=True, blank=True)
    confusion = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "model"], name="model_quality_once_per_job")]

    def __str__(self) -> str:
        return f"{self.model} on job {self.job_id}"


class ModelEndpoint(models.Model):
    """A requester's model served over HTTPS, asked to predict every item of one job (`services.model_endpoints`).

    Requests are signed as webhooks are (`X-Crowdmarket-Signature` with `secret`, shown to the requester once); its
    answers are stored as the predictions of model version `model`, validated like any."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="model_endpoints")
    model = models.CharField(max_length=100, validators=[MODEL_NAME])
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=128)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "model"], name="model_endpoint_once_per_job")]

    def __str__(self) -> str:
        return f"{self.model} for job {self.job_id}"


class ModelRequest(models.Model):
    """One batch of items sent to a model endpoint: claimed, sent and recorded as a webhook delivery is (never in
    a transaction while it waits on the network), retried with backoff."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DONE = "done", "Done: its predictions are stored"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.CASCADE, related_name="requests")
    item_ids = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="model_request_due_idx"),
        ]

    def __str__(self) -> str:
        return f"request {self.pk} to {self.endpoint_id}"
