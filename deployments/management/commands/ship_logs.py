"""`manage.py ship_logs`: the host's log shipper (deployments.engine.shipper), until SIGTERM or
SIGINT; then what it read is stored and it exits 0. One per host."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from deployments.engine.shipper import Shipper


class Command(BaseCommand):
    help = "Store what the host's deployed processes print, line by line, under their deployment."

    def handle(self, *args: object, **options: object) -> None:
        shipper = Shipper()
        signal.signal(signal.SIGTERM, shipper.stop)
        signal.signal(signal.SIGINT, shipper.stop)
        self.stdout.write(f"Shipping the logs under {shipper.root}")
        shipper.run()
        self.stdout.write(f"Stopped after storing {shipper.lines_stored} lines")
