"""The `demo` workspace and its admin account that `make run` prints on first start."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from tenants.models import Workspace
from tenants.services import create_workspace, get_or_create_user

DEMO_EMAIL = "admin@example.com"


class Command(BaseCommand):
    help = "Create the demo workspace and an operator account (once), and print the login."

    def add_arguments(self, parser: object) -> None:
        parser.add_argument("--port", default="8000")

    def handle(self, *args: object, port: str, **options: object) -> None:
        with transaction.atomic():
            user, password = get_or_create_user(DEMO_EMAIL)
            if password:
                user.is_staff = user.is_superuser = True
                user.save(update_fields=["is_staff", "is_superuser"])
            if not Workspace.objects.filter(slug="demo").exists():
                create_workspace("demo", "Demo", user)
        url = f"http://{settings.PAAS_DOMAIN}:{port}"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"  Panel:     {url}"))
        self.stdout.write(f"  Workspace: http://demo.{settings.PAAS_DOMAIN}:{port}")
        self.stdout.write(f"  Admin:     {url}/admin/")
        self.stdout.write(f"  Login:     {DEMO_EMAIL}")
        if password:
            self.stdout.write(f"  Password:  {password}   (shown once)")
        else:
            self.stdout.write("  Password:  as printed on the first run "
                              "(reset: python -m config.localenv exec python manage.py "
                              f"changepassword {DEMO_EMAIL})")
        self.stdout.write("")
