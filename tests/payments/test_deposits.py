"""Deposits: the provider is charged at most once per key, and the ledger credited at most once, whatever fails."""

import pytest

from payments.errors import IdempotencyConflict, PaymentDeclined, ProviderUnavailable
from payments.models import Transaction
from payments.services import deposits
from payments.services.deposits import deposit_create
from tests.payments.helpers import available
from tests.payments.invariants import ledger_invariant_violations

pytestmark = pytest.mark.django_db


def test_a_provider_outage_is_retryable_and_the_retry_charges_once(requester, sandbox):
    sandbox.fail_next("charge", error="timeout", transient=True)

    with pytest.raises(ProviderUnavailable) as outage:
        deposit_create(user=requester, amount=800, currency="USD", idempotency_key="k")
    deposit_create(user=requester, amount=800, currency="USD", idempotency_key="k")

    assert outage.value.transient
    assert sandbox.executed["charge"] == 1
    assert available(requester).balance == 800


def test_a_declined_key_stays_declined_and_a_new_key_may_try_again(requester, sandbox):
    sandbox.fail_next("charge", error="card_declined")

    for _ in range(2):
        with pytest.raises(PaymentDeclined):
            deposit_create(user=requester, amount=800, currency="USD", idempotency_key="first")
    deposit_create(user=requester, amount=800, currency="USD", idempotency_key="second")

    assert available(requester).balance == 800


def test_a_crash_between_the_charge_and_the_ledger_is_credited_once_by_the_retry(requester, sandbox, monkeypatch):
    post = deposits.ledger_post
    crashes = iter([RuntimeError("killed after the provider charged")])

    def crash_once(**kwargs):
        if (crash := next(crashes, None)) is not None:
            raise crash
        return post(**kwargs)

    monkeypatch.setattr(deposits, "ledger_post", crash_once)

    with pytest.raises(RuntimeError):
        deposit_create(user=requester, amount=800, currency="USD", idempotency_key="k")
    deposit_create(user=requester, amount=800, currency="USD", idempotency_key="k")
    deposit_create(user=requester, amount=800, currency="USD", idempotency_key="k")

    assert (sandbox.calls["charge"], sandbox.executed["charge"]) == (2, 1)
    assert Transaction.objects.count() == 1
    assert available(requester).balance == 800
    assert ledger_invariant_violations() == []


def test_a_retry_with_another_amount_after_a_crash_is_a_conflict_not_a_credit(requester, sandbox, monkeypatch):
    monkeypatch.setattr(deposits, "ledger_post", lambda **kwargs: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        deposit_create(user=requester, amount=800, currency="USD", idempotency_key="k")
    monkeypatch.undo()

    with pytest.raises(IdempotencyConflict):
        deposit_create(user=requester, amount=8000, currency="USD", idempotency_key="k")

    assert available(requester).balance == 0
    assert sandbox.executed["charge"] == 1
