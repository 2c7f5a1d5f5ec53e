"""Workflows on workspaces: creating one touches the schema, its domain and its owner."""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import ModelForm

from tenants import audit
from tenants.models import DNS_LABEL, AuditAction, Domain, Membership, User, Workspace
from tenants.roles import Role

logger = logging.getLogger(__name__)

SLUG_MAX_LENGTH = 40


def validate_workspace_slug(slug: str) -> str:
    """The slug, if it can name a new workspace; else ValidationError with the reason."""
    slug = (slug or "").strip()
    if not slug:
        raise ValidationError("Choose a workspace URL name.")
    if len(slug) > SLUG_MAX_LENGTH:
        raise ValidationError(f"Use at most {SLUG_MAX_LENGTH} characters.")
    if slug != slug.lower():
        raise ValidationError("Use lowercase letters only.")
    DNS_LABEL(slug)
    if slug in settings.RESERVED_WORKSPACE_SLUGS:
        raise ValidationError(f"“{slug}” is reserved; choose another name.")
    if Workspace.objects.filter(slug=slug).exists():
        raise ValidationError("A workspace with this URL name already exists.")
    return slug


@transaction.atomic
def create_workspace(slug: str, name: str, owner: User) -> Workspace:
    """A new workspace: its schema cloned from the template, its domain, and its owner."""
    slug = validate_workspace_slug(slug)
    workspace = Workspace(slug=slug, name=name.strip() or slug,
                          schema_name=Workspace.schema_name_for(slug))
    workspace.full_clean(exclude=["schema_name"])
    workspace.save(verbosity=0)
    Domain.objects.create(domain=workspace.hostname, tenant=workspace, is_primary=True)
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    logger.info("created workspace %s for %s", slug, owner.pk)
    return workspace


def get_or_create_user(email: str) -> tuple[User, str | None]:
    """The user with `email`, or a new one with a generated password (returned once)."""
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is not None:
        return user, None
    password = secrets.token_urlsafe(12)
    return User.objects.create_user(email=email.strip(), password=password), password


def delete_workspace(workspace: Workspace) -> None:
    """Delete the workspace: its schema is dropped with everything in it, its routes and
    domains freed at once (hosting's post_delete); each host's next monitor pass (within 15
    s) stops its processes, frees its ports and removes its files and Unix user."""
    workspace.delete()


def rename_workspace(form: ModelForm) -> Workspace:
    """Save a valid rename form of a workspace (the settings page, the API), audited."""
    before = Workspace.objects.values_list("name", flat=True).get(pk=form.instance.pk)
    workspace = form.save()
    audit.record(AuditAction.SETTINGS_CHANGED, workspace, workspace=workspace, before=before,
                 after=workspace.name)
    return workspace
