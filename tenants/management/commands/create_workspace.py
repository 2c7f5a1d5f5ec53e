"""Create a workspace (and its owner's account if missing), for scripts and operators."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from tenants.services import create_workspace, get_or_create_user


class Command(BaseCommand):
    help = "Create a workspace owned by EMAIL; creates the account with a one-time password."

    def add_arguments(self, parser: object) -> None:
        parser.add_argument("slug", help="URL name: <slug>.PAAS_DOMAIN")
        parser.add_argument("--owner", required=True, help="the owner's email address")
        parser.add_argument("--name", help="display name (default: the slug)")

    def handle(self, *args: object, slug: str, owner: str, name: str | None,
               **options: object) -> None:
        try:
            validate_email(owner)
        except ValidationError as error:
            raise CommandError(f"--owner: {error.messages[0]}") from error
        try:
            with transaction.atomic():
                user, password = get_or_create_user(owner)
                workspace = create_workspace(slug, name or slug, user)
        except ValidationError as error:
            raise CommandError(f"slug: {' '.join(error.messages)}") from error
        self.stdout.write(f"Created workspace {workspace.slug} at {workspace.hostname}")
        if password:
            self.stdout.write(f"Created account {user.email} with password: {password}")
            self.stdout.write("(shown once; change it after logging in)")
