"""GitHub tokens are stored encrypted and bound to their account."""

import pytest

from core.crypto import DecryptionError
from github.models import GitHubAccount


def test_tokens_are_encrypted_and_bound_to_their_account(people):
    token, refresh = "gho_" + "t" * 36, "ghr_" + "r" * 36
    account = GitHubAccount(user=people.owner, github_id=101, login="olive")
    account.set_tokens(token, refresh)
    account.save()
    stored = GitHubAccount.objects.get(pk=account.pk)
    assert token.encode() not in bytes(stored.token_ciphertext)
    assert refresh.encode() not in bytes(stored.refresh_token_ciphertext)
    assert (stored.token(), stored.refresh_token()) == (token, refresh)

    other = GitHubAccount.objects.create(user=people.member, github_id=102, login="mia")
    other.token_ciphertext = stored.token_ciphertext  # copied to another row
    with pytest.raises(DecryptionError):
        other.token()
    assert other.refresh_token() == ""
