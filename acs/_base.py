"""What both clients share: construction from a connection string, the pipeline, closing."""

from __future__ import annotations

from typing import Any, Self

import httpx

from ._auth import Credential, HmacAuth, auth_from_credential
from ._connection_string import parse_connection_string
from ._pipeline import DEFAULT_TIMEOUT, Pipeline

__all__ = ["BaseClient"]


class BaseClient:
    """Owns the :class:`Pipeline` of one endpoint, credential and API version."""

    def __init__(
        self,
        endpoint: str,
        credential: Credential,
        *,
        api_version: str,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        get_retries: int = 3,
    ) -> None:
        self._pipeline = Pipeline(
            endpoint,
            auth_from_credential(credential),
            str(api_version),
            http_client=http_client,
            transport=transport,
            timeout=timeout,
            get_retries=get_retries,
        )

    @classmethod
    def from_connection_string(cls, connection_string: str, **kwargs: Any) -> Self:
        """Build a client from ``endpoint=...;accesskey=...`` (http endpoints allowed)."""
        endpoint, access_key = parse_connection_string(connection_string)
        return cls(endpoint, HmacAuth(access_key), **kwargs)

    @property
    def endpoint(self) -> str:
        """The resource endpoint, without a trailing slash."""
        return self._pipeline.endpoint

    async def aclose(self) -> None:
        """Close the HTTP client, unless it was passed in (then its owner closes it)."""
        await self._pipeline.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
