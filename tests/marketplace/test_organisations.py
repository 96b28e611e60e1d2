"""Organisations: requesters work in teams. An organisation's jobs, balance, webhooks and API keys belong to its own
account; members act for it with `X-Organisation: <id>`, each within their role (an owner manages members, a manager
creates, funds, launches and reviews, a viewer sees but changes nothing); a requester without the header acts for
themselves, as before; an outsider organisation sees none of it."""

import pytest
from rest_framework.test import APIClient

from marketplace.accounts.api_keys import SESSION_ONLY, WRITE_SCOPES
from marketplace.accounts.models import ApiKey, Membership, Organisation
from marketplace.accounts.organisation_services import member_add, member_set_role, organisation_create
from marketplace.accounts.organisations import CLOSED_TO_ORGANISATIONS, KEY_ROUTES
from marketplace.models import Job
from tests.factories import JobFactory, RequesterFactory, UserFactory, WorkerFactory
from tests.marketplace.helpers import csv_file, csv_rows
from tests.marketplace.test_api_keys import ROUTES, UNSAFE, key_client
from tests.threads import run_in_threads

pytestmark = pytest.mark.django_db

JOB = {"title": "Birds", "label_schema": {"type": "single_choice", "classes": ["a", "b"]}, "reward_cents": 10}


def signed_in(user, organisation: Organisation | None = None) -> APIClient:
    """A client with the user's real session (the header is read by authentication, which a forced user skips)."""
    client = APIClient()
    client.force_login(user)
    if organisation is not None:
        client.credentials(HTTP_X_ORGANISATION=str(organisation.pk))
    return client


@pytest.fixture
def team(requester):
    """An organisation owned by `requester`, with a manager and a viewer."""
    organisation = organisation_create(owner=requester, name="Acme Vision")
    manager, viewer = RequesterFactory(), UserFactory()
    member_add(organisation=organisation, by=requester, email=manager.email, role="manager")
    member_add(organisation=organisation, by=requester, email=viewer.email, role="viewer")
    return organisation, manager, viewer


