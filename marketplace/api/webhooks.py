"""Requester API for webhooks: endpoints per job or account-wide, secret rotation, test events, the delivery log.

Only the owner sees or changes an endpoint; another requester's endpoint or job answers 404. The secret appears
in full only in the answers to create and rotate-secret.
"""

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import selectors
from marketplace.api.errors import ErrorSerializer
from marketplace.api.permissions import IsRequester
from marketplace.models import SUBSCRIBABLE_EVENTS, Job, WebhookDelivery, WebhookEndpoint
from marketplace.selectors_webhooks import webhook_delivery_list, webhook_endpoint_get, webhook_endpoint_list
from marketplace.services.webhooks import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhook_send_test,
)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE_EVENTS), help_text="Subscribed event types; empty: all."
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "job",
            "url",
            "events",
            "is_active",
            "description",
            "secret_hint",
            "created_at",
            "updated_at",
            "secret_rotated_at",
        ]
        read_only_fields = fields


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """The answer to create and rotate-secret: the only time the full secret is shown."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE_EVENTS),
        required=False,
        help_text="Event types to receive; leave out or send [] for all of them.",
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "last_response_ms",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields


class WebhookEndpointFilter(django_filters.FilterSet):
    job = django_filters.NumberFilter(field_name="job_id")
    account_wide = django_filters.BooleanFilter(field_name="job", lookup_expr="isnull", label="Account-wide only")

    class Meta:
        model = WebhookEndpoint
        fields = ["job", "account_wide", "is_active"]


def _create(request: Request, job: Job | None) -> Response:
    data = WebhookEndpointInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    fields: dict[str, Any] = dict(data.validated_data)
    fields.pop("is_active", None)
    endpoint = webhook_endpoint_create(owner=request.user, job=job, **fields)
    return Response(WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookListCreateApi(generics.ListAPIView):
    """All your endpoints (filter `job`, `account_wide`); POST registers an account-wide one (every job of yours)."""

    permission_classes = [IsRequester]
    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilter
    ordering_fields = ["id", "created_at"]

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.objects.none()
        return webhook_endpoint_list(owner=self.request.user)

    @extend_schema(
        request=WebhookEndpointInputSerializer,
        responses={201: WebhookEndpointWithSecretSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        return _create(request, job=None)


class JobWebhookListCreateApi(generics.ListAPIView):
    """The endpoints of one of your jobs; POST registers one."""

    permission_classes = [IsRequester]
    serializer_class = WebhookEndpointSerializer
    ordering_fields = ["id", "created_at"]

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.objects.none()
        job = selectors.job_get(requester=self.request.user, job_id=self.kwargs["job_id"])
        return webhook_endpoint_list(owner=self.request.user, job=job)

    @extend_schema(
        request=WebhookEndpointInputSerializer,
        responses={
            201: WebhookEndpointWithSecretSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request, job_id: int) -> Response:
        return _create(request, job=selectors.job_get(requester=request.user, job_id=job_id))


class WebhookDetailApi(APIView):
    permission_classes = [IsRequester]

    @extend_schema(responses={200: WebhookEndpointSerializer, 404: ErrorSerializer})
    def get(self, request: Request, webhook_id: int) -> Response:
        endpoint = webhook_endpoint_get(owner=request.user, endpoint_id=webhook_id)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        request=WebhookEndpointInputSerializer,
        responses={200: WebhookEndpointSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def patch(self, request: Request, webhook_id: int) -> Response:
        endpoint = webhook_endpoint_get(owner=request.user, endpoint_id=webhook_id)
        data = WebhookEndpointInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_update(endpoint=endpoint, **data.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None, 404: ErrorSerializer})
    def delete(self, request: Request, webhook_id: int) -> Response:
        webhook_endpoint_delete(endpoint=webhook_endpoint_get(owner=request.user, endpoint_id=webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretApi(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        request=None,
        responses={200: WebhookEndpointWithSecretSerializer, 404: ErrorSerializer},
        summary="Replace the endpoint's signing secret; the new one is shown once, in this answer",
    )
    def post(self, request: Request, webhook_id: int) -> Response:
        endpoint = webhook_endpoint_get(owner=request.user, endpoint_id=webhook_id)
        return Response(WebhookEndpointWithSecretSerializer(webhook_endpoint_rotate_secret(endpoint=endpoint)).data)


class WebhookTestApi(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        request=None,
        responses={202: WebhookDeliverySerializer, 404: ErrorSerializer},
        summary="Send a `ping` event to this endpoint now; follow it in the delivery log",
    )
    def post(self, request: Request, webhook_id: int) -> Response:
        delivery = webhook_send_test(endpoint=webhook_endpoint_get(owner=request.user, endpoint_id=webhook_id))
        delivery.refresh_from_db()  # with in-process tasks it has already been attempted
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListApi(generics.ListAPIView):
    """The endpoint's delivery log, newest first: event, status, attempts, last answer or error, timings."""

    permission_classes = [IsRequester]
    serializer_class = WebhookDeliverySerializer
    filterset_fields = ["status", "event_type"]
    ordering_fields = ["id", "created_at"]

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        endpoint = webhook_endpoint_get(owner=self.request.user, endpoint_id=self.kwargs["webhook_id"])
        return webhook_delivery_list(endpoint=endpoint)
