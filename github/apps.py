from django.apps import AppConfig


class GitHubConfig(AppConfig):
    name = "github"
    label = "github"
    verbose_name = "GitHub"

    def ready(self) -> None:
        # Models are importable only once the registry is ready, hence the imports here.
        # The deploy engine and the deployments never import github: it plugs itself in.
        from deployments.engine.credentials import set_token_provider
        from deployments.models import status_changed
        from github.clone_tokens import clone_token
        from github.statuses import on_status_changed

        set_token_provider(clone_token)
        status_changed.connect(on_status_changed, dispatch_uid="github-commit-statuses")
