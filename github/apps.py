from django.apps import AppConfig


class GitHubConfig(AppConfig):
    name = "github"
    label = "github"
    verbose_name = "GitHub"
