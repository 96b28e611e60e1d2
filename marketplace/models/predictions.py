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
