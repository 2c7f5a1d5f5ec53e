"""`manage.py firewall`: print, load or remove the host firewall's rules for workspace users
(deployments.engine.firewall; README, Isolation)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deployments.engine import firewall


class Command(BaseCommand):
    help = "Print (default), load or unload the nftables table that keeps apps apart."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--load", action="store_true", help="load it and fill its set")
        group.add_argument("--unload", action="store_true", help="remove it")

    def handle(self, *args: object, load: bool, unload: bool, **options: object) -> None:
        if not (load or unload):
            self.stdout.write(firewall.ruleset(), ending="")
            return
        if firewall.nft() is None:
            raise CommandError("nft is not installed (Debian: apt-get install nftables).")
        if load and not (firewall.load() and firewall.sync()):
            raise CommandError("nft refused the table (is the panel root with isolation on?)")
        if unload:
            firewall.unload()
        self.stdout.write("done")