def test_a_requester_creates_an_organisation_they_own_with_an_account_nobody_signs_in_as(requester):
    response = signed_in(requester).post("/api/v1/organisations/", {"name": "  Acme Vision "}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    organisation = Organisation.objects.get(pk=body["id"])
    assert (body["name"], body["role"], body["account"]) == ("Acme Vision", "owner", organisation.account_id)
    assert not organisation.account.has_usable_password() and organisation.account.email.endswith(".invalid")
    assert organisation.account.get_full_name() == "Acme Vision"  # what workers see of its jobs
    assert signed_in(requester).get("/api/v1/organisations/").json()["results"] == [body]


def test_a_worker_cannot_create_one_and_a_name_is_required(requester):
    worker = WorkerFactory()

    refused = signed_in(worker).post("/api/v1/organisations/", {"name": "Mine"}, format="json")
    blank = signed_in(requester).post("/api/v1/organisations/", {"name": "   "}, format="json")

    assert refused.status_code == 400 and "owner" in refused.json()["extra"]["fields"]
    assert blank.status_code == 400 and "name" in blank.json()["extra"]["fields"]
    assert not Organisation.objects.exists()


def test_an_owner_adds_members_by_email_and_only_an_owner_does(requester, team):
    organisation, manager, viewer = team
    newcomer = UserFactory()
    path = f"/api/v1/organisations/{organisation.pk}/members/"

    by_manager = signed_in(manager).post(path, {"email": newcomer.email, "role": "viewer"}, format="json")
    unknown = signed_in(requester).post(path, {"email": "nobody@example.com", "role": "viewer"}, format="json")
    twice = signed_in(requester).post(path, {"email": manager.email, "role": "viewer"}, format="json")
    added = signed_in(requester).post(path, {"email": newcomer.email.upper(), "role": "manager"}, format="json")

    assert (by_manager.status_code, by_manager.json()["code"]) == (403, "forbidden")
    assert unknown.status_code == 400 and "email" in unknown.json()["extra"]["fields"]
    assert twice.status_code == 400 and "email" in twice.json()["extra"]["fields"]
    assert added.status_code == 201 and added.json()["role"] == "manager"
    listed = signed_in(viewer).get(path).json()["results"]
    assert [(m["email"], m["role"]) for m in listed] == [
        (requester.email, "owner"),
        (manager.email, "manager"),
        (viewer.email, "viewer"),
        (newcomer.email, "manager"),
    ]


def test_an_outsider_sees_no_organisation_of_others(team, outsider):
    organisation, _, _ = team
    outside = signed_in(outsider)

    assert outside.get("/api/v1/organisations/").json()["results"] == []
    assert outside.get(f"/api/v1/organisations/{organisation.pk}/members/").status_code == 404
    add = outside.post(f"/api/v1/organisations/{organisation.pk}/members/", {"email": outsider.email, "role": "owner"})
    assert add.status_code == 404
    assert not Membership.objects.filter(user=outsider).exists()


def test_a_manager_creates_funds_and_launches_the_organisations_job(requester, team):
    organisation, manager, _ = team
    acting = signed_in(manager, organisation)

    created = acting.post("/api/v1/jobs/", {**JOB, "gold_ratio": 0}, format="json")
    job_id = created.json()["id"]
    upload = acting.post(
        f"/api/v1/jobs/{job_id}/uploads/", {"file": csv_file(csv_rows(4)), "kind": "items"}, format="multipart"
    )
    cost = acting.get(f"/api/v1/jobs/{job_id}/cost/").json()["total_cents"]
    deposit = acting.post(
        "/api/v1/payments/deposits/", {"amount": cost, "currency": "USD"}, format="json", HTTP_IDEMPOTENCY_KEY="team-1"
    )
    launched = acting.post(f"/api/v1/jobs/{job_id}/launch/")

    assert (created.status_code, upload.status_code, deposit.status_code) == (201, 201, 201), upload.content
    assert launched.status_code == 200, launched.content
    job = Job.objects.get(pk=job_id)
    assert job.requester == organisation.account and job.status == "active"
    balances = signed_in(requester, organisation).get("/api/v1/payments/balances/").json()
    assert [(b["currency"], b["available"], b["in_escrow"]) for b in balances] == [("USD", 0, cost)]
    # The manager's own account and the owner's personal account hold none of it.
    assert signed_in(manager).get("/api/v1/payments/balances/").json() == []
    assert signed_in(requester).get("/api/v1/jobs/").json()["results"] == []


def test_a_viewer_sees_the_organisations_jobs_and_money_but_changes_nothing(team):
    organisation, _, viewer = team
    job = JobFactory(requester=organisation.account)
    acting = signed_in(viewer, organisation)

    assert [j["id"] for j in acting.get("/api/v1/jobs/").json()["results"]] == [job.pk]
    assert acting.get(f"/api/v1/jobs/{job.pk}/progress/").status_code == 200
    assert acting.get("/api/v1/payments/balances/").status_code == 200
    refused = [
        acting.post("/api/v1/jobs/", JOB, format="json"),
        acting.patch(f"/api/v1/jobs/{job.pk}/", {"title": "renamed"}, format="json"),
        acting.post(f"/api/v1/jobs/{job.pk}/launch/"),
        acting.post("/api/v1/payments/deposits/", {"amount": 1, "currency": "USD"}, HTTP_IDEMPOTENCY_KEY="v"),
        acting.post(f"/api/v1/jobs/{job.pk}/review/", {"approve": [1]}, format="json"),
        acting.post("/api/v1/api-keys/", {"name": "k", "scopes": []}, format="json"),
    ]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "organisation_role")] * 6
    job.refresh_from_db()
    assert job.title != "renamed" and Job.objects.count() == 1


def test_a_non_member_naming_the_organisation_is_refused_and_an_outsider_organisation_sees_nothing(team, outsider):
    organisation, manager, _ = team
    job = JobFactory(requester=organisation.account)
    theirs = organisation_create(owner=outsider, name="Rival Labs")
    rival_job = JobFactory(requester=theirs.account)

    intruder = signed_in(outsider, organisation).get("/api/v1/jobs/")
    rival = signed_in(outsider, theirs)
    ours = signed_in(manager, organisation)

    assert (intruder.status_code, intruder.json()["code"]) == (403, "organisation_membership")
    assert [j["id"] for j in rival.get("/api/v1/jobs/").json()["results"]] == [rival_job.pk]
    assert rival.get(f"/api/v1/jobs/{job.pk}/").status_code == 404
    assert ours.get(f"/api/v1/jobs/{rival_job.pk}/").status_code == 404
    bad = APIClient()
    bad.force_login(manager)
    malformed = bad.get("/api/v1/jobs/", HTTP_X_ORGANISATION="abc")
    assert malformed.status_code == 400 and "X-Organisation" in malformed.json()["extra"]["fields"]


def test_nobody_works_or_changes_roles_as_an_organisation(team):
    organisation, manager, _ = team
    acting = signed_in(manager, organisation)

    for response in (
        acting.get("/api/v1/work/jobs/"),
        acting.patch("/api/v1/me/", {"is_worker": True}, format="json"),
        acting.get(f"/api/v1/organisations/{organisation.pk}/members/"),
    ):
        assert (response.status_code, response.json()["code"]) == (403, "organisation_role"), response.content
    assert not organisation.account.is_worker


