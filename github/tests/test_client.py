"""The API client against the fake GitHub: pagination, errors, hooks and statuses."""

import pytest

from github import client


def test_repositories_come_in_pages_and_follow_link_headers(fake_github):
    user = fake_github.add_user("octo", 1)
    for number in range(130):
        fake_github.add_repo(f"octo/app-{number:03}")
    token = fake_github.issue_token(user)
    first = client.list_repositories(token)
    assert len(first.items) == 100 and first.next_page == 2
    second = client.list_repositories(token, page=2)
    assert len(second.items) == 30 and second.next_page is None
    names = {repo.full_name for repo in first.items + second.items}
    assert len(names) == 130


def test_a_revoked_token_is_bad_credentials_and_never_in_the_message(fake_github):
    user = fake_github.add_user("octo", 1)
    token = fake_github.issue_token(user)
    fake_github.revoke(token)
    with pytest.raises(client.BadCredentials) as error:
        client.list_repositories(token)
    assert token not in str(error.value)


def test_hooks_need_admin_and_statuses_reach_github(fake_github):
    user = fake_github.add_user("octo", 1)
    fake_github.add_repo("acme/web", admins=set(), readers={"octo"})
    token = fake_github.issue_token(user)
    with pytest.raises(client.GitHubError) as error:
        client.create_hook(token, "acme/web", "https://x.example/webhooks/github/", "s3cret")
    assert error.value.status == 404 and not fake_github.hooks
    client.create_status(token, "acme/web", "a" * 40, state="pending",
                         target_url="https://x.example/d/1/", description="Building",
                         context="paas/web")
    assert fake_github.statuses == [{
        "repository": "acme/web", "sha": "a" * 40, "state": "pending",
        "target_url": "https://x.example/d/1/", "description": "Building",
        "context": "paas/web"}]
