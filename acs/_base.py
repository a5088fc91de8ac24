"""What both clients share: construction from a connection string, the pipeline, closing."""

from __future__ import annotations

from typing import Any, Self

from ._auth import Credential, HmacAuth
from ._connection_string import parse_connection_string
from ._pipeline import Pipeline

__all__ = ["BaseClient"]


class BaseClient:
    """Owns a :class:`Pipeline`; subclasses build it in ``__init__``."""

    _pipeline: Pipeline

    def __init__(self, endpoint: str, credential: Credential, **kwargs: Any) -> None:
        raise NotImplementedError("subclasses build their pipeline")

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
