"""One place where requests are built, sent, retried (GET only) and their errors classified."""

from __future__ import annotations

import asyncio
import json
import platform
import random
import uuid
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from ._errors import AcsProtocolError, AcsTransportError, error_for_response

__all__ = [
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "Pipeline",
    "ensure",
    "json_body",
    "parse_retry_after",
]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
"""Per-request timeout; LRO polling is bounded separately by the caller."""

_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def _user_agent() -> str:
    try:
        ours = version("numberflow")
    except PackageNotFoundError:  # run from a source tree that was not installed
        ours = "unknown"
    return f"numberflow-acs/{ours} Python/{platform.python_version()} ({platform.system()})"


USER_AGENT = _user_agent()
"""Names this client in ACS's logs, as the Azure SDKs name theirs."""


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Read ``retry-after-ms``, ``x-ms-retry-after-ms`` or ``Retry-After`` (seconds or date).

    Zero counts as absent, as in azure-core.
    """
    for name, scale in (("retry-after-ms", 1000.0), ("x-ms-retry-after-ms", 1000.0)):
        value = headers.get(name)
        if value:
            try:
                seconds = float(value) / scale
            except ValueError:
                continue
            return seconds if seconds > 0 else None
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return seconds if seconds > 0 else None


async def _answered(write: Awaitable[httpx.Response]) -> httpx.Response:
    """Await a write to its answer even if the caller is cancelled meanwhile, then honour the cancel.

    A cancel cuts the client off, not ACS: the request still lands, possibly after whatever
    the cancel set in motion has looked at ACS. A saga cancelled while a PATCH adding numbers
    to its reservation was on the wire deleted the reservation in its compensation, then the
    PATCH (create-or-update) created it again, holding numbers for nobody. Waiting for the
    answer (bounded by the client's timeouts) means that once the caller has stopped, every
    change it made is visible.
    """
    sending = asyncio.ensure_future(write)
    cancelled = False
    while not sending.done():
        try:
            await asyncio.wait({sending})  # a cancel of this wait leaves the request running
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        if not sending.cancelled():
            sending.exception()  # how the write ended does not matter to a cancelled caller
        raise asyncio.CancelledError()
    return sending.result()


class Pipeline:
    """Sends requests for one ACS endpoint with one auth and one api-version.

    Only GET is retried here (transport errors, 408/429/5xx), a bounded number of times with
    jittered backoff that honours ``Retry-After``. POST, PATCH and DELETE are sent once: ACS has
    no repeatability headers, so re-sending a purchase is the caller's decision, made after it
    checked whether the first one happened. Nor is a write abandoned on the wire: a cancel that
    arrives while one is in flight waits for its answer (see ``_answered``).
    """

    def __init__(
        self,
        endpoint: str,
        auth: httpx.Auth,
        api_version: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        get_retries: int = 3,
        retry_backoff: float = 0.5,
        max_retry_delay: float = 30.0,
    ) -> None:
        if "://" not in endpoint:
            raise ValueError(f"endpoint {endpoint!r} needs a scheme (https:// or http://)")
        self.endpoint = endpoint.rstrip("/")
        self.api_version = api_version
        self._auth = auth
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(transport=transport, timeout=timeout)
        self._get_retries = get_retries
        self._retry_backoff = retry_backoff
        self._max_retry_delay = max_retry_delay

    async def aclose(self) -> None:
        """Close the HTTP client if this pipeline created it; a shared one is left open."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def url_for(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> str:
        """Resolve a path (or a relative/absolute link from the service) and set api-version.

        Links from the service (``nextLink``, ``Operation-Location``) keep their own query
        except ``api-version``, which is always this pipeline's, as in the official SDK.
        """
        parts = urlsplit(path_or_url)
        base = (
            path_or_url.split("?", 1)[0]
            if parts.scheme
            else self.endpoint + "/" + parts.path.lstrip("/")
        )
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        query = [(k, v) for k, v in query if k != "api-version"]
        for key, value in (params or {}).items():
            if value is None:
                continue
            query = [(k, v) for k, v in query if k != key]
            query.append((key, _query_value(value)))
        query.append(("api-version", self.api_version))
        return f"{base}?{urlencode(query)}"

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request and return the response, or raise the classified :class:`AcsError`."""
        url = self.url_for(path_or_url, params)
        client_request_id = str(uuid.uuid4())  # one per call; its retries are the same call
        request_headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "x-ms-client-request-id": client_request_id,
            "x-ms-return-client-request-id": "true",
            **(headers or {}),
        }
        content: bytes | None = None
        if body is not None:
            content = json.dumps(body).encode("utf-8")
            request_headers["Content-Type"] = content_type
        attempts = 1 + (self._get_retries if method == "GET" else 0)
        for attempt in range(attempts):
            last_attempt = attempt == attempts - 1
            send = self._client.request(
                method, url, content=content, headers=request_headers, auth=self._auth
            )
            try:
                response = await (send if method == "GET" else _answered(send))
            except httpx.TransportError as exc:
                if last_attempt:
                    failure = AcsTransportError(
                        f"{method} {_path_of(url)} failed: {exc!r}", code="Transport"
                    )
                    failure.client_request_id = client_request_id
                    raise failure from exc
                await asyncio.sleep(self._backoff(attempt, None))
                continue
            if response.status_code < 400:
                return response
            error = error_for_response(
                response.status_code,
                _json_or_none(response),
                retry_after=parse_retry_after(response.headers),
            )
            error.client_request_id = client_request_id
            error.ms_cv = response.headers.get("MS-CV")
            error.azure_ref = response.headers.get("X-Azure-Ref") or response.headers.get(
                "x-ms-request-id"
            )
            if last_attempt or response.status_code not in _RETRYABLE_STATUS:
                raise error
            await asyncio.sleep(self._backoff(attempt, error.retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    async def request_json(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        """Send a request and return its JSON body; a body that is not JSON is a protocol error."""
        return json_body(await self.request(method, path_or_url, **kwargs))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._max_retry_delay)
        delay = self._retry_backoff * (2**attempt)
        return float(min(delay, self._max_retry_delay) * (0.5 + random.random() / 2))


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def json_body(response: httpx.Response) -> Any:
    """Return the JSON body of a success response; a missing or broken body is a protocol error."""
    body = _json_or_none(response)
    if body is None:
        raise AcsProtocolError(
            f"{response.request.method} {_path_of(str(response.request.url))} answered "
            f"{response.status_code} without a JSON body",
            code="MalformedResponse",
            status_code=response.status_code,
        )
    return body


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _path_of(url: str) -> str:
    return urlsplit(url).path


def ensure(condition: bool, message: str) -> None:
    """Raise a protocol error when the service's answer misses something the contract promises."""
    if not condition:
        raise AcsProtocolError(message, code="MalformedResponse")
