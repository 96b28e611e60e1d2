"""Payments API routes; the project mounts them at /api/v1/payments/."""

from django.urls import path

from payments import api

urlpatterns = [
    path("balances/", api.BalanceListApi.as_view(), name="payments-balances"),
    path("transactions/", api.TransactionListApi.as_view(), name="payments-transactions"),
    path("deposits/", api.DepositCreateApi.as_view(), name="payments-deposits"),
    path("payouts/", api.PayoutListCreateApi.as_view(), name="payments-payouts"),
    path("payouts/<int:payout_id>/", api.PayoutDetailApi.as_view(), name="payments-payout"),
]
