from django.apps import AppConfig
from django.db.models.signals import post_delete


class HostingConfig(AppConfig):
    name = "hosting"

    def ready(self) -> None:
        # Models are importable only once the registry is ready, hence the imports here.
        from hosting.receivers import free_deleted_workspace
        from tenants.models import Workspace

        post_delete.connect(free_deleted_workspace, sender=Workspace,
                            dispatch_uid="hosting.free_deleted_workspace")
