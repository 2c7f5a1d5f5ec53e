from django.apps import AppConfig


class GitHubConfig(AppConfig):
    name = "github"
    label = "github"
    verbose_name = "GitHub"

    def ready(self) -> None:
        # The projects app never imports github: its service forms ask the repository
        # check filled in here, and its pages send service_connected. Models are importable
        # only once the registry is ready, hence the imports here.
        from github import picker
        from projects import connections

        connections.set_repository_check(picker.check_repository)
