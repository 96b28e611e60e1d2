"""A random walk through every money movement, with the books checked after each step (hypothesis stateful).

The machine keeps its own model of where the money should be, and after every step compares it with the ledger
and checks the ledger's invariants. Transactions really commit (transactional test), so PostgreSQL's deferred
zero-sum trigger runs on every one of them. Each example gets a fresh requester, worker and job.
"""

from decimal import Decimal
from itertools import count

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from payments.errors import AlreadyReversed, InsufficientFunds, PayoutTooSmall
from payments.models import Account, AccountKind, Payout, PayoutStatus, Transaction
from payments.money import fee_split
from payments.providers import provider_get
from payments.services import payouts
from payments.services.deposits import deposit_create
from payments.services.escrow import bonus_pay, escrow_fund, escrow_pay_worker, escrow_refund
from payments.services.ledger import account_platform_fees, transaction_reverse
from payments.services.payouts import payout_request, payout_send
from tests.factories import RequesterFactory, WorkerFactory
from tests.payments.invariants import ledger_invariant_violations

EXTERNAL = {"deposited", "paid_out"}
KINDS = {
    AccountKind.REQUESTER_AVAILABLE: "available",
    AccountKind.JOB_ESCROW: "escrow",
    AccountKind.WORKER_PAYABLE: "payable",
    AccountKind.PAYOUTS_PENDING: "pending",
    AccountKind.EXTERNAL_DEPOSITS: "deposited",
    AccountKind.EXTERNAL_PAYOUTS: "paid_out",
}
amounts = st.integers(min_value=1, max_value=3000)
_job_ids = count(1_000_000)
_keys = count(1)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        provider_get().reset()
        self.requester, self.worker, self.job_id = RequesterFactory(), WorkerFactory(), next(_job_ids)
        self.fees_before = account_platform_fees(currency="USD").balance
        self.expected = dict.fromkeys([*KINDS.values(), "fees"], 0)
        self.reversible: list[tuple[Transaction, dict[str, int]]] = []
        self.replays: list[tuple[object, str, Transaction]] = []
        self.requested: list[Payout] = []

    # --- bookkeeping of the model ---

    def move(self, deltas: dict[str, int]) -> None:
        for name, delta in deltas.items():
            self.expected[name] += delta

    def affordable(self, deltas: dict[str, int]) -> bool:
        return all(self.expected[n] + d >= 0 for n, d in deltas.items() if n not in EXTERNAL)

    def attempt(self, call, deltas: dict[str, int]) -> None:
        """Run a movement; the model says whether it must succeed or be refused for lack of funds."""
        key = f"sm-{next(_keys)}"
        if not self.affordable(deltas):
            with pytest.raises(InsufficientFunds):
                call(key)
            return
        transaction = call(key)
        self.move(deltas)
        self.reversible.append((transaction, deltas))
        self.replays.append((call, key, transaction))

    # --- rules ---

    @rule(amount=amounts)
    def deposit(self, amount: int) -> None:
        def call(key: str) -> Transaction:
            return deposit_create(user=self.requester, amount=amount, currency="USD", idempotency_key=key)

        self.attempt(call, {"deposited": -amount, "available": amount})

    @rule(amount=amounts)
    def fund_escrow(self, amount: int) -> None:
        def call(key: str) -> Transaction:
            return escrow_fund(
                job_id=self.job_id, requester=self.requester, amount=amount, currency="USD", idempotency_key=key
            )

        self.attempt(call, {"available": -amount, "escrow": amount})

    @rule(gross=amounts, rate=st.sampled_from(["0", "0.05", "0.1", "0.2", "0.333"]))
    def pay_worker(self, gross: int, rate: str) -> None:
        fee, net = fee_split(gross=gross, rate=rate)

        def call(key: str) -> Transaction:
            return escrow_pay_worker(
                job_id=self.job_id,
                worker=self.worker,
                gross=gross,
                currency="USD",
                fee_rate=Decimal(rate),
                idempotency_key=key,
                reference_type="assignment",
                reference_id=key,
            )

        self.attempt(call, {"escrow": -gross, "payable": net, "fees": fee})

    @rule(amount=amounts, rate=st.sampled_from(["0", "0.05", "0.2"]))
    def bonus(self, amount: int, rate: str) -> None:
        fee, _ = fee_split(gross=amount, rate=rate)

        def call(key: str) -> Transaction:
            return bonus_pay(
                requester=self.requester,
                worker=self.worker,
                amount=amount,
                currency="USD",
                fee_rate=rate,
                reason="stateful",
                idempotency_key=key,
            )

        self.attempt(call, {"available": -(amount + fee), "payable": amount, "fees": fee})

    @rule()
    def refund(self) -> None:
        remaining = self.expected["escrow"]
        refund = escrow_refund(
            job_id=self.job_id, requester=self.requester, currency="USD", idempotency_key=f"sm-{next(_keys)}"
        )
        assert (refund is None) == (remaining == 0)
        if refund is not None:
            deltas = {"escrow": -remaining, "available": remaining}
            self.move(deltas)
            self.reversible.append((refund, deltas))

    @rule(amount=st.none() | amounts)
    def request_payout(self, amount: int | None) -> None:
        wanted = self.expected["payable"] if amount is None else amount

        def call() -> Payout:
            return payout_request(
                worker=self.worker, amount=amount, currency="USD", idempotency_key=f"sm-{next(_keys)}"
            )

        if wanted < 100:
            with pytest.raises(PayoutTooSmall):
                call()
        elif wanted > self.expected["payable"]:
            with pytest.raises(InsufficientFunds):
                call()
        else:
            self.requested.append(call())
            self.move({"payable": -wanted, "pending": wanted})

    @precondition(lambda self: self.requested)
    @rule(index=st.integers(min_value=0), refused=st.booleans())
    def send_payout(self, index: int, refused: bool) -> None:
        payout = self.requested.pop(index % len(self.requested))
        if refused:
            provider_get().fail_next("payout", error="account_closed")
        done = payout_send(payout_id=payout.pk)
        assert done.status == (PayoutStatus.FAILED if refused else PayoutStatus.SENT)
        target = "payable" if refused else "paid_out"
        self.move({"pending": -payout.amount, target: payout.amount})

    @precondition(lambda self: self.reversible)
    @rule(index=st.integers(min_value=0))
    def reverse(self, index: int) -> None:
        original, deltas = self.reversible[index % len(self.reversible)]
        undo = {name: -delta for name, delta in deltas.items()}

        def call() -> Transaction:
            return transaction_reverse(transaction=original, idempotency_key=f"sm-{next(_keys)}", reason="sm")

        if Transaction.objects.filter(reverses=original).exists():
            with pytest.raises(AlreadyReversed):
                call()
        elif not self.affordable(undo):
            with pytest.raises(InsufficientFunds):
                call()
        else:
            self.reversible.append((call(), undo))
            self.move(undo)

    @precondition(lambda self: self.replays)
    @rule(index=st.integers(min_value=0))
    def replay(self, index: int) -> None:
        call, key, first = self.replays[index % len(self.replays)]
        assert call(key).pk == first.pk  # same key, same request: nothing new is written

    # --- checks after every step ---

    @invariant()
    def the_ledger_matches_the_model(self) -> None:
        owners = [self.requester.pk, self.worker.pk]
        actual = dict.fromkeys(self.expected, 0)
        for kind, balance in Account.objects.filter(owner__in=owners).values_list("kind", "balance"):
            actual[KINDS[kind]] += balance
        actual["fees"] = account_platform_fees(currency="USD").balance - self.fees_before
        assert actual == self.expected

    @invariant()
    def the_books_balance(self) -> None:
        assert ledger_invariant_violations() == []


@pytest.mark.django_db(transaction=True)
def test_random_sequences_of_money_movements_keep_the_books_balanced(monkeypatch):
    monkeypatch.setattr(payouts, "_enqueue_send", lambda payout_id: None)  # the machine sends payouts itself
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
