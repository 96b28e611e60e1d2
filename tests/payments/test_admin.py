"""The ledger in the admin: every page renders, nothing can be added, changed or deleted; stuck payouts resend."""

import pytest
from django.urls import reverse

from payments.models import Account, Payout, PayoutStatus, Posting, Transaction
from payments.services.escrow import escrow_pay_worker
from payments.services.payouts import payout_request
from tests.factories import UserFactory
from tests.payments.helpers import funded_job

pytestmark = pytest.mark.django_db

LEDGER = [Account, Transaction, Posting, Payout]


@pytest.fixture
def admin_client_with_ledger(client, requester, worker):
    funded_job(requester, 1000)
    escrow_pay_worker(
        job_id=1,
        worker=worker,
        gross=500,
        currency="USD",
        fee_rate="0.1",
        idempotency_key="pay",
        reference_type="assignment",
        reference_id=1,
    )
    payout_request(worker=worker, currency="USD", idempotency_key="out")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("model", LEDGER, ids=lambda m: m.__name__)
def test_every_ledger_page_renders_with_search_and_filters(admin_client_with_ledger, model):
    prefix = f"admin:payments_{model._meta.model_name}"
    obj = model.objects.first()

    assert admin_client_with_ledger.get(reverse(f"{prefix}_changelist"), {"q": "a"}).status_code == 200
    assert admin_client_with_ledger.get(reverse(f"{prefix}_changelist"), {"q": "1"}).status_code == 200
    assert admin_client_with_ledger.get(reverse(f"{prefix}_change", args=[obj.pk])).status_code == 200


@pytest.mark.parametrize("model", LEDGER, ids=lambda m: m.__name__)
def test_ledger_rows_cannot_be_added_changed_or_deleted_in_the_admin(admin_client_with_ledger, model):
    prefix = f"admin:payments_{model._meta.model_name}"
    obj = model.objects.first()

    assert admin_client_with_ledger.get(reverse(f"{prefix}_add")).status_code == 403
    assert admin_client_with_ledger.get(reverse(f"{prefix}_delete", args=[obj.pk])).status_code == 403
    page = admin_client_with_ledger.post(reverse(f"{prefix}_change", args=[obj.pk]), {"amount": 1})
    assert page.status_code == 403


def test_an_admin_resends_a_requested_payout(admin_client_with_ledger, sandbox):
    payout = Payout.objects.get()

    admin_client_with_ledger.post(
        reverse("admin:payments_payout_changelist"), {"action": "send_again", "_selected_action": [payout.pk]}
    )

    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SENT
    assert sandbox.executed["payout"] == 1
