"""System checks: the encryption keyring must parse before anything encrypts with it."""

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from projects.crypto import Keyring, KeyringError


@register()
def check_encryption_keys(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    try:
        Keyring.parse(settings.PAAS_ENCRYPTION_KEYS)
    except KeyringError as error:
        return [Error(str(error), hint="Each entry is id:base64(32 random bytes), newest first.",
                      id="projects.E001")]
    return []
