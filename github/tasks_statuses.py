"""The actor that reports commit statuses to GitHub, off the deployment's path."""

from __future__ import annotations

import dramatiq

from github import commit_statuses


@dramatiq.actor(queue_name="default", time_limit=60 * 1000, max_retries=0)
def report_status(schema_name: str, deployment_id: int, status: str) -> None:
    """Report the deployment's commit status (see github.commit_statuses.report)."""
    commit_statuses.report(schema_name, deployment_id, status)
