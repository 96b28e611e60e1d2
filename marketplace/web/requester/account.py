"""The requester's money (balances, a sandbox deposit, the ledger lines) and webhooks (endpoints, deliveries, a
test event, a new secret). Reads through `payments.selectors` and `selectors_webhooks` (scoped to the owner); writes
through `deposit_create` and the webhooks services, as the API does."""

import uuid
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from marketplace.errors import MarketplaceError, NotFound
from marketplace.models import SUBSCRIBABLE_EVENTS, WebhookEndpoint
from marketplace.selectors_webhooks import webhook_delivery_list, webhook_endpoint_get, webhook_endpoint_list
from marketplace.services.webhooks import webhook_endpoint_create, webhook_endpoint_rotate_secret, webhook_send_test
from marketplace.web.actions import run_service
from marketplace.web.requester.access import account, requester_required
from payments.errors import InvalidCurrency
from payments.money import currency_clean, format_amount, to_decimal
from payments.selectors import balance_list, transaction_list
from payments.services.deposits import deposit_create

LEDGER_SHOWN = 50
DELIVERIES_SHOWN = 50


class AccountDepositForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.01"), decimal_places=2, max_digits=14, label="Amount")
    currency = forms.CharField(min_length=3, max_length=3, initial="USD", label="Currency")
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_currency(self) -> str:
        try:
            return currency_clean(self.cleaned_data["currency"].upper())
        except InvalidCurrency as exc:
            raise ValidationError(exc.message) from None


class EndpointForm(forms.Form):
    url = forms.URLField(max_length=2000, label="URL", assume_scheme="https")
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in SUBSCRIBABLE_EVENTS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )


@requester_required
def balance(request: HttpRequest) -> HttpResponse:
    form = AccountDepositForm(request.POST or None, initial={"idempotency_key": uuid.uuid4().hex})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        amount = int(data["amount"] / to_decimal(1, data["currency"]))
        run_service(
            request,
            lambda: deposit_create(
                user=account(request), amount=amount, currency=data["currency"], idempotency_key=data["idempotency_key"]
            ),
            success=lambda _: f"Deposited {format_amount(amount, data['currency'])}.",
        )
        return redirect("web:requester:balance")
    balances = [
        (b.currency, format_amount(b.available, b.currency), format_amount(b.in_escrow, b.currency))
        for b in balance_list(user=account(request))
    ]
    context = {
        "balances": balances,
        "transactions": transaction_list(user=account(request))[:LEDGER_SHOWN],
        "form": form,
    }
    return render(request, "web/requester/balance.html", context, status=400 if form.errors else 200)


@requester_required
def webhooks(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = webhook_endpoint_create(owner=account(request), **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        except MarketplaceError as exc:
            form.add_error(None, exc.message)
        else:
            return _detail(request, endpoint, secret=True, status=201)
    context = {"endpoints": webhook_endpoint_list(owner=account(request)).select_related("job"), "form": form}
    return render(request, "web/requester/webhooks.html", context, status=400 if form.errors else 200)


def _own_endpoint(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    try:
        return webhook_endpoint_get(owner=account(request), endpoint_id=endpoint_id)
    except NotFound:
        raise Http404("No such webhook endpoint.") from None


def _detail(request: HttpRequest, endpoint: WebhookEndpoint, *, secret: bool, status: int = 200) -> HttpResponse:
    """The endpoint and its latest deliveries; the secret only right after it was made (as the API shows it)."""
    context = {
        "endpoint": endpoint,
        "show_secret": secret,
        "deliveries": webhook_delivery_list(endpoint=endpoint)[:DELIVERIES_SHOWN],
    }
    return render(request, "web/requester/webhook_detail.html", context, status=status)


@requester_required
def webhook_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    return _detail(request, _own_endpoint(request, endpoint_id), secret=False)


@requester_required
@require_POST
def webhook_test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    delivery = webhook_send_test(endpoint=_own_endpoint(request, endpoint_id))
    messages.success(request, f"Test event {delivery.event_id} queued.")
    return redirect("web:requester:webhook", endpoint_id=endpoint_id)


@requester_required
@require_POST
def webhook_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = webhook_endpoint_rotate_secret(endpoint=_own_endpoint(request, endpoint_id))
    messages.success(request, "New secret made: events are signed with it from now on.")
    return _detail(request, endpoint, secret=True)
