"""`manage.py create_api_token --workspace SLUG --email EMAIL [--name NAME] [--days N]`:
prints a new personal access token (only the token, for scripts)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.tokens import create_token
from tenants.access import membership_for
from tenants.models import User, Workspace


class Command(BaseCommand):
    help = "Make a personal access token of a member for a workspace and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="the workspace's slug")
        parser.add_argument("--email", required=True, help="the member the token acts as")
        parser.add_argument("--name", default="script", help="what the token is for")
        parser.add_argument("--days", type=int, default=30, help="days it stays valid")

    def handle(self, *args: object, **options: object) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace {options['workspace']!r}.")
        user = User.objects.filter(email__iexact=str(options["email"]).strip()).first()
        if user is None or membership_for(user, workspace) is None:
            raise CommandError(f"{options['email']} is not an active member of "
                               f"{workspace.slug}.")
        days = int(options["days"])
        if not 1 <= days <= 3650:
            raise CommandError("--days: from 1 to 3650.")
        _, token = create_token(workspace, user, str(options["name"]), days)
        self.stdout.write(token)
