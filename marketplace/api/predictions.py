"""Models' predictions on a job's items (see marketplace/services/predictions.py)."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace import selectors
from marketplace.api.base import JobScopedListApi
from marketplace.api.errors import ErrorSerializer
from marketplace.models import Job, Prediction
from marketplace.services.aggregation import aggregation_enqueue_if_answered
from marketplace.services.predictions import predictions_put
from qualification.api.fields import JSONField


class PredictionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prediction
        fields = ["item", "model", "answer", "score", "updated_at"]
        read_only_fields = fields


class JobPredictionListCreateApi(JobScopedListApi):
    """A job's predictions (`?model=` to pick a version), or send some in bulk:
    `{"predictions": [{"item": 12, "model": "resnet50-v3", "answer": "cat", "score": 0.93}, ...]}` (or
    `"external_id"` instead of `"item"`), up to 10,000 per request, each answer in the job's answer type. Sending a
    prediction again for the same item and model replaces it. One bad one: 400 listing each by index, none kept."""

    model = Prediction
    serializer_class = PredictionSerializer
    filterset_fields = ["model"]

    class PredictionsInputSerializer(serializers.Serializer):
        predictions = serializers.ListField(child=JSONField(), max_length=10_000)

    def scoped_queryset(self, job: Job) -> QuerySet[Prediction]:
        return selectors.prediction_list(job=job)

    @extend_schema(
        request=PredictionsInputSerializer,
        responses={
            201: inline_serializer("PredictionsStored", {"stored": serializers.IntegerField()}),
            400: ErrorSerializer,
            409: ErrorSerializer,  # a job past taking predictions (completed, cancelled)
        },
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        data = self.PredictionsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        stored = predictions_put(job=job, predictions=data.validated_data["predictions"])
        aggregation_enqueue_if_answered(job_id=job.pk)  # a model is an annotator: its answers move the labels
        return Response({"stored": stored}, status=status.HTTP_201_CREATED)
