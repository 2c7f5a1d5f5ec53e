import logging

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_delete, pre_delete

logger = logging.getLogger("deployments.isolation")


class DeploymentsConfig(AppConfig):
    name = "deployments"

    def ready(self) -> None:
        # Deleting a service (with its project) also removes what it runs on its host. The
        # projects app knows nothing of deployments; this app listens for the deletion.
        from deployments.models import Deployment
        from deployments.receivers import remove_unused_archive, tear_down_deleted_service
        from projects.models import Service

        pre_delete.connect(tear_down_deleted_service, sender=Service,
                           dispatch_uid="deployments.tear_down_deleted_service")
        post_delete.connect(remove_unused_archive, sender=Deployment,
                            dispatch_uid="deployments.remove_unused_archive")
        if not settings.PAAS_ISOLATED:  # at the start of every process of the panel
            from deployments.isolation import isolation_warnings

            for warning in isolation_warnings():
                logger.warning(warning)
