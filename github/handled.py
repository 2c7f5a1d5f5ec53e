"""What handling a webhook delivery came to: the outcome recorded on the delivery, a message
for the deliveries page, and the deployments it started."""

from __future__ import annotations

from dataclasses import dataclass, field

from deployments.models import Deployment
from github.models import Outcome


@dataclass
class Handled:
    outcome: Outcome
    message: str = ""
    deployments: list[Deployment] = field(default_factory=list)
