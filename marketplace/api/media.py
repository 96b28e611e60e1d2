"""Items' media: a requester uploads and reads their job's files; a worker fetches the files of the items they hold.

A worker's item never shows a file's name: its media fields read as a URL under the assignment
(`/api/v1/work/assignments/{id}/media/{position}/{field}/`), the same shape for gold and real items, answered only
while the assignment is open and only to its worker (a 404 to anyone else, and once it is submitted, released or
expired). Both views answer a single HTTP byte range (`marketplace.api.ranges`: 206, or 416 past the end), checked
only after the access checks, so a browser's audio player can seek.
"""

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import selectors
from marketplace.api.base import JobScopedListApi
from marketplace.api.errors import ErrorSerializer
from marketplace.api.parsers import MultiPartParser
from marketplace.api.permissions import IsRequester, IsWorker
from marketplace.api.ranges import FileWindow, RangeNotSatisfiable, byte_range
from marketplace.models import Assignment, Job, MediaFile
from marketplace.services.media import media_open, media_upload


class MediaFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = MediaFile
        fields = ["name", "kind", "content_type", "size", "sha256", "width", "height", "characters", "created_at"]
        read_only_fields = fields


class JobMediaListCreateApi(JobScopedListApi):
    """List a job's media files, or send some (multipart, one or more `files` parts; a `.zip` stands for the files
    inside it, each named by its path in the zip). Images (JPEG, PNG, GIF, WebP), audio (MP3, WAV, OGG, FLAC, M4A,
    WebM) and UTF-8 texts (`.txt`, `.md`) are recognised by their content. Items name the files in their media
    fields (item schema types `image`, `audio`, `text_file`). One bad file: 400 listing each, nothing kept."""

    model = MediaFile
    serializer_class = MediaFileSerializer
    parser_classes = [MultiPartParser]
    filterset_fields = ["kind"]

    class MediaInputSerializer(serializers.Serializer):
        files = serializers.ListField(child=serializers.FileField(allow_empty_file=True), allow_empty=False)

    def scoped_queryset(self, job: Job) -> QuerySet[MediaFile]:
        return selectors.media_list(job=job)

    @extend_schema(
        request={"multipart/form-data": MediaInputSerializer},
        responses={201: MediaFileSerializer(many=True), 400: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        data = self.MediaInputSerializer(data={"files": request.FILES.getlist("files")})
        data.is_valid(raise_exception=True)
        media = media_upload(job=job, files=data.validated_data["files"])
        return Response(MediaFileSerializer(media, many=True).data, status=status.HTTP_201_CREATED)


MEDIA_RESPONSES = {
    (200, "*/*"): OpenApiTypes.BINARY,  # the file's own type (image/png, audio/mpeg, text/plain...)
    (206, "*/*"): OpenApiTypes.BINARY,
    404: ErrorSerializer,
    416: None,
}


class JobMediaFileApi(APIView):
    """One of the job's media files, as it was uploaded (the requester's own jobs only)."""

    permission_classes = [IsRequester]

    @extend_schema(responses=MEDIA_RESPONSES)
    def get(self, request: Request, job_id: int, name: str) -> HttpResponse:
        return _file(request, selectors.media_get(requester=request.user, job_id=job_id, name=name), private=False)


class WorkMediaApi(APIView):
    """The file in `field` of the item at `position` of the worker's own open assignment."""

    permission_classes = [IsWorker]

    @extend_schema(responses=MEDIA_RESPONSES)
    def get(self, request: Request, assignment_id: int, position: int, field: str) -> HttpResponse:
        media = selectors.assignment_media_get(
            worker=request.user, assignment_id=assignment_id, position=position, field=field
        )
        return _file(request, media, private=True)


def _file(request: Request, media: MediaFile, *, private: bool) -> HttpResponse:
    """The file, or the one byte range the request asks for (a 416 when it lies past the end). Called once the
    access checks passed: a range never tells anyone else that a file exists."""
    response: HttpResponse
    try:
        wanted = None if "HTTP_IF_RANGE" in request.META else byte_range(request.META.get("HTTP_RANGE"), media.size)
    except RangeNotSatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{media.size}"
    else:
        if wanted is None:
            response = FileResponse(media_open(media=media), content_type=media.content_type)
            response["Content-Length"] = str(media.size)
        else:
            response = FileResponse(FileWindow(media_open(media=media), wanted), content_type=media.content_type)
            response.status_code = 206
            response["Content-Length"] = str(wanted.length)
            response["Content-Range"] = wanted.content_range(media.size)
        response["Content-Disposition"] = "inline"
    response["Accept-Ranges"] = "bytes"
    # A worker's copy must not outlive the assignment in a shared cache; nothing served here may run as a page.
    response["Cache-Control"] = "private, no-store" if private else "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def work_item_payloads(assignment: Assignment, payloads: list[dict]) -> list[dict]:
    """The payloads a worker sees: each media field's file name replaced by its URL under the assignment."""
    fields = selectors.media_fields(assignment.job)
    if not fields:
        return payloads
    base = reverse("work-assignment", kwargs={"assignment_id": assignment.pk}) + "media"
    return [
        {key: f"{base}/{position}/{key}/" if key in fields and value is not None else value for key, value in p.items()}
        for position, p in enumerate(payloads)
    ]
