"""The requester's balance and webhooks pages: their own money and endpoints only, through the same services as
the API."""

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.models import WebhookDelivery, WebhookEndpoint
from marketplace.services.webhooks import webhook_endpoint_create
from payments.selectors import balance_list
from payments.services.deposits import deposit_create
from tests.factories import RequesterFactory, WorkerFactory

pytestmark = pytest.mark.django_db


def url(name: str, *args: int) -> str:
    return reverse(f"web:requester:{name}", args=args)


def test_a_worker_cannot_open_the_balance_or_webhooks_pages(client: Client) -> None:
    client.force_login(WorkerFactory())
    for name in ("balance", "webhooks"):
        assert client.get(url(name)).status_code == 403


def test_a_deposit_shows_on_the_balance_and_a_retry_credits_once(browser: Client, requester) -> None:
    form = {"amount": "12.50", "currency": "usd", "idempotency_key": "k-1"}
    browser.post(url("balance"), form)
    browser.post(url("balance"), form)

    page = browser.get(url("balance"))

    [usd] = balance_list(user=requester)
    assert usd.available == 1250
    assert page.context["balances"] == [("USD", "12.50 USD", "0.00 USD")]
    assert len(page.context["transactions"]) == 1


def test_a_bad_currency_is_a_form_error_not_a_500(browser: Client, requester) -> None:
    response = browser.post(url("balance"), {"amount": "5", "currency": "XYZ", "idempotency_key": "k"})

    assert response.status_code == 400
    assert "currency" in response.context["form"].errors
    assert balance_list(user=requester) == []


def test_the_balance_page_shows_only_the_users_own_transactions(browser: Client) -> None:
    other = RequesterFactory()
    deposit_create(user=other, amount=999, currency="USD", idempotency_key="other")

    page = browser.get(url("balance"))

    assert list(page.context["transactions"]) == []
    assert "9.99" not in page.content.decode()


def test_adding_an_endpoint_shows_its_secret_once(browser: Client, requester) -> None:
    response = browser.post(url("webhooks"), {"url": "https://hooks.example.com/in", "events": ["job.completed"]})

    endpoint = WebhookEndpoint.objects.get(owner=requester)
    assert response.status_code == 201
    assert endpoint.secret in response.content.decode()
    assert endpoint.events == ["job.completed"]
    assert endpoint.secret not in browser.get(url("webhook", endpoint.pk)).content.decode()


def test_a_requester_never_sees_another_requesters_webhooks(browser: Client) -> None:
    theirs = webhook_endpoint_create(owner=RequesterFactory(), url="https://secret.example.com/hook")

    assert "secret.example.com" not in browser.get(url("webhooks")).content.decode()
    assert browser.get(url("webhook", theirs.pk)).status_code == 404
    assert browser.post(url("webhook-test", theirs.pk)).status_code == 404
    assert browser.post(url("webhook-rotate", theirs.pk)).status_code == 404
    old = theirs.secret
    theirs.refresh_from_db()
    assert theirs.secret == old and not WebhookDelivery.objects.exists()


def test_a_test_event_is_queued_and_listed_among_the_deliveries(browser: Client, requester) -> None:
    endpoint = webhook_endpoint_create(owner=requester, url="https://hooks.example.com/in")

    browser.post(url("webhook-test", endpoint.pk))  # the delivery is sent on commit, which this test never reaches

    page = browser.get(url("webhook", endpoint.pk))
    assert [d.event_type for d in page.context["deliveries"]] == ["ping"]


def test_rotating_the_secret_replaces_it_and_shows_the_new_one(browser: Client, requester) -> None:
    endpoint = webhook_endpoint_create(owner=requester, url="https://hooks.example.com/in")
    old = endpoint.secret

    response = browser.post(url("webhook-rotate", endpoint.pk))

    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.secret in response.content.decode()


def test_an_endpoint_url_that_is_not_http_is_refused_with_a_message(browser: Client, requester) -> None:
    response = browser.post(url("webhooks"), {"url": "ftp://example.com/x"})

    assert response.status_code == 400
    assert not WebhookEndpoint.objects.filter(owner=requester).exists()
