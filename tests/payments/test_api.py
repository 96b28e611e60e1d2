"""The payments API over HTTP: each user sees and moves only their own money; retries with a key are safe."""

import pytest

from payments.models import Account, Payout, PayoutStatus, Transaction
from payments.services.escrow import bonus_pay, escrow_pay_worker
from tests.factories import WorkerFactory
from tests.payments.helpers import deposit, funded_job, key

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.payments.urls")]

BASE = "/api/v1/payments"


@pytest.fixture
def paid_worker(requester, worker):
    """The requester funded job 1 with 5000 and paid the worker 1000 gross (900 net) from it."""
    funded_job(requester, 5000)
    escrow_pay_worker(
        job_id=1,
        worker=worker,
        gross=1000,
        currency="USD",
        fee_rate="0.10",
        idempotency_key="approve:1",
        reference_type="assignment",
        reference_id=1,
    )
    return worker


def test_a_requester_deposits_over_http_and_sees_the_money_available(requester_api):
    response = requester_api.post(f"{BASE}/deposits/", {"amount": 2500, "currency": "USD"}, HTTP_IDEMPOTENCY_KEY="d1")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "deposit"
    assert body["postings"] == [{"account": "requester_available", "job_id": "", "amount": 2500, "currency": "USD"}]
    balances = requester_api.get(f"{BASE}/balances/").json()
    assert balances == [{"currency": "USD", "available": 2500, "in_escrow": 0, "payable": 0, "payouts_pending": 0}]


def test_a_deposit_takes_its_amount_as_amount_cents_too(requester_api):
    response = requester_api.post(f"{BASE}/deposits/", {"amount_cents": 700}, HTTP_IDEMPOTENCY_KEY="d-cents")

    assert response.status_code == 201, response.json()
    assert response.json()["postings"][0]["amount"] == 700


def test_a_deposit_with_two_different_amounts_is_refused_and_moves_nothing(requester_api):
    body = {"amount": 700, "amount_cents": 70000}

    response = requester_api.post(f"{BASE}/deposits/", body, HTTP_IDEMPOTENCY_KEY="d-both")

    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {"amount_cents": ["Send amount or amount_cents, not both."]}
    assert not Transaction.objects.exists()


def test_a_deposit_retried_with_the_same_key_is_credited_once(requester_api, requester, sandbox):
    first = requester_api.post(f"{BASE}/deposits/", {"amount": 2500, "idempotency_key": "checkout-7"})
    again = requester_api.post(f"{BASE}/deposits/", {"amount": 2500}, HTTP_IDEMPOTENCY_KEY="checkout-7")
    other = requester_api.post(f"{BASE}/deposits/", {"amount": 999}, HTTP_IDEMPOTENCY_KEY="checkout-7")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_conflict")
    assert sandbox.executed["charge"] == 1
    assert requester_api.get(f"{BASE}/balances/").json()[0]["available"] == 2500


def test_two_users_may_use_the_same_key_for_their_own_deposits(requester_api, outsider_api):
    mine = requester_api.post(f"{BASE}/deposits/", {"amount": 100}, HTTP_IDEMPOTENCY_KEY="1")
    theirs = outsider_api.post(f"{BASE}/deposits/", {"amount": 300}, HTTP_IDEMPOTENCY_KEY="1")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_deposit_needs_an_idempotency_key_a_positive_amount_and_the_requester_role(requester_api, api, worker):
    no_key = requester_api.post(f"{BASE}/deposits/", {"amount": 100})
    bad_amount = requester_api.post(f"{BASE}/deposits/", {"amount": 0}, HTTP_IDEMPOTENCY_KEY="k")
    bad_currency = requester_api.post(f"{BASE}/deposits/", {"amount": 5, "currency": "usd"}, HTTP_IDEMPOTENCY_KEY="k")
    not_a_requester = api.as_user(worker).post(f"{BASE}/deposits/", {"amount": 100}, HTTP_IDEMPOTENCY_KEY="k")
    anonymous = api.post(f"{BASE}/deposits/", {"amount": 100}, HTTP_IDEMPOTENCY_KEY="k")

    assert no_key.json()["extra"]["fields"].keys() == {"idempotency_key"}
    assert [r.status_code for r in (no_key, bad_amount, bad_currency)] == [400, 400, 400]
    assert (not_a_requester.status_code, anonymous.status_code) == (403, 401)
    assert not Transaction.objects.exists()


def test_a_deposit_in_a_code_that_is_no_iso_4217_currency_is_refused_naming_the_field(requester_api, sandbox):
    response = requester_api.post(f"{BASE}/deposits/", {"amount": 500, "currency": "ZZZ"}, HTTP_IDEMPOTENCY_KEY="z")

    assert (response.status_code, response.json()["code"]) == (400, "invalid_currency")
    assert response.json()["extra"] == {"field": "currency", "currency": "ZZZ"}
    assert not Account.objects.exists()
    assert not Transaction.objects.exists()
    assert sandbox.calls["charge"] == 0


def test_a_declined_charge_answers_402_and_credits_nothing(requester_api, sandbox):
    sandbox.fail_next("charge", error="card_declined")

    response = requester_api.post(f"{BASE}/deposits/", {"amount": 100}, HTTP_IDEMPOTENCY_KEY="k")

    assert (response.status_code, response.json()["code"]) == (402, "payment_declined")
    assert response.json()["extra"] == {"reason": "card_declined"}
    assert not Transaction.objects.exists()


