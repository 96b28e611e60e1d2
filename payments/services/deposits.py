"""Deposits: a requester's money comes in through the payment provider and lands on their available balance."""

import logging

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from payments.errors import IdempotencyConflict, PaymentDeclined, ProviderUnavailable
from payments.models import AccountKind, Transaction, TransactionKind
from payments.money import amount_clean, currency_clean
from payments.providers import ProviderConflict, ProviderError, provider_get
from payments.selectors import transaction_get
from payments.services.ledger import (
    account_external_deposits,
    account_requester_available,
    idempotency_key_clean,
    ledger_post,
)
from payments.signals import deposit_settled

logger = logging.getLogger(__name__)


def deposit_create(*, user: AbstractBaseUser, amount: int, currency: str, idempotency_key: str) -> Transaction:
    """Charge the user's payment method for `amount` and credit it: external_deposits -> requester_available.

    The provider is called outside any database transaction (no network I/O under locks), then the deposit is
    posted in a durable transaction of its own, so calling this inside an atomic block is refused.
    Invariant: money is credited only after the provider confirmed the charge (`PaymentDeclined` otherwise,
    `ProviderUnavailable` when it did not answer: retry with the same key).
    Locks: the two accounts, ascending pk (`ledger_post`).
    Idempotency: the client's key, scoped to the user, is both the provider's key and the ledger's: a retry after
    any failure charges at most once and credits at most once; a replay returns the first deposit, and the same key
    with another amount or currency raises `IdempotencyConflict`.
    After the commit, `payments.signals.deposit_settled` tells the apps above (e.g. slots waiting for funds).
    """
    amount, currency = amount_clean(amount), currency_clean(currency)
    key = f"deposit:{user.pk}:{idempotency_key_clean(idempotency_key)}"
    if (existing := transaction_get(idempotency_key=key)) is not None:
        return _same_deposit(existing, amount, currency)
    try:
        result = provider_get().charge(idempotency_key=key, user=user, amount=amount, currency=currency)
    except ProviderConflict as exc:  # the first attempt charged another amount: never credit this one
        raise IdempotencyConflict(idempotency_key=idempotency_key) from exc
    except ProviderError as exc:
        raise ProviderUnavailable() from exc
    if not result.ok:
        raise PaymentDeclined(reason=result.error)
    with transaction.atomic(durable=True):
        source = account_external_deposits(user=user, currency=currency)
        target = account_requester_available(user=user, currency=currency)
        credited = ledger_post(
            idempotency_key=key,
            entries=[(source, -amount), (target, amount)],
            kind=TransactionKind.DEPOSIT,
            description=f"Deposit, provider reference {result.reference}",
            reference_type="provider_charge",
            reference_id=result.reference[:64],
        )
    for receiver, error in deposit_settled.send_robust(
        sender=deposit_create, user=user, currency=currency, amount=amount
    ):
        if isinstance(error, Exception):  # the deposit stands; the receiver's own sweep catches up later
            logger.error("deposit_settled receiver %r failed", receiver, exc_info=error)
    return credited


def _same_deposit(existing: Transaction, amount: int, currency: str) -> Transaction:
    credited = existing.postings.filter(account__kind=AccountKind.REQUESTER_AVAILABLE).values_list("amount", "currency")
    if existing.kind != TransactionKind.DEPOSIT or list(credited) != [(amount, currency)]:
        raise IdempotencyConflict(idempotency_key=existing.idempotency_key)
    return existing
