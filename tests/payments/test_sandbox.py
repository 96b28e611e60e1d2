"""The bundled sandbox provider keeps every idempotency key's first result in the database, as a real provider keeps
it on its side: another instance, thread or process that repeats a call gets that result, and money moves once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from payments.models import PayoutStatus
from payments.providers import ProviderConflict, SandboxProvider, provider_get
from payments.services import payouts
from payments.services.payouts import payout_request, payout_send
from tests.payments.helpers import payable, run_in_threads
from tests.payments.invariants import ledger_invariant_violations

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_a_second_instance_returns_the_first_result_and_moves_no_money(worker):
    first, second = SandboxProvider(), SandboxProvider()

    sent = first.send_payout(idempotency_key="payout:1:a", user=worker, amount=700, currency="USD")
    again = second.send_payout(idempotency_key="payout:1:a", user=worker, amount=700, currency="USD")

    assert again == sent and sent.ok
    assert (first.executed["payout"], second.executed["payout"]) == (1, 0)


@pytest.mark.django_db
def test_a_refusal_is_remembered_too_and_a_key_reused_for_another_amount_is_a_conflict(worker):
    first, second = SandboxProvider(), SandboxProvider()
    first.fail_next("charge", error="card_declined")

    refused = first.charge(idempotency_key="deposit:1:a", user=worker, amount=300, currency="USD")
    replay = second.charge(idempotency_key="deposit:1:a", user=worker, amount=300, currency="USD")
    with pytest.raises(ProviderConflict):
        second.charge(idempotency_key="deposit:1:a", user=worker, amount=301, currency="USD")

    assert replay == refused and refused.error == "card_declined"
    assert second.executed["charge"] == 0


@pytest.mark.django_db
def test_a_payout_resumed_by_a_fresh_process_after_a_crash_is_sent_once(earning, sandbox, monkeypatch):
    worker = earning
    monkeypatch.setattr(payouts, "_enqueue_send", lambda payout_id: None)
    payout = payout_request(worker=worker, currency="USD", idempotency_key="all")
    real_record = payouts.payout_record_outcome

    def killed(**kwargs: object) -> None:
        raise SystemExit("kill -9")

    monkeypatch.setattr(payouts, "payout_record_outcome", killed)
    with pytest.raises(SystemExit):
        payout_send(payout_id=payout.pk)  # the provider sent it; the process died before the ledger heard
    monkeypatch.setattr(payouts, "payout_record_outcome", real_record)
    monkeypatch.setattr(payouts, "provider_get", SandboxProvider)  # a new process: a provider with no memory of its own

    resumed = payout_send(payout_id=payout.pk, resume=True)

    assert resumed.status == PayoutStatus.SENT
    assert sandbox.executed["payout"] == 1
    assert (
        resumed.provider_reference
        == provider_get()
        .send_payout(idempotency_key=payout.provider_idempotency_key, user=worker, amount=1000, currency="USD")
        .reference
    )
    assert payable(worker).balance == 0
    assert ledger_invariant_violations() == []


@pytest.mark.django_db(transaction=True)
def test_another_operating_system_process_gets_the_first_result_for_the_key(worker):
    sent = SandboxProvider().send_payout(idempotency_key="payout:9:x", user=worker, amount=250, currency="USD")
    script = (
        "from marketplace.accounts.models import User; from payments.providers import SandboxProvider; "
        f"p = SandboxProvider(); r = p.send_payout(idempotency_key='payout:9:x', user=User.objects.get(pk={worker.pk}),"
        " amount=250, currency='USD'); print(r.reference, r.ok, p.executed['payout'])"
    )
    env = {**os.environ, "DATABASE_URL": _url_of_the_test_database()}

    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [sent.reference, "True", "0"]


@pytest.mark.django_db(transaction=True)
def test_ten_instances_racing_on_one_key_move_the_money_once(worker):
    instances = [SandboxProvider() for _ in range(10)]

    results = run_in_threads(
        10,
        lambda i: instances[i].send_payout(idempotency_key="payout:race", user=worker, amount=99, currency="USD"),
    )

    assert len(set(results)) == 1
    assert sum(instance.executed["payout"] for instance in instances) == 1


def _url_of_the_test_database() -> str:
    """The test database as another process reaches it: the PostgreSQL test database, or SQLite's test file."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    return f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/{settings_dict['NAME']}"
