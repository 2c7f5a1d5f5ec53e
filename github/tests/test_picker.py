"""The picker's server-side check: a repository is connectable only if the signed-in user's
GitHub token may read it (GitHub's GET repos/{full_name}), whatever the form's hidden field says."""

import pytest
from django.core.exceptions import ValidationError

from github.models import GitHubAccount
from github.picker import check_repository


@pytest.fixture
def mia(people, fake_github):
    user = fake_github.add_user("mia", 202)
    fake_github.add_repo("mia/shop", private=True)
    fake_github.add_repo("olive/secret", private=True)  # another user's private repository
    account = GitHubAccount(user=people.member, github_id=202, login="mia")
    account.set_tokens(fake_github.issue_token(user))
    account.save()
    return account


def test_a_readable_repository_is_connected_with_its_clone_url_and_account(people, mia):
    connected = check_repository(people.member, "Mia/Shop")
    assert connected.full_name == "mia/shop"
    assert connected.clone_url == "https://github.com/mia/shop.git"
    assert connected.account_id == 202


@pytest.mark.parametrize("full_name", ["olive/secret", "../x", "mia/shop/../x", "-o/x"])
def test_other_users_private_repositories_and_hostile_names_are_refused(people, mia, full_name):
    with pytest.raises(ValidationError):
        check_repository(people.member, full_name)


def test_an_expired_token_asks_to_sign_in_again(people, mia, fake_github):
    fake_github.expire(mia.token())
    with pytest.raises(ValidationError, match="sign in with GitHub again"):
        check_repository(people.member, "mia/shop")


def test_without_a_github_account_nothing_is_connected(people, fake_github):
    with pytest.raises(ValidationError, match="Sign in with GitHub"):
        check_repository(people.owner, "mia/shop")
