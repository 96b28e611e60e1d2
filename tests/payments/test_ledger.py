"""The ledger writer and the escrow, bonus and reversal services, one movement at a time."""

from decimal import Decimal

import pytest

from payments.errors import (
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientFunds,
    LedgerImmutable,
    NotEscrowOwner,
    NotReversible,
    SelfPayment,
    UnbalancedTransaction,
)
from payments.models import Account, AccountKind, Posting, Transaction, TransactionKind
from payments.selectors import account_balance, account_escrow_get
from payments.services.escrow import bonus_pay, escrow_fund, escrow_pay_worker, escrow_refund
from payments.services.ledger import (
    account_external_deposits,
    account_platform_fees,
    account_requester_available,
    ledger_post,
    transaction_reverse,
)
from payments.services.payouts import payout_request
from tests.factories import RequesterFactory, WorkerFactory
from tests.payments.helpers import available, deposit, funded_job, key, payable
from tests.payments.invariants import ledger_invariant_violations

pytestmark = pytest.mark.django_db


def balances(*accounts: Account) -> list[int]:
    return [Account.objects.get(pk=a.pk).balance for a in accounts]


def pay(job_id: int, worker, gross: int, *, idempotency_key: str | None = None, rate: str = "0.10") -> Transaction:
    return escrow_pay_worker(
        job_id=job_id,
        worker=worker,
        gross=gross,
        currency="USD",
        fee_rate=Decimal(rate),
        idempotency_key=idempotency_key or key("pay"),
        reference_type="assignment",
        reference_id=7,
    )


def test_a_deposit_credits_the_requester_from_their_external_account(requester):
    transaction = deposit(requester, 5000)

    assert transaction.kind == TransactionKind.DEPOSIT
    assert balances(available(requester), account_external_deposits(user=requester, currency="USD")) == [5000, -5000]
    assert sorted(transaction.postings.values_list("amount", flat=True)) == [-5000, 5000]
    assert ledger_invariant_violations() == []


def test_funding_a_job_moves_money_from_available_to_the_jobs_escrow(requester):
    deposit(requester, 5000)

    escrow_fund(job_id=42, requester=requester, amount=3000, currency="USD", idempotency_key="fund-42")

    escrow = account_escrow_get(job_id=42, currency="USD")
    assert (escrow.owner, escrow.reference_type, escrow.reference_id) == (requester, "job", "42")
    assert balances(available(requester), escrow) == [2000, 3000]
    assert ledger_invariant_violations() == []


def test_funding_more_than_is_available_is_refused_with_the_shortfall_and_writes_nothing(requester):
    deposit(requester, 1000)
    before = Transaction.objects.count()

    with pytest.raises(InsufficientFunds) as refused:
        escrow_fund(job_id=1, requester=requester, amount=1500, currency="USD", idempotency_key="fund")

    assert refused.value.extra == {
        "account": "requester_available",
        "currency": "USD",
        "available": 1000,
        "requested": 1500,
        "shortfall": 500,
    }
    assert Transaction.objects.count() == before
    assert balances(available(requester)) == [1000]


def test_paying_a_worker_splits_the_gross_into_net_for_the_worker_and_the_platform_fee(requester, worker):
    job_id = funded_job(requester, 1000)

    transaction = pay(job_id, worker, 250)

    fees = account_platform_fees(currency="USD")
    assert (transaction.reference_type, transaction.reference_id) == ("assignment", "7")
    assert balances(account_escrow_get(job_id=job_id, currency="USD"), payable(worker), fees) == [750, 225, 25]
    assert ledger_invariant_violations() == []


def test_a_fee_that_rounds_to_zero_posts_no_fee_leg(requester, worker):
    job_id = funded_job(requester, 1000)

    transaction = pay(job_id, worker, 10, rate="0.05")

    assert transaction.postings.count() == 2
    assert balances(payable(worker)) == [10]


def test_paying_more_than_the_escrow_holds_is_refused(requester, worker):
    job_id = funded_job(requester, 100)

    with pytest.raises(InsufficientFunds) as refused:
        pay(job_id, worker, 150)

    assert refused.value.extra["shortfall"] == 50
    assert balances(payable(worker)) == [0]


