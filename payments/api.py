"""Payments API: your balances, your ledger lines, deposits (requesters), payouts (workers).

Every view reads or writes the signed-in user's own money only: querysets are scoped to `request.user`, and a
transaction shows only the user's own postings, never the other party's accounts. Money is in minor units.
Deposits and payouts take an idempotency key (the `Idempotency-Key` header or an `idempotency_key` field): a retry
with the same key returns the first result and moves no money twice.
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments import selectors
from payments.models import USER_VISIBLE_KINDS, Payout, Posting, Transaction
from payments.money import MAX_AMOUNT
from payments.services.deposits import deposit_create
from payments.services.payouts import payout_request

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="A key unique to this request (e.g. a UUID); or send `idempotency_key` in the body.",
)


class _HasRole(BasePermission):
    role = ""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, f"is_{self.role}", False))


class IsRequester(_HasRole):
    role = "requester"
    message = "This needs the requester role (PATCH /api/v1/me/ with is_requester=true)."


class IsWorker(_HasRole):
    role = "worker"
    message = "This needs the worker role (PATCH /api/v1/me/ with is_worker=true)."


class PaymentErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    extra = serializers.DictField()


class BalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    available = serializers.IntegerField(help_text="Requester: may fund jobs (minor units).")
    in_escrow = serializers.IntegerField(help_text="Requester: set aside for your jobs.")
    payable = serializers.IntegerField(help_text="Worker: earned, may be paid out.")
    payouts_pending = serializers.IntegerField(help_text="Worker: payouts on their way.")


class LedgerPostingSerializer(serializers.ModelSerializer):
    account = serializers.ChoiceField(
        source="account.kind", choices=USER_VISIBLE_KINDS, help_text="Which of your balances moved."
    )
    job_id = serializers.CharField(source="account.reference_id", help_text="For job escrow: the job; else empty.")

    class Meta:
        model = Posting
        fields = ["account", "job_id", "amount", "currency"]
        read_only_fields = fields


class LedgerTransactionSerializer(serializers.ModelSerializer):
    postings = LedgerPostingSerializer(source="own_postings", many=True, read_only=True)

    class Meta:
        model = Transaction
        fields = ["id", "kind", "description", "reference_type", "reference_id", "created_at", "postings"]
        read_only_fields = fields


class PayoutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payout
        fields = ["id", "amount", "currency", "status", "last_error", "created_at", "updated_at", "finished_at"]
        read_only_fields = fields


class _KeyedInputSerializer(serializers.Serializer):
    currency = serializers.RegexField(r"^[A-Z]{3}$", default="USD")
    idempotency_key = serializers.CharField(max_length=100, required=False)

    def to_internal_value(self, data: Any) -> Any:
        """`amount_cents` (as jobs say `reward_cents`) is accepted for `amount`: both are minor units."""
        if hasattr(data, "get") and data.get("amount_cents") is not None:
            values = {key: data.get(key) for key in data}
            cents = values.pop("amount_cents")
            if values.setdefault("amount", cents) != cents:
                raise serializers.ValidationError({"amount_cents": ["Send amount or amount_cents, not both."]})
            data = values
        return super().to_internal_value(data)


class DepositInputSerializer(_KeyedInputSerializer):
    amount = serializers.IntegerField(
        min_value=1, max_value=MAX_AMOUNT, help_text="Minor units (cents); `amount_cents` is accepted too."
    )


class PayoutInputSerializer(_KeyedInputSerializer):
    amount = serializers.IntegerField(
        min_value=1,
        max_value=MAX_AMOUNT,
        required=False,
        allow_null=True,
        help_text="Minor units (cents; `amount_cents` is accepted too). Default: all payable.",
    )


def _keyed_input(serializer_class: type[_KeyedInputSerializer], request: Request) -> dict[str, Any]:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    values = dict(data.validated_data)
    values["idempotency_key"] = request.headers.get("Idempotency-Key") or values.get("idempotency_key")
    if not values["idempotency_key"]:
        raise serializers.ValidationError(
            {"idempotency_key": ["Send a key in the Idempotency-Key header or in this field."]}
        )
    return values


ERRORS = {400: PaymentErrorSerializer, 403: PaymentErrorSerializer, 409: PaymentErrorSerializer}


class BalanceListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: BalanceSerializer(many=True)}, summary="Your balances, per currency")
    def get(self, request: Request) -> Response:
        return Response(BalanceSerializer(selectors.balance_list(user=request.user), many=True).data)


class TransactionListApi(generics.ListAPIView):
    """Ledger transactions that moved your money, newest first, each with your own postings only."""

    permission_classes = [IsAuthenticated]
    serializer_class = LedgerTransactionSerializer
    ordering_fields = ["id"]
    filterset_fields = ["kind"]

    def get_queryset(self) -> QuerySet[Transaction]:
        if getattr(self, "swagger_fake_view", False):
            return Transaction.objects.none()
        return selectors.transaction_list(user=self.request.user)


class DepositCreateApi(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        request=DepositInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: LedgerTransactionSerializer,
            402: PaymentErrorSerializer,
            503: PaymentErrorSerializer,
            **ERRORS,
        },
        summary="Add money to your available balance",
        description="Charges your payment method. 402 `payment_declined`; 409 `idempotency_conflict` when the key "
        "was used for another amount; 503 `provider_unavailable`: retry with the same key.",
    )
    def post(self, request: Request) -> Response:
        values = _keyed_input(DepositInputSerializer, request)
        deposit = deposit_create(user=request.user, **values)
        own = selectors.transaction_list(user=request.user).get(pk=deposit.pk)
        return Response(LedgerTransactionSerializer(own).data, status=status.HTTP_201_CREATED)


class PayoutListCreateApi(generics.ListAPIView):
    """Your payouts, newest first; POST asks for one (sent in the background)."""

    permission_classes = [IsWorker]
    serializer_class = PayoutSerializer
    ordering_fields = ["id"]
    filterset_fields = ["status", "currency"]

    def get_queryset(self) -> QuerySet[Payout]:
        if getattr(self, "swagger_fake_view", False):
            return Payout.objects.none()
        return selectors.payout_list(worker=self.request.user)

    @extend_schema(
        request=PayoutInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: PayoutSerializer, **ERRORS},
        summary="Withdraw earned money",
        description="400 `payout_too_small` below the minimum; 409 `insufficient_funds` above your payable balance.",
    )
    def post(self, request: Request) -> Response:
        values = _keyed_input(PayoutInputSerializer, request)
        payout = payout_request(worker=request.user, **values)
        return Response(PayoutSerializer(payout).data, status=status.HTTP_201_CREATED)


class PayoutDetailApi(APIView):
    permission_classes = [IsWorker]

    @extend_schema(responses={200: PayoutSerializer, 404: PaymentErrorSerializer})
    def get(self, request: Request, payout_id: int) -> Response:
        payout = selectors.payout_get(worker=request.user, payout_id=payout_id)
        return Response(PayoutSerializer(payout).data)