def test_workers_see_the_organisations_name_on_its_jobs(team):
    from marketplace.api.work import requester_display_name

    organisation, _, _ = team
    assert requester_display_name(organisation.account) == "Acme Vision"


def test_a_manager_makes_the_organisations_keys_which_act_for_it_alone(team, outsider):
    organisation, manager, viewer = team
    job = JobFactory(requester=organisation.account)
    created = signed_in(manager, organisation).post("/api/v1/api-keys/", {"name": "ci", "scopes": ["jobs"]})
    secret = created.json()["key"]

    assert created.status_code == 201 and ApiKey.objects.get().user == organisation.account
    assert [j["id"] for j in key_client(secret).get("/api/v1/jobs/").json()["results"]] == [job.pk]
    assert [k["name"] for k in signed_in(viewer, organisation).get("/api/v1/api-keys/").json()["results"]] == ["ci"]
    assert signed_in(manager).get("/api/v1/api-keys/").json()["results"] == []  # not the manager's own
    other = organisation_create(owner=outsider, name="Rival Labs")
    named = key_client(secret).get("/api/v1/jobs/", HTTP_X_ORGANISATION=str(other.pk))
    assert (named.status_code, named.json()["code"]) == (403, "organisation_membership")
    assert key_client(secret).get("/api/v1/jobs/", HTTP_X_ORGANISATION=str(organisation.pk)).status_code == 200


def test_members_leave_and_owners_remove_but_an_organisation_keeps_an_owner(requester, team):
    organisation, manager, viewer = team
    path = f"/api/v1/organisations/{organisation.pk}/members/"

    last_owner_leaves = signed_in(requester).delete(f"{path}{requester.pk}/")
    last_owner_steps_down = signed_in(requester).patch(f"{path}{requester.pk}/", {"role": "viewer"}, format="json")
    viewer_removes = signed_in(viewer).delete(f"{path}{manager.pk}/")
    viewer_leaves = signed_in(viewer).delete(f"{path}{viewer.pk}/")
    promoted = signed_in(requester).patch(f"{path}{manager.pk}/", {"role": "owner"}, format="json")
    then_leaves = signed_in(requester).delete(f"{path}{requester.pk}/")

    assert last_owner_leaves.status_code == 400 and "user" in last_owner_leaves.json()["extra"]["fields"]
    assert last_owner_steps_down.status_code == 400 and "role" in last_owner_steps_down.json()["extra"]["fields"]
    assert viewer_removes.status_code == 403
    assert (viewer_leaves.status_code, promoted.status_code, then_leaves.status_code) == (204, 200, 204)
    assert list(Membership.objects.values_list("user_id", "role")) == [(manager.pk, "owner")]
    assert signed_in(requester, organisation).get("/api/v1/jobs/").json()["code"] == "organisation_membership"


@pytest.mark.django_db(transaction=True)
def test_two_owners_stepping_down_at_once_leave_one_owner():
    first, second = RequesterFactory(), RequesterFactory()
    organisation = organisation_create(owner=first, name="Duo")
    member_add(organisation=organisation, by=first, email=second.email, role="owner")
    owners = [first, second]

    def step_down(i: int) -> object:
        return member_set_role(organisation=organisation, by=owners[i], user_id=owners[i].pk, role="viewer")

    results = run_in_threads(2, step_down, errors_as_results=True)

    assert sorted(type(r).__name__ for r in results) == ["Membership", "ValidationError"]
    assert Membership.objects.filter(organisation=organisation, role="owner").count() == 1


def _expected_refusal(role: str, name: str, method: str) -> bool:
    if name.startswith(CLOSED_TO_ORGANISATIONS) or (name in SESSION_ONLY and method != "get"):
        return True
    if method == "get":
        return False
    if name in KEY_ROUTES:
        return role == "viewer"
    return role == "viewer" or name not in WRITE_SCOPES


@pytest.mark.parametrize("role", ["viewer", "manager", "owner"])
def test_every_route_and_method_is_refused_to_a_member_exactly_when_their_role_may_not(requester, role):
    organisation = organisation_create(owner=requester, name="Matrix")
    member = requester
    if role != "owner":
        member = RequesterFactory()
        member_add(organisation=organisation, by=requester, email=member.email, role=role)
    client = signed_in(member, organisation)
    for name, path, view in ROUTES:
        for method in ("get", *UNSAFE):
            if not hasattr(view, method):
                continue
            response = getattr(client, method)(path, {})
            refused = response.status_code == 403 and response.json().get("code") == "organisation_role"
            assert refused == _expected_refusal(role, name, method), (name, method, response.status_code)
