"""The variables a deployment runs with: resolved once, stored encrypted on the deployment
(bound to its schema and id), read back only by the deploy process and its rollbacks."""

from __future__ import annotations

import json

from django.db import connection
from django.views.decorators.debug import sensitive_variables

from core.crypto import associated_data, keyring
from deployments.models import Deployment, Status
from projects.references import VariableReferenceError, resolve_service


def snapshot_associated_data(deployment: Deployment) -> bytes:
    return associated_data(connection.schema_name, "deployment", deployment.pk, "variables")


@sensitive_variables()
def store_snapshot(deployment: Deployment, values: dict[str, str]) -> None:
    plaintext = json.dumps(values, sort_keys=True).encode()
    data = snapshot_associated_data(deployment)
    deployment.variables_snapshot = keyring().encrypt(plaintext, data)
    deployment.save(update_fields=["variables_snapshot"])


@sensitive_variables()
def read_snapshot(deployment: Deployment) -> dict[str, str]:
    """The variables the deployment ran with (for the deploy process and rollbacks only)."""
    if not deployment.variables_snapshot:
        return {}
    data = snapshot_associated_data(deployment)
    plaintext = keyring().decrypt(deployment.variables_snapshot, data)
    return json.loads(plaintext)


@sensitive_variables()
def snapshot_variables(deployment: Deployment) -> bool:
    """Resolve the service's variables into the deployment's snapshot.

    A reference that does not resolve fails the deployment with a reason that names the
    variable (never a value); returns whether the deployment may go on."""
    try:
        values = resolve_service(deployment.service)
    except VariableReferenceError as error:
        deployment.transition(Status.FAILED, reason=f"Variables: {error}")
        return False
    store_snapshot(deployment, values)
    return True
