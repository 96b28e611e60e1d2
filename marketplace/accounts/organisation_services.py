"""Organisations and their members: the rules of who joins, who leaves and who decides.

Every change to an organisation's members locks the organisation's row first, so that two owners demoting or
removing each other at the same instant cannot leave it without an owner.
"""

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction

from marketplace.accounts.models import Membership, Organisation, OrganisationRole, User
from marketplace.errors import Forbidden, NotFound

ACCOUNT_DOMAIN = "organisations.invalid"  # RFC 2606: never delivered, so nobody can take over an account by e-mail


def organisation_create(*, owner: User, name: str) -> Organisation:
    """A new organisation owned by `owner`, with an account of its own for its jobs, balance, webhooks and keys."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the organisation a name."})
    if not owner.is_requester:
        raise ValidationError({"owner": "Only requesters create organisations (PATCH /api/v1/me/ is_requester=true)."})
    if _is_organisation(owner):
        raise ValidationError({"owner": "An organisation cannot own another."})
    with transaction.atomic():
        account = User.objects.create_user(
            email=f"organisation-{uuid.uuid4().hex}@{ACCOUNT_DOMAIN}", password=None, is_requester=True
        )
        account.first_name = name[:150]  # what workers see of a requester (their name, never an e-mail address)
        account.save(update_fields=["first_name"])
        organisation = Organisation.objects.create(account=account, name=name, created_by=owner)
        Membership.objects.create(organisation=organisation, user=owner, role=OrganisationRole.OWNER, added_by=owner)
    return organisation


def member_add(*, organisation: Organisation, by: User, email: str, role: str) -> Membership:
    """`by` (an owner) adds the person signed up as `email`, in `role`."""
    with transaction.atomic():
        _locked_as_owner(organisation, by)
        user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
        if user is None or _is_organisation(user):
            raise ValidationError({"email": "Nobody has signed up with this e-mail address."})
        if Membership.objects.filter(organisation=organisation, user=user).exists():
            raise ValidationError({"email": "Already a member; change their role instead."})
        return Membership.objects.create(organisation=organisation, user=user, role=_role(role), added_by=by)


def member_set_role(*, organisation: Organisation, by: User, user_id: int, role: str) -> Membership:
    """`by` (an owner) gives a member another role; the last owner stays an owner."""
    with transaction.atomic():
        _locked_as_owner(organisation, by)
        membership = _membership(organisation, user_id)
        role = _role(role)
        if membership.role == OrganisationRole.OWNER and role != OrganisationRole.OWNER:
            _keep_an_owner(organisation, membership, field="role")
        membership.role = role
        membership.save(update_fields=["role"])
        return membership


def member_remove(*, organisation: Organisation, by: User, user_id: int) -> None:
    """An owner removes a member, or a member leaves; the last owner cannot leave."""
    with transaction.atomic():
        Organisation.objects.select_for_update().get(pk=organisation.pk)
        mine = Membership.objects.filter(organisation=organisation, user=by).first()
        if mine is None:
            raise NotFound("No such organisation.")
        if user_id != by.pk and mine.role != OrganisationRole.OWNER:
            raise Forbidden("Only an owner removes other members.")
        membership = _membership(organisation, user_id)
        if membership.role == OrganisationRole.OWNER:
            _keep_an_owner(organisation, membership, field="user")
        membership.delete()


def _locked_as_owner(organisation: Organisation, user: User) -> None:
    Organisation.objects.select_for_update().get(pk=organisation.pk)
    role = Membership.objects.filter(organisation=organisation, user=user).values_list("role", flat=True).first()
    if role is None:
        raise NotFound("No such organisation.")
    if role != OrganisationRole.OWNER:
        raise Forbidden("Only an owner changes the organisation's members.")


def _membership(organisation: Organisation, user_id: int) -> Membership:
    membership = Membership.objects.filter(organisation=organisation, user_id=user_id).first()
    if membership is None:
        raise NotFound("No such member.")
    return membership


def _keep_an_owner(organisation: Organisation, leaving: Membership, *, field: str) -> None:
    owners = Membership.objects.filter(organisation=organisation, role=OrganisationRole.OWNER).exclude(pk=leaving.pk)
    if not owners.exists():
        raise ValidationError({field: "An organisation keeps at least one owner: make someone else owner first."})


def _role(role: str) -> str:
    if role not in OrganisationRole.values:
        raise ValidationError({"role": f"Unknown role {role!r}; known: {OrganisationRole.values}."})
    return role


def _is_organisation(user: User) -> bool:
    return Organisation.objects.filter(account=user).exists()
