"""The receiver that turns a deployment's change of status into a commit status report."""

from __future__ import annotations

from django.db import connection

from deployments.models import Deployment
from github.commit_statuses import reportable
from github.tasks_statuses import report_status


def on_status_changed(sender: object, deployment: Deployment, **kwargs: object) -> None:
    """Receiver of deployments.models.status_changed: enqueue the report; the worker posts
    it, so a slow or broken GitHub never holds a deployment up."""
    if connection.schema_name == "public" or not reportable(deployment):
        return
    report_status.send(connection.schema_name, deployment.pk, str(deployment.status))
