from django.apps import AppConfig
from django.db.models.signals import pre_delete


class DeploymentsConfig(AppConfig):
    name = "deployments"

    def ready(self) -> None:
        # Deleting a service (with its project) also removes what it runs on its host. The
        # projects app knows nothing of deployments; this app listens for the deletion.
        from deployments.receivers import tear_down_deleted_service
        from projects.models import Service

        pre_delete.connect(tear_down_deleted_service, sender=Service,
                           dispatch_uid="deployments.tear_down_deleted_service")
