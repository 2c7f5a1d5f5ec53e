from django.apps import AppConfig
from django.db.models.signals import post_delete


class ProjectsConfig(AppConfig):
    name = "projects"

    def ready(self) -> None:
        # A deleted service (alone, with its project or environment) frees its domain.
        # Models are importable only once the registry is ready, hence the imports here.
        from projects.domains import free_deleted_service
        from projects.models import Service

        post_delete.connect(free_deleted_service, sender=Service,
                            dispatch_uid="projects.free_deleted_service")
