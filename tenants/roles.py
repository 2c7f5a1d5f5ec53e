"""What each role may do in a workspace. The one place that decides it (DESIGN.md §3).

Views, API endpoints and WebSocket consumers ask `can(role, action)` through the helpers in
tenants.access; nothing else compares role names.
"""

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Action(StrEnum):
    VIEW = "view"
    DEPLOY = "deploy"
    RESTART = "restart"
    READ_LOGS = "read_logs"
    CREATE_PROJECT = "create_project"
    EDIT_PROJECT = "edit_project"
    DELETE_PROJECT = "delete_project"
    EDIT_SERVICE = "edit_service"
    READ_SECRETS = "read_secrets"
    EDIT_VARIABLES = "edit_variables"
    MANAGE_MEMBERS = "manage_members"
    READ_AUDIT = "read_audit"
    EDIT_WORKSPACE = "edit_workspace"
    DELETE_WORKSPACE = "delete_workspace"
    TRANSFER_OWNERSHIP = "transfer_ownership"


_MEMBER = frozenset({Action.VIEW, Action.DEPLOY, Action.RESTART, Action.READ_LOGS})
_OWNER_ONLY = frozenset({Action.DELETE_WORKSPACE, Action.TRANSFER_OWNERSHIP})
_ADMIN = frozenset(Action) - _OWNER_ONLY

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.ADMIN: _ADMIN,
    Role.MEMBER: _MEMBER,
}


def can(role: Role | str | None, action: Action) -> bool:
    """Whether a member with `role` may perform `action`. No role (not a member): nothing."""
    if role is None:
        return False
    try:
        return action in PERMISSIONS[Role(role)]
    except ValueError:
        return False
