from django.db import models
from django.db.models import Q

from marketplace.models.jobs import Job


class MediaKind(models.TextChoices):
    IMAGE = "image", "Image"
    AUDIO = "audio", "Audio"
    TEXT = "text", "Text"


class MediaFile(models.Model):
    """A file a requester uploaded for a job's items, known to the items by its `name` (a row's media field holds it).

    The bytes are stored once per content (`sha256`, content-addressed under the media storage), whatever the name
    or the job; the row is the job's name for them. Workers never see the name or the hash: they fetch an item's
    file through their open assignment (`/api/v1/work/assignments/<id>/media/<position>/<field>/`).
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="media")
    name = models.CharField(max_length=255, help_text="The file's name as the items refer to it.")
    kind = models.CharField(max_length=8, choices=MediaKind.choices)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True, help_text="Images only, in pixels.")
    height = models.PositiveIntegerField(null=True, blank=True, help_text="Images only, in pixels.")
    characters = models.PositiveIntegerField(
        null=True, blank=True, help_text="Texts only: length in characters (code points), what spans count in."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "name"], name="media_name_unique_per_job"),
            models.CheckConstraint(
                condition=Q(kind="image", width__isnull=False, height__isnull=False) | ~Q(kind="image"),
                name="media_image_has_size",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, job {self.job_id})"

    @property
    def storage_name(self) -> str:
        """Where the bytes are in the media storage: by content, so one file uploaded twice is stored once."""
        return f"{self.sha256[:2]}/{self.sha256}"
