"""Webhook signatures, against GitHub's documented vector (tests/fixtures/README.md)."""

import pytest

from github.signatures import is_valid, signature

SECRET = "It's a Secret to Everybody"
BODY = b"Hello, World!"
DOCUMENTED = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_documented_vector():
    assert signature(SECRET, BODY) == DOCUMENTED
    assert is_valid(SECRET, BODY, DOCUMENTED)


@pytest.mark.parametrize("header", [
    None, "", "sha256=", DOCUMENTED.upper(), DOCUMENTED.replace("sha256=", "sha1="),
    DOCUMENTED[:-1] + "0", DOCUMENTED + "00",
    "sha256=" + "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
])
def test_anything_else_is_refused(header):
    assert not is_valid(SECRET, BODY, header)


def test_another_body_or_secret_or_no_secret_is_refused():
    assert not is_valid(SECRET, BODY + b" ", DOCUMENTED)
    assert not is_valid(SECRET + "!", BODY, DOCUMENTED)
    assert not is_valid("", BODY, signature("", BODY))
