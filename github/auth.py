"""Sign-in with GitHub (social-auth-app-django): the backend, with GitHub's addresses taken
from GITHUB_URL and GITHUB_API_URL (github.com or a GitHub Enterprise Server), and an OAuth
`state` that works once."""

from __future__ import annotations

from django.conf import settings
from social_core.backends.github import GithubOAuth2
from social_core.exceptions import AuthSessionError


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

    def validate_state(self) -> str:
        """The state of this sign-in, once: it is removed from the session as it is checked,
        so a callback replayed with it (or with any other) is refused."""
        state = super().validate_state()
        if self.strategy.session_pop(f"{self.name}_state") is None:
            raise AuthSessionError(self, code="state_mismatch", stage="callback")
        return state
