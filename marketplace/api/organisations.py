"""Organisations: create one, see yours, and (as an owner) add, change and remove members.

These endpoints are used as yourself (never with `X-Organisation`, never with an API key). An organisation you do not
belong to answers 404, like a missing one. To act *for* an organisation, send `X-Organisation: <id>` on the other
endpoints (README: Organisations).
"""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.accounts.models import Membership, Organisation, OrganisationRole
from marketplace.accounts.organisation_services import member_add, member_remove, member_set_role, organisation_create
from marketplace.accounts.selectors import member_list, membership_get, membership_list
from marketplace.errors import NotFound


class OrganisationSerializer(serializers.ModelSerializer):
    """One of your organisations, with your role in it; `id` is what `X-Organisation` takes."""

    id = serializers.IntegerField(source="organisation.id", read_only=True)
    name = serializers.CharField(source="organisation.name", read_only=True)
    account = serializers.IntegerField(
        source="organisation.account_id", read_only=True, help_text="The user id its jobs and money are held under."
    )

    class Meta:
        model = Membership
        fields = ["id", "name", "account", "role", "added_at"]
        read_only_fields = fields


class MemberSerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "email", "role", "added_at"]
        read_only_fields = fields


def _membership(request: Request, organisation_id: int) -> Membership:
    membership = membership_get(user=request.user, organisation_id=organisation_id)
    if membership is None:
        raise NotFound("No such organisation.")
    return membership


class OrganisationListCreateApi(generics.ListAPIView):
    """The organisations you belong to (`GET`), or a new one you own (`POST`, requesters only)."""

    serializer_class = OrganisationSerializer

    class CreateSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)

    def get_queryset(self) -> QuerySet[Membership]:
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return membership_list(user=self.request.user)

    @extend_schema(request=CreateSerializer, responses={201: OrganisationSerializer})
    def post(self, request: Request) -> Response:
        data = self.CreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organisation = organisation_create(owner=request.user, name=data.validated_data["name"])
        membership = membership_get(user=request.user, organisation_id=organisation.pk)
        return Response(OrganisationSerializer(membership).data, status=status.HTTP_201_CREATED)


class OrganisationMemberListApi(generics.ListAPIView):
    """The organisation's members (any member sees them), or a new member (`POST`, owners only): someone signed up
    with `email`, in `role` (owner, manager or viewer)."""

    serializer_class = MemberSerializer

    class AddSerializer(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=OrganisationRole.choices)

    def get_queryset(self) -> QuerySet[Membership]:
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return member_list(organisation_id=_membership(self.request, self.kwargs["organisation_id"]).organisation_id)

    @extend_schema(request=AddSerializer, responses={201: MemberSerializer})
    def post(self, request: Request, organisation_id: int) -> Response:
        organisation = _membership(request, organisation_id).organisation
        data = self.AddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = member_add(organisation=organisation, by=request.user, **data.validated_data)
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class OrganisationMemberApi(APIView):
    """Change a member's role (`PATCH`, owners only), or remove them (`DELETE`: owners, or a member leaving). An
    organisation keeps at least one owner."""

    class RoleSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=OrganisationRole.choices)

    @extend_schema(request=RoleSerializer, responses=MemberSerializer)
    def patch(self, request: Request, organisation_id: int, user_id: int) -> Response:
        organisation: Organisation = _membership(request, organisation_id).organisation
        data = self.RoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = member_set_role(
            organisation=organisation, by=request.user, user_id=user_id, role=data.validated_data["role"]
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, organisation_id: int, user_id: int) -> Response:
        organisation = _membership(request, organisation_id).organisation
        member_remove(organisation=organisation, by=request.user, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
