"""Teams: the organisations a user belongs to, which one they act for on the requester's pages, and (for owners) their
members. These pages are always the person's own (never acting for an organisation); writes go through the same
services as the API's `/api/v1/organisations/`."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from marketplace.accounts.models import Membership, OrganisationRole
from marketplace.accounts.organisation_services import member_add, member_remove, member_set_role, organisation_create
from marketplace.accounts.selectors import member_list, membership_get, membership_list
from marketplace.web.actions import run_service
from marketplace.web.requester.access import ACTING_FOR, acting_membership


class OrganisationForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name of the new organisation")


class MemberForm(forms.Form):
    email = forms.EmailField(label="E-mail address they signed up with")
    role = forms.ChoiceField(choices=OrganisationRole.choices)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=OrganisationRole.choices)


def _membership(request: HttpRequest, organisation_id: int) -> Membership:
    membership = membership_get(user=request.user, organisation_id=organisation_id)  # type: ignore[arg-type]
    if membership is None:
        raise Http404("No such organisation.")
    return membership


@login_required
def teams(request: HttpRequest) -> HttpResponse:
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = run_service(
            request,
            lambda: organisation_create(owner=request.user, name=form.cleaned_data["name"]),  # type: ignore[arg-type]
            success=lambda organisation: f"Created {organisation.name}; you own it.",
        )
        if created is not None:
            return redirect("web:requester:team", created.pk)
    context = {
        "memberships": membership_list(user=request.user),  # type: ignore[arg-type]
        "acting": acting_membership(request),
        "form": form,
    }
    return render(request, "web/requester/teams.html", context)


@login_required
@require_POST
def act_for(request: HttpRequest) -> HttpResponse:
    """Act for one of your organisations on the requester's pages (`organisation` empty: for yourself)."""
    organisation_id = request.POST.get("organisation", "")
    if organisation_id:
        membership = _membership(request, int(organisation_id)) if organisation_id.isdigit() else None
        if membership is None:
            raise Http404("No such organisation.")
        request.session[ACTING_FOR] = membership.organisation_id
    else:
        request.session.pop(ACTING_FOR, None)
    return redirect("web:requester:jobs")


@login_required
def team(request: HttpRequest, organisation_id: int) -> HttpResponse:
    membership = _membership(request, organisation_id)
    organisation = membership.organisation
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        added = run_service(
            request,
            lambda: member_add(organisation=organisation, by=request.user, **form.cleaned_data),  # type: ignore[arg-type]
            success=lambda member: f"{member.user.email} is now a {member.role}.",
        )
        if added is not None:
            return redirect("web:requester:team", organisation_id)
    context = {
        "membership": membership,
        "organisation": organisation,
        "members": member_list(organisation_id=organisation.pk),
        "is_owner": membership.role == OrganisationRole.OWNER,
        "roles": OrganisationRole.choices,
        "form": form,
    }
    return render(request, "web/requester/team.html", context)


@login_required
@require_POST
def member_role(request: HttpRequest, organisation_id: int, user_id: int) -> HttpResponse:
    organisation = _membership(request, organisation_id).organisation
    form = RoleForm(request.POST)
    if form.is_valid():
        run_service(
            request,
            lambda: member_set_role(
                organisation=organisation,
                by=request.user,  # type: ignore[arg-type]
                user_id=user_id,
                role=form.cleaned_data["role"],
            ),
            success=lambda member: f"{member.user.email} is now a {member.role}.",
        )
    return redirect("web:requester:team", organisation_id)


@login_required
@require_POST
def member_leave(request: HttpRequest, organisation_id: int, user_id: int) -> HttpResponse:
    """An owner removes a member, or a member leaves (then back to the Teams page)."""
    organisation = _membership(request, organisation_id).organisation
    leaving = user_id == request.user.pk
    run_service(
        request,
        lambda: member_remove(organisation=organisation, by=request.user, user_id=user_id),  # type: ignore[arg-type]
        success=lambda _: "You left the organisation." if leaving else "Member removed.",
    )
    if leaving and acting_membership(request) is None and not _still_member(request, organisation_id):
        return redirect("web:requester:teams")
    return redirect("web:requester:team", organisation_id)


def _still_member(request: HttpRequest, organisation_id: int) -> bool:
    return membership_get(user=request.user, organisation_id=organisation_id) is not None  # type: ignore[arg-type]
