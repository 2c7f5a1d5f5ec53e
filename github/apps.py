from django.apps import AppConfig


class GitHubConfig(AppConfig):
    name = "github"
    label = "github"
    verbose_name = "GitHub"

    def ready(self) -> None:
        # Models are importable only once the registry is ready, hence the imports here.
        # The deploy engine, deployments and projects never import github: it plugs itself
        # in (the engine's clone tokens, deployments' status signal, the service forms'
        # repository check, the webhook of a newly connected repository and what the
        # service's settings page says about it).
        from deployments.engine.credentials import set_token_provider
        from deployments.models import status_changed
        from github import hooks, picker
        from github.clone_tokens import clone_token
        from github.statuses import on_status_changed
        from projects import connections

        set_token_provider(clone_token)
        status_changed.connect(on_status_changed, dispatch_uid="github-commit-statuses")
        connections.set_repository_check(picker.check_repository)
        connections.service_connected.connect(hooks.on_service_connected,
                                              dispatch_uid="github-repository-hooks")
        connections.set_webhook_lookup(hooks.webhook_of)