def test_paying_from_a_job_that_was_never_funded_is_refused(worker):
    with pytest.raises(InsufficientFunds):
        pay(999, worker, 10)


def test_a_requester_is_never_paid_from_their_own_jobs_escrow(requester):
    job_id = funded_job(requester, 100)

    with pytest.raises(SelfPayment):
        pay(job_id, requester, 10)


def test_the_same_payment_key_pays_once_and_a_different_amount_under_it_is_a_conflict(requester, worker):
    job_id = funded_job(requester, 1000)
    first = pay(job_id, worker, 100, idempotency_key="approve:assignment:7")

    again = pay(job_id, worker, 100, idempotency_key="approve:assignment:7")
    with pytest.raises(IdempotencyConflict):
        pay(job_id, worker, 200, idempotency_key="approve:assignment:7")

    assert again.pk == first.pk
    assert balances(payable(worker)) == [90]


def test_a_refund_returns_everything_left_in_escrow_once(requester, worker):
    job_id = funded_job(requester, 1000)
    pay(job_id, worker, 300)

    refund = escrow_refund(job_id=job_id, requester=requester, currency="USD", idempotency_key="refund-1")
    replay = escrow_refund(job_id=job_id, requester=requester, currency="USD", idempotency_key="refund-1")
    nothing_left = escrow_refund(job_id=job_id, requester=requester, currency="USD", idempotency_key="refund-2")

    assert replay.pk == refund.pk
    assert nothing_left is None
    assert balances(available(requester), account_escrow_get(job_id=job_id, currency="USD")) == [700, 0]
    assert ledger_invariant_violations() == []


def test_only_the_requester_who_funded_a_job_may_fund_more_or_take_its_escrow_back(requester, outsider):
    job_id = funded_job(requester, 500)
    deposit(outsider, 500)

    with pytest.raises(NotEscrowOwner):
        escrow_refund(job_id=job_id, requester=outsider, currency="USD", idempotency_key=key())
    with pytest.raises(NotEscrowOwner):
        escrow_fund(job_id=job_id, requester=outsider, amount=100, currency="USD", idempotency_key=key())

    assert balances(account_escrow_get(job_id=job_id, currency="USD"), available(outsider)) == [500, 500]


def test_a_bonus_moves_money_from_the_requester_to_the_worker_with_the_platform_fee_on_top(requester, worker):
    deposit(requester, 500)

    bonus_pay(
        requester=requester,
        worker=worker,
        amount=120,
        currency="USD",
        fee_rate="0.2",
        reason="great work",
        idempotency_key="b",
    )

    assert balances(available(requester), payable(worker), account_platform_fees(currency="USD")) == [356, 120, 24]
    assert ledger_invariant_violations() == []


def test_nobody_pays_themselves_a_bonus(requester):
    deposit(requester, 500)

    with pytest.raises(SelfPayment):
        bonus_pay(
            requester=requester,
            worker=requester,
            amount=100,
            currency="USD",
            fee_rate="0.2",
            reason="me",
            idempotency_key="b",
        )


def test_a_reversal_posts_the_opposite_of_every_posting_once(requester, worker):
    job_id = funded_job(requester, 1000)
    payment = pay(job_id, worker, 200)

    reversal = transaction_reverse(transaction=payment, idempotency_key="undo-1", reason="approved by mistake")
    replay = transaction_reverse(transaction=payment, idempotency_key="undo-1", reason="approved by mistake")
    with pytest.raises(AlreadyReversed):
        transaction_reverse(transaction=payment, idempotency_key="undo-2", reason="again")

    assert replay.pk == reversal.pk
    assert reversal.reverses == payment
    expected = sorted((p.account_id, -p.amount) for p in payment.postings.all())
    assert sorted(reversal.postings.values_list("account_id", "amount")) == expected
    assert balances(account_escrow_get(job_id=job_id, currency="USD"), payable(worker)) == [1000, 0]
    assert ledger_invariant_violations() == []


