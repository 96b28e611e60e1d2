"""Models' predictions on a job's items (see marketplace/services/predictions.py)."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import selectors, selectors_models
from marketplace.api.base import JobScopedListApi
from marketplace.api.errors import ErrorSerializer
from marketplace.api.permissions import IsRequester
from marketplace.models import Job, ModelEndpoint, Prediction
from marketplace.services.aggregation import aggregation_enqueue_if_answered
from marketplace.services.model_endpoints import model_endpoint_create, model_endpoint_deactivate
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


class ModelEndpointSerializer(serializers.ModelSerializer):
    requests = serializers.SerializerMethodField(help_text="Its batches of items by status: pending, done, failed.")

    class Meta:
        model = ModelEndpoint
        fields = ["id", "model", "url", "is_active", "created_at", "requests"]
        read_only_fields = fields

    def get_requests(self, endpoint: ModelEndpoint) -> dict[str, int]:
        return selectors_models.model_request_counts(endpoint=endpoint)


class ModelEndpointCreatedSerializer(ModelEndpointSerializer):
    secret = serializers.CharField(help_text="Verifies the requests' X-Crowdmarket-Signature: shown this once.")

    class Meta(ModelEndpointSerializer.Meta):
        fields = [*ModelEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class JobModelEndpointListCreateApi(JobScopedListApi):
    """The job's model endpoints, or a new one: `{"model": "resnet-v3", "url": "https://..."}`. The platform then
    POSTs every item of the job to it, in batches, signed as webhooks are, and stores its answers as that model
    version's predictions (README: A model as a worker); items uploaded later are sent too."""

    model = ModelEndpoint
    serializer_class = ModelEndpointSerializer

    class EndpointInputSerializer(serializers.Serializer):
        model = serializers.CharField(max_length=100)
        url = serializers.URLField(max_length=2000)

    def scoped_queryset(self, job: Job) -> QuerySet[ModelEndpoint]:
        return selectors_models.model_endpoint_list(job=job)

    @extend_schema(
        request=EndpointInputSerializer, responses={201: ModelEndpointCreatedSerializer, 400: ErrorSerializer}
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        data = self.EndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = model_endpoint_create(job=job, **data.validated_data)
        return Response(ModelEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class JobModelEndpointApi(APIView):
    """Stop asking this endpoint (`DELETE`): its batches not sent yet fail; its predictions stay."""

    permission_classes = [IsRequester]

    @extend_schema(request=None, responses={200: ModelEndpointSerializer, 404: ErrorSerializer})
    def delete(self, request: Request, job_id: int, endpoint_id: int) -> Response:
        job = selectors.job_get(requester=request.user, job_id=job_id)
        return Response(ModelEndpointSerializer(model_endpoint_deactivate(job=job, endpoint_id=endpoint_id)).data)
