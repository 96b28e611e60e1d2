"""Granting and revoking by hand, with who and why on every row; the history; the selectors the marketplace uses."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from qualification.models import Grant
from qualification.selectors import live_grants
from qualification.services.attempts import attempt_start
from qualification.services.grants import grant_manual, grant_revoke
from tests.factories import UserFactory, WorkerFactory
from tests.qualification.conftest import make_qualification

pytestmark = pytest.mark.django_db


def grants_url(qualification) -> str:
    return f"/api/v1/qualifications/{qualification.pk}/grants/"


def revoke_url(grant) -> str:
    return f"{grants_url(grant.qualification)}{grant.pk}/revoke/"


def test_the_owner_grants_by_hand_with_a_reason_on_record(requester_api, requester, worker, qualification):
    response = requester_api.post(
        grants_url(qualification), {"worker": worker.pk, "score": 0.95, "reason": "our best annotator"}, format="json"
    )

    assert response.status_code == 201
    grant = Grant.objects.get(pk=response.json()["id"])
    assert (grant.worker, grant.score, grant.source) == (worker, 0.95, Grant.Source.MANUAL)
    assert (grant.granted_by, grant.reason) == (requester, "our best annotator")
    assert grant.expires_at == pytest.approx(timezone.now() + timedelta(days=30), abs=timedelta(seconds=5))
    assert response.json()["is_live"] is True


def test_a_manual_grant_needs_a_reason_and_a_worker(requester_api, requester, qualification):
    blank = requester_api.post(
        grants_url(qualification), {"worker": WorkerFactory().pk, "score": 1, "reason": "  "}, format="json"
    )
    not_a_worker = requester_api.post(
        grants_url(qualification), {"worker": UserFactory().pk, "score": 1, "reason": "why not"}, format="json"
    )
    requester.is_worker = True
    requester.save()
    own = requester_api.post(
        grants_url(qualification), {"worker": requester.pk, "score": 1, "reason": "myself"}, format="json"
    )

    assert blank.status_code == 400
    assert (not_a_worker.status_code, not_a_worker.json()["code"]) == (400, "not_a_worker")
    assert (own.status_code, own.json()["extra"]["reason"]) == (403, "own_qualification")
    assert not Grant.objects.exists()


def test_the_owner_revokes_with_a_reason_and_the_row_stays(requester_api, requester, worker, qualification):
    grant = grant_manual(qualification=qualification, worker=worker, score=1.0, reason="trial", by=requester)

    response = requester_api.post(revoke_url(grant), {"reason": "sloppy work on job 7"}, format="json")

    assert response.status_code == 200
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    assert (grant.revoked_by, grant.revoke_reason) == (requester, "sloppy work on job 7")
    assert response.json()["is_live"] is False
    assert not live_grants(worker=worker).exists()


def test_revoking_twice_keeps_the_first_reason(requester_api, requester, worker, qualification):
    grant = grant_manual(qualification=qualification, worker=worker, score=1.0, reason="trial", by=requester)
    requester_api.post(revoke_url(grant), {"reason": "first"}, format="json")

    again = requester_api.post(revoke_url(grant), {"reason": "second"}, format="json")

    assert again.status_code == 200
    grant.refresh_from_db()
    assert grant.revoke_reason == "first"


def test_a_revocation_needs_a_reason(requester_api, requester, worker, qualification):
    grant = grant_manual(qualification=qualification, worker=worker, score=1.0, reason="trial", by=requester)

    response = requester_api.post(revoke_url(grant), {"reason": ""}, format="json")

    assert response.status_code == 400
    grant.refresh_from_db()
    assert grant.revoked_at is None


def test_re_granting_keeps_the_history_one_row_per_grant(requester_api, requester, worker, qualification):
    first = grant_manual(qualification=qualification, worker=worker, score=0.7, reason="trial", by=requester)
    second = grant_manual(qualification=qualification, worker=worker, score=0.9, reason="promoted", by=requester)
    grant_revoke(grant=second, reason="left the team", by=requester)
    third = grant_manual(qualification=qualification, worker=worker, score=0.8, reason="back", by=requester)

    history = requester_api.get(grants_url(qualification)).json()["results"]
    live = requester_api.get(grants_url(qualification), {"live": "true"}).json()["results"]

    first.refresh_from_db()
    assert (first.revoke_reason, first.revoked_by) == ("superseded", requester)
    assert [g["id"] for g in history] == [third.pk, second.pk, first.pk]
    assert [(g["reason"], g["revoke_reason"]) for g in history] == [
        ("back", ""),
        ("promoted", "left the team"),
        ("trial", "superseded"),
    ]
    assert [g["id"] for g in live] == [third.pk]
    assert list(live_grants(worker=worker)) == [third]


def test_live_grants_leave_out_expired_and_revoked_ones(requester, worker):
    live, expired, revoked = (make_qualification(requester) for _ in range(3))
    for qualification in (live, expired, revoked):
        grant_manual(qualification=qualification, worker=worker, score=1.0, reason="r", by=requester)
    Grant.objects.filter(qualification=expired).update(expires_at=timezone.now() - timedelta(seconds=1))
    grant_revoke(grant=Grant.objects.get(qualification=revoked), reason="r", by=requester)

    assert [g.qualification for g in live_grants(worker=worker)] == [live]


def test_an_outsider_can_neither_list_nor_grant_nor_revoke(outsider_api, requester, worker, qualification):
    grant = grant_manual(qualification=qualification, worker=worker, score=1.0, reason="trial", by=requester)

    listed = outsider_api.get(grants_url(qualification))
    granted = outsider_api.post(grants_url(qualification), {"worker": worker.pk, "score": 1, "reason": "x"})
    revoked = outsider_api.post(revoke_url(grant), {"reason": "x"}, format="json")

    assert (listed.status_code, granted.status_code, revoked.status_code) == (404, 404, 404)
    grant.refresh_from_db()
    assert grant.revoked_at is None
    assert Grant.objects.count() == 1


def test_an_outsider_cannot_manage_the_grants_of_a_public_qualification(outsider_api, requester, worker):
    public = make_qualification(requester, is_public=True)
    grant = grant_manual(qualification=public, worker=worker, score=1.0, reason="trial", by=requester)

    listed = outsider_api.get(grants_url(public))
    revoked = outsider_api.post(revoke_url(grant), {"reason": "x"}, format="json")

    assert (listed.status_code, revoked.status_code) == (403, 403)
    grant.refresh_from_db()
    assert grant.revoked_at is None


def test_staff_grant_and_revoke_on_any_qualification(api, staff, worker, qualification):
    staff_api = api.as_user(staff)

    granted = staff_api.post(grants_url(qualification), {"worker": worker.pk, "score": 1, "reason": "support ticket"})
    grant = Grant.objects.get(pk=granted.json()["id"])
    revoked = staff_api.post(revoke_url(grant), {"reason": "ticket reversed"}, format="json")

    assert (granted.status_code, revoked.status_code) == (201, 200)
    grant.refresh_from_db()
    assert (grant.granted_by, grant.revoked_by, grant.revoke_reason) == (staff, staff, "ticket reversed")


def test_the_grant_list_takes_a_fixed_number_of_queries(
    requester_api, requester, qualification, django_assert_max_num_queries
):
    for worker in WorkerFactory.create_batch(5):
        grant_manual(qualification=qualification, worker=worker, score=1.0, reason="r", by=requester)

    with django_assert_max_num_queries(4):
        response = requester_api.get(grants_url(qualification))

    assert response.json()["count"] == 5


class TestAdmin:
    @pytest.fixture
    def admin_client(self, client):
        admin_user = UserFactory(is_staff=True, is_superuser=True)
        client.force_login(admin_user)
        client.user = admin_user
        return client

    def test_every_qualification_admin_page_renders(self, admin_client, requester, worker, qualification):
        grant_manual(qualification=qualification, worker=worker, score=1.0, reason="r", by=requester)
        attempt, _ = attempt_start(qualification_id=qualification.pk, worker=WorkerFactory())
        for model, obj in (("qualification", qualification), ("attempt", attempt), ("grant", Grant.objects.get())):
            listing = admin_client.get(reverse(f"admin:qualification_{model}_changelist"), {"q": "a"})
            detail = admin_client.get(reverse(f"admin:qualification_{model}_change", args=[obj.pk]))
            assert (listing.status_code, detail.status_code) == (200, 200)
        for expired in ("yes", "no"):
            listing = admin_client.get(reverse("admin:qualification_grant_changelist"), {"expired": expired})
            assert listing.status_code == 200

    def test_the_admin_action_revokes_the_selected_grants_with_the_admins_email(
        self, admin_client, requester, qualification
    ):
        grants = [
            grant_manual(qualification=qualification, worker=w, score=1.0, reason="r", by=requester)
            for w in WorkerFactory.create_batch(2)
        ]

        response = admin_client.post(
            reverse("admin:qualification_grant_changelist"),
            {"action": "revoke_selected", "_selected_action": [g.pk for g in grants]},
        )

        assert response.status_code == 302
        for grant in grants:
            grant.refresh_from_db()
            assert grant.revoked_by == admin_client.user
            assert grant.revoke_reason == f"revoked in the admin by {admin_client.user.email}"
