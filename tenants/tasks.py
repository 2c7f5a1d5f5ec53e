"""Periodic work of the public schema, scheduled by the clock process (dramatiq-crontab)."""

import dramatiq
from django.core.management import call_command
from dramatiq_crontab import cron

from tenants import audit


@cron("17 3 * * *")
@dramatiq.actor(queue_name="default", time_limit=10 * 60 * 1000, max_retries=0)
def clear_expired_sessions() -> None:
    """Delete expired login sessions, once a day."""
    call_command("clearsessions")


@cron("41 3 * * *")
@dramatiq.actor(queue_name="default", time_limit=10 * 60 * 1000, max_retries=0)
def prune_audit() -> None:
    """Forget audit events older than PAAS_AUDIT_DAYS, once a day."""
    audit.prune()