def test_a_reversal_cannot_take_back_pay_the_worker_already_withdrew(requester, worker):
    job_id = funded_job(requester, 1000)
    payment = pay(job_id, worker, 200)
    payout_request(worker=worker, currency="USD", idempotency_key="all-of-it")

    with pytest.raises(InsufficientFunds) as refused:
        transaction_reverse(transaction=payment, idempotency_key="undo", reason="late dispute")

    assert refused.value.extra["account"] == "worker_payable"
    assert ledger_invariant_violations() == []


def test_payout_movements_are_not_reversible_by_hand(requester, worker):
    job_id = funded_job(requester, 1000)
    pay(job_id, worker, 200)
    payout = payout_request(worker=worker, currency="USD", idempotency_key="p")
    request = Transaction.objects.get(idempotency_key=f"payout:{payout.pk}:request")

    with pytest.raises(NotReversible):
        transaction_reverse(transaction=request, idempotency_key="undo", reason="no")


def test_the_writer_refuses_entries_that_do_not_sum_to_zero(requester):
    source, target = available(requester), account_external_deposits(user=requester, currency="USD")

    with pytest.raises(UnbalancedTransaction):
        ledger_post(idempotency_key="bad", entries=[(source, 100), (target, -99)], kind=TransactionKind.DEPOSIT)
    with pytest.raises(UnbalancedTransaction):
        ledger_post(idempotency_key="bad", entries=[(source, 100), (source, -100)], kind=TransactionKind.DEPOSIT)

    assert not Transaction.objects.filter(idempotency_key="bad").exists()


def test_the_writer_refuses_to_mix_currencies_in_a_leg_pair(requester):
    dollars = account_external_deposits(user=requester, currency="USD")
    euros = account_requester_available(user=requester, currency="EUR")

    with pytest.raises(UnbalancedTransaction) as refused:
        ledger_post(idempotency_key="fx", entries=[(dollars, -100), (euros, 100)], kind=TransactionKind.DEPOSIT)

    assert refused.value.extra["sums"] == {"USD": -100, "EUR": 100}


def test_currencies_are_kept_apart(requester):
    deposit(requester, 1000, "USD")
    deposit(requester, 700, "EUR")

    with pytest.raises(InsufficientFunds):
        escrow_fund(job_id=1, requester=requester, amount=800, currency="EUR", idempotency_key=key())

    assert balances(available(requester, "USD"), available(requester, "EUR")) == [1000, 700]


def test_ledger_rows_refuse_to_be_changed_or_deleted_in_python(requester):
    transaction = deposit(requester, 100)
    posting = transaction.postings.first()

    for attempt in (
        transaction.save,
        transaction.delete,
        posting.save,
        posting.delete,
        lambda: Posting.objects.filter(pk=posting.pk).update(amount=1),
        lambda: Transaction.objects.all().delete(),
    ):
        with pytest.raises(LedgerImmutable):
            attempt()


def test_each_account_is_created_once_per_kind_owner_reference_and_currency(requester):
    first = available(requester)

    assert available(requester).pk == first.pk
    assert available(requester, "EUR").pk != first.pk
    assert account_platform_fees(currency="USD").pk == account_platform_fees(currency="USD").pk
    assert Account.objects.filter(kind=AccountKind.REQUESTER_AVAILABLE, owner=requester).count() == 2


def test_the_cached_balance_equals_the_sum_of_postings_after_a_mixed_day(requester, worker):
    second_worker = WorkerFactory()
    other_requester = RequesterFactory()
    job_id = funded_job(requester, 2000)
    deposit(requester, 10)
    funded_job(other_requester, 900, job_id=2)
    pay(job_id, worker, 333, rate="0.15")
    pay(2, second_worker, 450)
    bonus = bonus_pay(
        requester=requester,
        worker=second_worker,
        amount=1,
        currency="USD",
        fee_rate="0.2",
        reason="x",
        idempotency_key=key(),
    )
    transaction_reverse(transaction=bonus, idempotency_key=key(), reason="typo")
    escrow_refund(job_id=2, requester=other_requester, currency="USD", idempotency_key=key())

    for account in Account.objects.all():
        assert account.balance == account_balance(account=account), account
    assert ledger_invariant_violations() == []
