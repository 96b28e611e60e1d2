"""Requester API for dataset uploads (items and gold items) and their progress."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import selectors
from marketplace.api.base import JobScopedListApi
from marketplace.api.errors import ErrorSerializer
from marketplace.api.parsers import FormParser, MultiPartParser
from marketplace.api.permissions import IsRequester
from marketplace.models import Job, Upload
from marketplace.services.uploads import upload_progress, upload_receive


class UploadSerializer(serializers.ModelSerializer):
    rows_processed = serializers.SerializerMethodField()

    class Meta:
        model = Upload
        fields = [
            "id",
            "job",
            "kind",
            "format",
            "original_name",
            "size_bytes",
            "status",
            "rows_processed",
            "items_created",
            "tasks_created",
            "errors",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_rows_processed(self, upload: Upload) -> int:
        if upload.status in (Upload.Status.QUEUED, Upload.Status.PROCESSING):
            return upload_progress(upload)
        return upload.rows_processed


class JobUploadListCreateApi(JobScopedListApi):
    """List a job's uploads, or send a file (multipart field `file`).

    CSV files need a header row; JSONL files hold one JSON object per line. Columns `external_id` (optional) and,
    for gold uploads, `gold_label` (required) are reserved. Small files are ingested at once (201, or 400 listing
    the bad rows with nothing kept); large ones answer 202 and are polled at `/api/v1/uploads/{id}/`.
    """

    model = Upload
    serializer_class = UploadSerializer
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["kind", "status"]

    class UploadInputSerializer(serializers.Serializer):
        file = serializers.FileField(allow_empty_file=True)
        kind = serializers.ChoiceField(choices=Upload.Kind.choices, default=Upload.Kind.ITEMS)
        format = serializers.ChoiceField(choices=Upload.Format.choices, required=False)

    def scoped_queryset(self, job: Job) -> QuerySet[Upload]:
        return selectors.upload_list(requester=self.request.user).filter(job=job)

    @extend_schema(
        request=UploadInputSerializer,
        responses={201: UploadSerializer, 202: UploadSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        data = self.UploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = upload_receive(
            job=job,
            user=request.user,
            file=data.validated_data["file"],
            kind=data.validated_data["kind"],
            fmt=data.validated_data.get("format"),
        )
        upload.refresh_from_db()
        done = upload.status == Upload.Status.SUCCEEDED
        return Response(UploadSerializer(upload).data, status=status.HTTP_201_CREATED if done else 202)


class UploadDetailApi(APIView):
    permission_classes = [IsRequester]

    @extend_schema(responses={200: UploadSerializer, 404: ErrorSerializer})
    def get(self, request: Request, upload_id: int) -> Response:
        return Response(UploadSerializer(selectors.upload_get(requester=request.user, upload_id=upload_id)).data)
