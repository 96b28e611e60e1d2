"""PostgreSQL holds the ledger's rules itself: writes that skip the Python writer are refused at commit."""

import pytest
from django.db import IntegrityError, connection, transaction

from payments.models import Account, Posting, Transaction, TransactionKind
from payments.services.ledger import account_external_deposits, account_requester_available
from tests.payments.helpers import deposit
from tests.payments.invariants import ledger_invariant_violations

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgresql_only("the ledger's rules at commit are PostgreSQL triggers"),
]


@pytest.fixture
def accounts(requester) -> tuple[Account, Account]:
    return account_external_deposits(user=requester, currency="USD"), account_requester_available(
        user=requester, currency="USD"
    )


def insert_postings(key: str, legs: list[tuple[Account, int, str]]) -> None:
    """Write a transaction straight to the tables, as a buggy writer would, and commit."""
    with transaction.atomic():
        journal = Transaction.objects.create(idempotency_key=key, kind=TransactionKind.DEPOSIT)
        for account, amount, currency in legs:
            Posting.objects.create(transaction=journal, account=account, amount=amount, currency=currency)


def test_an_unbalanced_transaction_is_refused_at_commit(accounts):
    source, target = accounts

    with pytest.raises(IntegrityError, match="sum to 1 USD"):
        insert_postings("unbalanced", [(source, -100, "USD"), (target, 101, "USD")])

    assert not Transaction.objects.filter(idempotency_key="unbalanced").exists()


def test_postings_may_be_inserted_one_by_one_since_the_check_waits_for_commit(accounts):
    source, target = accounts

    insert_postings("balanced", [(source, -100, "USD"), (target, 60, "USD"), (target, 40, "USD")])

    assert Posting.objects.filter(transaction__idempotency_key="balanced").count() == 3


def test_a_transaction_without_two_postings_is_refused_at_commit(accounts):
    with pytest.raises(IntegrityError, match="fewer than two postings"):
        insert_postings("empty", [])


def test_a_posting_in_another_currency_than_its_account_is_refused(accounts):
    source, target = accounts

    with pytest.raises(IntegrityError, match="another currency"):
        insert_postings("fx", [(source, -100, "EUR"), (target, 100, "EUR")])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE payments_posting SET amount = amount + 1",
        "DELETE FROM payments_posting",
        "UPDATE payments_transaction SET description = 'edited'",
        "DELETE FROM payments_transaction",
    ],
)
def test_postings_and_transactions_refuse_update_and_delete(requester, statement):
    deposit(requester, 100)

    with pytest.raises(IntegrityError, match="append-only"), connection.cursor() as cursor:
        cursor.execute(statement)

    assert Posting.objects.count() == 2
    assert ledger_invariant_violations() == []


def test_an_internal_accounts_cached_balance_cannot_go_negative(accounts):
    source, target = accounts

    with pytest.raises(IntegrityError, match="account_balance_non_negative"):
        Account.objects.filter(pk=target.pk).update(balance=-1)
    Account.objects.filter(pk=source.pk).update(balance=-1)  # an external account mirrors the outside world

    assert Account.objects.get(pk=source.pk).balance == -1


def test_a_zero_posting_is_refused(accounts):
    source, target = accounts

    with pytest.raises(IntegrityError, match="posting_amount_not_zero"):
        insert_postings("zero", [(source, 0, "USD"), (target, 0, "USD")])
