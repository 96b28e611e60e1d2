"""Teams in the web pages: a requester starts an organisation, owners manage its members, and a member switches the
requester's pages to act for it, within their role (a viewer reads, never changes), as `X-Organisation` does in the
API; outsiders see none of it."""

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import Membership, Organisation
from marketplace.accounts.organisation_services import member_add, organisation_create
from marketplace.models import Job
from tests.factories import JobFactory, RequesterFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(name: str, *args: int) -> str:
    return reverse(f"web:requester:{name}", args=args)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def team(requester):
    organisation = organisation_create(owner=requester, name="Acme <Vision>")
    viewer = UserFactory()
    member_add(organisation=organisation, by=requester, email=viewer.email, role="viewer")
    return organisation, viewer


def test_a_requester_starts_an_organisation_and_acts_for_it(requester):
    mine = JobFactory(requester=requester, title="Personal job")
    client = signed_in(requester)

    created = client.post(url("teams"), {"name": "Acme Vision"})
    organisation = Organisation.objects.get()
    theirs = JobFactory(requester=organisation.account, title="Team job")
    switched = client.post(url("act-for"), {"organisation": organisation.pk}, follow=True)

    assert created.status_code == 302 and created["Location"] == url("team", organisation.pk)
    page = switched.content.decode()
    assert "Team job" in page and "Personal job" not in page and "for <strong>Acme Vision</strong> (owner)" in page
    assert client.get(url("job", theirs.pk)).status_code == 200
    assert client.get(url("job", mine.pk)).status_code == 404  # the pages act for the organisation alone
    back = client.post(url("act-for"), {"organisation": ""}, follow=True).content.decode()
    assert "Personal job" in back and "Team job" not in back


def test_a_viewer_acting_for_the_organisation_reads_but_changes_nothing(team):
    organisation, viewer = team
    job = JobFactory(requester=organisation.account, title="Team job")
    client = signed_in(viewer)  # not a requester themselves: the organisation's account is
    client.post(url("act-for"), {"organisation": organisation.pk})

    assert client.get(url("jobs")).status_code == 200
    assert client.get(url("job", job.pk)).status_code == 200
    assert client.get(url("balance")).status_code == 200
    for name, args in (("job-launch", [job.pk]), ("deposit", [job.pk]), ("job-new", []), ("balance", [])):
        assert client.post(url(name, *args), {"amount": "5", "currency": "USD"}).status_code == 403, name
    job.refresh_from_db()
    assert job.status == "draft" and Job.objects.count() == 1


def test_owners_add_change_and_remove_members_and_others_cannot(requester, team):
    organisation, viewer = team
    newcomer = RequesterFactory()
    owner, other = signed_in(requester), signed_in(viewer)

    by_viewer = other.post(url("team", organisation.pk), {"email": newcomer.email, "role": "owner"}, follow=True)
    added = owner.post(url("team", organisation.pk), {"email": newcomer.email, "role": "manager"}, follow=True)
    owner.post(url("member-role", organisation.pk, viewer.pk), {"role": "manager"})

    assert "Only an owner" in by_viewer.content.decode()
    assert f"{newcomer.email} is now a manager." in added.content.decode()
    assert dict(Membership.objects.values_list("user_id", "role")) == {
        requester.pk: "owner",
        viewer.pk: "manager",
        newcomer.pk: "manager",
    }
    last_owner = owner.post(url("member-remove", organisation.pk, requester.pk), follow=True).content.decode()
    assert "at least one owner" in last_owner
    owner.post(url("member-remove", organisation.pk, newcomer.pk))
    assert not Membership.objects.filter(user=newcomer).exists()


def test_a_member_who_leaves_stops_acting_for_it(team):
    organisation, viewer = team
    client = signed_in(viewer)
    client.post(url("act-for"), {"organisation": organisation.pk})

    left = client.post(url("member-remove", organisation.pk, viewer.pk))

    assert left["Location"] == url("teams")
    assert client.get(url("jobs")).status_code == 403  # no longer for the organisation; not a requester themselves


def test_outsiders_see_no_team_and_cannot_act_for_it(team, outsider):
    organisation, _ = team
    client = signed_in(outsider)

    assert client.get(url("team", organisation.pk)).status_code == 404
    assert client.post(url("act-for"), {"organisation": organisation.pk}).status_code == 404
    assert client.post(url("member-role", organisation.pk, outsider.pk), {"role": "owner"}).status_code == 404
    assert "Acme" not in client.get(url("teams")).content.decode()


def test_names_are_escaped_and_every_form_needs_the_csrf_token(requester, team):
    organisation, viewer = team
    page = signed_in(requester).get(url("team", organisation.pk)).content.decode()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(requester)

    assert "Acme &lt;Vision&gt;" in page and "Acme <Vision>" not in page
    for path, data in (
        (url("teams"), {"name": "x"}),
        (url("act-for"), {"organisation": organisation.pk}),
        (url("team", organisation.pk), {"email": viewer.email, "role": "owner"}),
        (url("member-role", organisation.pk, viewer.pk), {"role": "owner"}),
        (url("member-remove", organisation.pk, viewer.pk), {}),
    ):
        assert strict.post(path, data).status_code == 403, path
    assert Organisation.objects.count() == 1 and Membership.objects.filter(role="owner").count() == 1
