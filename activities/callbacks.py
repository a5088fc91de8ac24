"""Ticket callbacks: POST each stage change to the URL the ticket gave, signed like webhooks.

The URL is the ticket's, so the POST goes only where ``NUMBERFLOW_CALLBACK_ALLOWED_HOSTS``
allows (``contracts.callback_hosts``): the name is resolved here, every address is checked,
and the request is sent to the checked address itself (the ``Host`` header and TLS name stay
the URL's), so a second DNS answer cannot swap in a private address. Redirects are not
followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from contracts.activities import CallbackInput
from contracts.callback_hosts import CallbackHosts, CallbackRefused
from contracts.error_types import CALLBACK_FAILED, CALLBACK_NOT_CONFIGURED, CALLBACK_REFUSED
from contracts.signing import SIGNATURE_HEADER, sign

__all__ = ["CallbackActivities"]


class CallbackActivities:
    """Deliver callbacks with one pooled HTTP client, the signing secret and the allow-list."""

    def __init__(self, http: httpx.AsyncClient, secret: str | None, allowed: CallbackHosts) -> None:
        self._http = http
        self._secret = secret
        self._allowed = allowed

    @activity.defn
    async def notify_callback(self, callback: CallbackInput) -> None:
        """POST one stage change; a refused URL is final, any other failure is retried."""
        if not self._secret:
            raise ApplicationError(
                "NUMBERFLOW_CALLBACK_SECRET is not set; callbacks cannot be signed",
                type=CALLBACK_NOT_CONFIGURED,
                non_retryable=True,
            )
        try:
            url, extensions, host_header = await self._pinned(callback.url)
        except CallbackRefused as refusal:
            raise ApplicationError(
                f"callback refused: {refusal}", type=CALLBACK_REFUSED, non_retryable=True
            ) from None
        body = json.dumps(callback.model_dump(mode="json", exclude={"url"})).encode()
        headers = {
            "Content-Type": "application/json",
            "Host": host_header,
            SIGNATURE_HEADER: sign(self._secret, body, int(time.time())),
        }
        try:
            response = await self._http.post(
                url,
                content=body,
                headers=headers,
                timeout=10,
                follow_redirects=False,
                extensions=extensions,
            )
        except httpx.HTTPError as error:
            raise ApplicationError(
                f"callback not delivered: {type(error).__name__}", type=CALLBACK_FAILED
            ) from None
        if response.status_code >= 300:
            raise ApplicationError(
                f"callback answered HTTP {response.status_code}", type=CALLBACK_FAILED
            )

    async def _pinned(self, raw_url: str) -> tuple[httpx.URL, dict[str, str], str]:
        """The URL rewritten to an allowed address of its host, with what keeps it the host's."""
        scheme, host, port = self._allowed.check_url(raw_url)
        url = httpx.URL(raw_url)
        address = await self._allowed_address(scheme, host, port)
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        default_port = 443 if scheme == "https" else 80
        host_header = url.netloc.decode("ascii") if port != default_port else url.host
        return url.copy_with(host=address), extensions, host_header

    async def _allowed_address(self, scheme: str, host: str, port: int) -> str:
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            return str(literal)  # check_url has judged the literal address already
        try:
            answers = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as error:
            raise ApplicationError(
                f"callback host does not resolve: {error.strerror or error}",
                type=CALLBACK_FAILED,
            ) from None
        refusals: list[CallbackRefused] = []
        for *_, sockaddr in answers:
            address = ipaddress.ip_address(sockaddr[0])
            try:
                self._allowed.check_address(scheme, address, port)
            except CallbackRefused as refusal:
                refusals.append(refusal)
                continue
            return str(address)
        raise CallbackRefused(f"{host} resolves only to refused addresses: {refusals[0]}")