def test_a_user_sees_only_their_own_balances_and_transactions(api, requester, outsider, paid_worker):
    deposit(outsider, 700)
    deposit(requester, 100)
    bonus_pay(
        requester=requester,
        worker=paid_worker,
        amount=50,
        currency="USD",
        fee_rate="0.2",
        reason="thanks",
        idempotency_key="b",
    )

    worker_view = api.as_user(paid_worker).get(f"{BASE}/transactions/").json()
    requester_view = api.as_user(requester).get(f"{BASE}/transactions/").json()
    outsider_view = api.as_user(outsider).get(f"{BASE}/transactions/").json()

    assert [t["kind"] for t in worker_view["results"]] == ["bonus", "escrow_pay"]
    assert [p["account"] for t in worker_view["results"] for p in t["postings"]] == ["worker_payable"] * 2
    assert [p["amount"] for t in worker_view["results"] for p in t["postings"]] == [50, 900]
    kinds = ["bonus", "deposit", "escrow_pay", "escrow_fund", "deposit"]
    assert [t["kind"] for t in requester_view["results"]] == kinds
    bonus_lines = requester_view["results"][0]["postings"]
    assert bonus_lines == [{"account": "requester_available", "job_id": "", "amount": -60, "currency": "USD"}]
    assert [t["kind"] for t in outsider_view["results"]] == ["deposit"]
    assert api.as_user(outsider).get(f"{BASE}/balances/").json()[0]["available"] == 700
    assert api.as_user(paid_worker).get(f"{BASE}/balances/").json()[0]["payable"] == 950
    requester_balance = api.as_user(requester).get(f"{BASE}/balances/").json()[0]
    assert (requester_balance["available"], requester_balance["in_escrow"]) == (40, 4000)


def test_the_transaction_list_costs_the_same_few_queries_however_long_it_is(
    api, requester, django_assert_max_num_queries
):
    for _ in range(30):
        deposit(requester, 10)
    client = api.as_user(requester)

    with django_assert_max_num_queries(3):  # count, page, own postings
        response = client.get(f"{BASE}/transactions/", {"page_size": 30})

    assert len(response.json()["results"]) == 30


def test_a_worker_requests_a_payout_over_http_and_sees_only_their_own_payouts(api, paid_worker, outsider):
    client = api.as_user(paid_worker)
    other_worker = WorkerFactory()

    created = client.post(f"{BASE}/payouts/", {"amount": 500, "currency": "USD"}, HTTP_IDEMPOTENCY_KEY="w1")
    replay = client.post(f"{BASE}/payouts/", {"amount": 500, "currency": "USD"}, HTTP_IDEMPOTENCY_KEY="w1")
    too_small = client.post(f"{BASE}/payouts/", {"amount": 50}, HTTP_IDEMPOTENCY_KEY="w2")
    too_big = client.post(f"{BASE}/payouts/", {"amount": 5000}, HTTP_IDEMPOTENCY_KEY="w3")

    assert created.status_code == 201, created.json()
    assert replay.json()["id"] == created.json()["id"]
    assert (too_small.status_code, too_small.json()["code"]) == (400, "payout_too_small")
    assert (too_big.status_code, too_big.json()["extra"]["shortfall"]) == (409, 4600)
    payout_id = created.json()["id"]
    assert [p["id"] for p in client.get(f"{BASE}/payouts/").json()["results"]] == [payout_id]
    assert client.get(f"{BASE}/payouts/{payout_id}/").json()["amount"] == 500
    assert api.as_user(other_worker).get(f"{BASE}/payouts/").json()["results"] == []
    assert api.as_user(other_worker).get(f"{BASE}/payouts/{payout_id}/").status_code == 404
    assert api.as_user(outsider).get(f"{BASE}/payouts/").status_code == 403  # not a worker
    assert Payout.objects.get().status == PayoutStatus.REQUESTED  # sent on commit, outside this test transaction


def test_a_payout_without_an_amount_withdraws_everything_payable(api, paid_worker):
    response = api.as_user(paid_worker).post(f"{BASE}/payouts/", {"amount": None}, HTTP_IDEMPOTENCY_KEY=key())

    assert (response.status_code, response.json()["amount"]) == (201, 900)
    assert api.as_user(paid_worker).get(f"{BASE}/balances/").json()[0]["payouts_pending"] == 900


@pytest.mark.django_db(transaction=True)
def test_a_payout_requested_over_http_is_sent_after_commit(api, paid_worker, sandbox):
    response = api.as_user(paid_worker).post(f"{BASE}/payouts/", {"amount": 900}, HTTP_IDEMPOTENCY_KEY="all")

    assert response.json()["status"] == PayoutStatus.REQUESTED
    assert Payout.objects.get().status == PayoutStatus.SENT
    assert sandbox.executed["payout"] == 1
    balance = api.as_user(paid_worker).get(f"{BASE}/balances/").json()[0]
    assert (balance["payable"], balance["payouts_pending"]) == (0, 0)


def test_an_idempotency_key_longer_than_a_hundred_characters_is_refused(requester_api):
    response = requester_api.post(f"{BASE}/deposits/", {"amount": 100}, HTTP_IDEMPOTENCY_KEY="k" * 101)

    assert (response.status_code, response.json()["code"]) == (400, "invalid_idempotency_key")
    assert requester_api.post(f"{BASE}/deposits/", {"amount": 100}, HTTP_IDEMPOTENCY_KEY="k" * 100).status_code == 201
