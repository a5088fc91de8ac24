"""Credentials and pipeline policies the suite builds its clients with.

Upstream, a live run authenticates the "managed identity" tests with ``DefaultAzureCredential``
(Microsoft Entra ID). Against the emulator the credential is a bearer token the emulator was
configured to accept (``NUMBERFLOW_EMULATOR_TOKEN``): the SDK sends it exactly as it would an
Entra token, over HTTPS, through the same bearer-token policy.
"""

from __future__ import annotations

import os
import time
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.pipeline.policies import HeadersPolicy, HttpLoggingPolicy

__all__ = [
    "async_create_token_credential",
    "create_token_credential",
    "get_header_policy",
    "get_http_logging_policy",
]

TOKEN_VARIABLE = "NUMBERFLOW_EMULATOR_TOKEN"


def _token() -> AccessToken:
    return AccessToken(os.environ[TOKEN_VARIABLE], int(time.time()) + 3600)


class EmulatorTokenCredential:
    """A token credential whose token the emulator accepts."""

    def get_token(self, *scopes: str, **options: Any) -> AccessToken:
        return _token()


class AsyncEmulatorTokenCredential:
    """The async twin (the async clients close their credential with them)."""

    async def get_token(self, *scopes: str, **options: Any) -> AccessToken:
        return _token()

    async def close(self) -> None:
        """Nothing to release."""

    async def __aenter__(self) -> AsyncEmulatorTokenCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def create_token_credential() -> EmulatorTokenCredential:
    return EmulatorTokenCredential()


def async_create_token_credential() -> AsyncEmulatorTokenCredential:
    return AsyncEmulatorTokenCredential()


def get_http_logging_policy(**kwargs: Any) -> HttpLoggingPolicy:
    """HTTP logging that also shows ``MS-CV`` (the service's correlation vector)."""
    policy = HttpLoggingPolicy(**kwargs)
    policy.allowed_header_names.update({"MS-CV"})
    return policy


def get_header_policy(**kwargs: Any) -> HeadersPolicy:
    """Headers on every request; ``AZURE_USERAGENT_OVERRIDE`` becomes ``x-ms-useragent``."""
    policy = HeadersPolicy(**kwargs)
    override = os.environ.get("AZURE_USERAGENT_OVERRIDE")
    if override:
        policy.add_header("x-ms-useragent", override)
    return policy
