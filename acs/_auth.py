"""Authentication for ACS requests: the HMAC-SHA256 access-key scheme and Entra ID tokens."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncGenerator, Generator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Protocol, cast

import httpx

__all__ = [
    "ACS_TOKEN_SCOPE",
    "AsyncTokenCredential",
    "Credential",
    "HmacAuth",
    "TokenCredentialAuth",
    "auth_from_credential",
    "compute_content_hash",
    "compute_hmac_signature",
]

ACS_TOKEN_SCOPE = "https://communication.azure.com//.default"
"""The scope the official SDKs request; the double slash is verbatim."""

_SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"


def compute_content_hash(body: bytes) -> str:
    """Return base64(SHA-256(body)), the value of ``x-ms-content-sha256``."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def compute_hmac_signature(
    access_key: str, *, method: str, path_and_query: str, date: str, host: str, content_hash: str
) -> str:
    """Sign one request the way the ACS service verifies it.

    The string to sign is the verb, path+query and ``DATE;HOST;CONTENT_HASH`` on three lines; the path and query
    are exactly as sent (percent-encoding kept) and the host includes a non-default port.
    """
    string_to_sign = f"{method.upper()}\n{path_and_query}\n{date};{host};{content_hash}"
    digest = hmac.new(
        base64.b64decode(access_key), string_to_sign.encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


class HmacAuth(httpx.Auth):
    """Sign every request with the resource's access key (HMAC-SHA256).

    It runs on every send, so retries and LRO polls get a fresh ``x-ms-date``.
    """

    requires_request_body = True

    def __init__(self, access_key: str) -> None:
        try:
            base64.b64decode(access_key, validate=True)
        except ValueError as exc:
            raise ValueError("access key must be base64") from exc
        self._access_key = access_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add ``x-ms-date``, ``x-ms-content-sha256`` and ``Authorization`` to the request."""
        date = format_datetime(datetime.now(UTC), usegmt=True)
        content_hash = compute_content_hash(request.content)
        signature = compute_hmac_signature(
            self._access_key,
            method=request.method,
            path_and_query=request.url.raw_path.decode("ascii"),
            date=date,
            host=request.headers["Host"],
            content_hash=content_hash,
        )
        request.headers["x-ms-date"] = date
        request.headers["x-ms-content-sha256"] = content_hash
        request.headers["Authorization"] = (
            f"HMAC-SHA256 SignedHeaders={_SIGNED_HEADERS}&Signature={signature}"
        )
        yield request


class _AccessToken(Protocol):
    """``azure.core.credentials.AccessToken`` (a NamedTuple, hence read-only properties)."""

    @property
    def token(self) -> str:
        """The bearer token."""
        ...

    @property
    def expires_on(self) -> int:
        """Expiry, seconds since the epoch."""
        ...


class AsyncTokenCredential(Protocol):
    """The part of ``azure.core.credentials_async.AsyncTokenCredential`` this library uses."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> _AccessToken:
        """Return a token for the scopes."""
        ...


class TokenCredentialAuth(httpx.Auth):
    """Bearer-token auth from any azure-core async credential, with the token cached.

    A token is reused until five minutes before it expires; one refresh at a time. Unlike the
    official SDK, plain ``http://`` endpoints are allowed (the emulator's bearer mode).
    """

    _REFRESH_MARGIN_SECONDS = 300

    def __init__(self, credential: AsyncTokenCredential, *, scope: str = ACS_TOKEN_SCOPE) -> None:
        self._credential = credential
        self._scope = scope
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Refuse synchronous use: azure-core credentials here are async."""
        raise RuntimeError("TokenCredentialAuth works with httpx.AsyncClient only")
        yield request  # pragma: no cover - makes this a generator

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Add ``Authorization: Bearer <token>``, refreshing the cached token when due."""
        request.headers["Authorization"] = f"Bearer {await self._get_token()}"
        yield request

    async def _get_token(self) -> str:
        async with self._lock:
            if (
                self._token is None
                or time.time() >= self._expires_on - self._REFRESH_MARGIN_SECONDS
            ):
                access_token = await self._credential.get_token(self._scope)
                self._token = access_token.token
                self._expires_on = float(access_token.expires_on)
            return self._token


class _KeyCredential(Protocol):
    """``azure.core.credentials.AzureKeyCredential`` and look-alikes."""

    @property
    def key(self) -> str:
        """The base64 access key."""
        ...


Credential = httpx.Auth | AsyncTokenCredential | _KeyCredential
"""What the clients accept: an ``httpx.Auth``, an async token credential, or a key credential."""


def auth_from_credential(credential: Credential) -> httpx.Auth:
    """Turn a credential into the ``httpx.Auth`` that signs requests with it."""
    if isinstance(credential, httpx.Auth):
        return credential
    key = getattr(credential, "key", None)
    if isinstance(key, str):
        return HmacAuth(key)
    if hasattr(credential, "get_token"):
        return TokenCredentialAuth(cast(AsyncTokenCredential, credential))
    raise TypeError(
        "credential must be an httpx.Auth, an async TokenCredential or an AzureKeyCredential"
    )
