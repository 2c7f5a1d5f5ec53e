"""Sign-in with GitHub (social-auth-app-django): the backend, with GitHub's addresses taken
from GITHUB_URL and GITHUB_API_URL (github.com or a GitHub Enterprise Server). social-core
keeps each sign-in's OAuth `state` in the session and as a one-time nonce: a callback with
another state, or with one already used, is refused (github/tests/test_signin.py)."""

from __future__ import annotations

from django.conf import settings
from social_core.backends.github import GithubOAuth2


class GitHubOAuth2(GithubOAuth2):
    name = "github"

    @property
    def AUTHORIZATION_URL(self) -> str:  # noqa: N802 -- social-core's attribute name
        return settings.GITHUB_URL + "/login/oauth/authorize"

    @property
    def ACCESS_TOKEN_URL(self) -> str:  # noqa: N802
        return settings.GITHUB_URL + "/login/oauth/access_token"

    def api_url(self) -> str:
        return settings.GITHUB_API_URL + "/"

    def get_scope(self) -> list[str]:
        return list(settings.GITHUB_SCOPES)
