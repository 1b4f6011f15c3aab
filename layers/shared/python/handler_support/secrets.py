"""Webhook and app secrets from Secrets Manager, cached by powertools (POWERTOOLS_PARAMETERS_MAX_AGE)."""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from messaging_partner.adapters.aws.clients import client

from .settings import settings


class SecretsManagerSecrets:
    """Implements the SecretSource port (messaging_partner/domain/ports.py); each secret is fetched on first use."""

    def meta_app_secret(self) -> str:
        return _secret(settings().meta_app_secret_id)

    def meta_verify_token(self) -> str:
        return _secret(settings().meta_verify_token_id)

    def tiktok_app_secret(self) -> str:
        return _secret(settings().tiktok_app_secret_id)


@lru_cache(maxsize=1)
def _provider() -> SecretsProvider:
    # Our shared client, so the calls use our retry config (and the local stack counts them).
    return SecretsProvider(boto3_client=client("secretsmanager"))


def _secret(secret_id: str) -> str:
    value = _provider().get(secret_id)
    if not isinstance(value, str) or not value:
        raise RuntimeError(f"Secret {secret_id} is empty; set its value in Secrets Manager.")
    return value


@lru_cache(maxsize=1)
def secret_source() -> SecretsManagerSecrets:
    return SecretsManagerSecrets()
