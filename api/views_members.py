"""Members and invitations, with the Members page's rules (tenants.members and
tenants.invitations decide; tenants.roles says who may try): every member sees who is in the
workspace; owners and admins change roles, remove, invite and revoke; only the owner hands the
workspace over, to an admin. A change those rules refuse is 409 with their message."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import WorkspaceViewSet, body_of, form_data, validated
from api.errors import Conflict
from api.schema import CONFLICT
from api.serializers import (
    InvitationCreateSerializer,
    InvitationSentSerializer,
    InvitationSerializer,
    MemberRoleSerializer,
    MemberSerializer,
)
from tenants import invitations, members
from tenants.forms import InviteForm
from tenants.middleware import panel_url
from tenants.models import Invitation, Membership
from tenants.roles import Action, Role


def _change(change: Callable[[], object]) -> None:
    try:
        change()
    except members.MemberError as error:
        raise Conflict(str(error)) from None


class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """The workspace's members and their roles."""

    serializer_class = MemberSerializer
    ordering_fields = ("id", "role", "created_at")
    default_ordering = ("created_at",)
    filter_fields = {"role": "role"}
    filter_choices = {"role": Role.values}
    actions_required = {"partial_update": Action.MANAGE_MEMBERS,
                        "destroy": Action.MANAGE_MEMBERS,
                        "transfer": Action.TRANSFER_OWNERSHIP}

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # the schema: the type of the id
            return Membership.objects.none()
        return Membership.objects.filter(
            workspace=self.request._request.workspace).select_related("user")

    def actor(self) -> Membership:
        return self.request._request.membership

    @extend_schema(request=MemberRoleSerializer, responses={200: MemberSerializer, 409: CONFLICT})
    def partial_update(self, request: Request, pk: str) -> Response:
        """Make another member an admin or a member (not the owner, not yourself)."""
        target = self.get_object()
        role = body_of(request, ["role"]).get("role")
        if role not in members.ASSIGNABLE:
            raise exceptions.ValidationError({"role": ["Choose admin or member."]})
        _change(lambda: members.change_role(self.actor(), target, role))
        return Response(MemberSerializer(target).data)

    @extend_schema(request=None, responses={204: None, 409: CONFLICT})
    def destroy(self, request: Request, pk: str) -> Response:
        """Remove another member (not the owner): their access ends at once."""
        target = self.get_object()
        _change(lambda: members.remove_member(self.actor(), target))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: MemberSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def transfer(self, request: Request, pk: str) -> Response:
        """Hand the workspace over to this admin (the owner only); you become an admin."""
        target = self.get_object()
        _change(lambda: members.transfer_ownership(self.actor(), target))
        return Response(MemberSerializer(target).data)


class InvitationViewSet(mixins.ListModelMixin, WorkspaceViewSet):
    """Pending invitations (owners and admins). A new one is emailed; its link is in the
    answer once, as the page shows it to whoever invites."""

    serializer_class = InvitationSerializer
    ordering_fields = ("id", "email", "created_at", "expires_at")
    default_ordering = ("created_at",)
    actions_required = {name: Action.MANAGE_MEMBERS
                        for name in ("list", "create", "destroy", "resend")}

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # the schema: the type of the id
            return Invitation.objects.none()
        return (self.request._request.workspace.invitations.pending()
                .select_related("invited_by"))

    def sent(self, invitation: Invitation, link: str, status_code: int) -> Response:
        invitation.link = link
        return Response(InvitationSentSerializer(invitation).data, status=status_code)

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSentSerializer})
    def create(self, request: Request) -> Response:
        """Invite someone by email, as an admin or a member (member when not given)."""
        data = {"role": Role.MEMBER, **body_of(request, ["email", "role"])}
        workspace = request._request.workspace
        form = validated(InviteForm(form_data(data), workspace=workspace))
        link = invitations.invite(workspace, form.cleaned_data["email"],
                                  form.cleaned_data["role"], request.user,
                                  panel_url(request._request, ""))
        invitation = self.get_queryset().get(email=form.cleaned_data["email"])
        return self.sent(invitation, link, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=InvitationSentSerializer)
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str) -> Response:
        """A new link (the earlier one stops working) and a new expiry, emailed again."""
        invitation = self.get_object()
        link = invitations.resend(invitation, panel_url(request._request, ""))
        return self.sent(invitation, link, status.HTTP_200_OK)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        """Withdraw an invitation: its link stops working."""
        invitations.revoke(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
