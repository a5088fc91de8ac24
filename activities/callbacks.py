"""Ticket callbacks: POST each stage change to the URL the ticket gave, signed like webhooks."""

from __future__ import annotations

import json
import time

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from contracts.activities import CallbackInput
from contracts.signing import SIGNATURE_HEADER, sign

__all__ = ["CallbackActivities"]


class CallbackActivities:
    """Deliver callbacks with one pooled HTTP client and the callback signing secret."""

    def __init__(self, http: httpx.AsyncClient, secret: str | None) -> None:
        self._http = http
        self._secret = secret

    @activity.defn
    async def notify_callback(self, callback: CallbackInput) -> None:
        """POST one stage change; any failure is retried by Temporal with backoff."""
        if not self._secret:
            raise ApplicationError(
                "NUMBERFLOW_CALLBACK_SECRET is not set; callbacks cannot be signed",
                type="CallbackNotConfigured",
                non_retryable=True,
            )
        body = json.dumps(callback.model_dump(mode="json", exclude={"url"})).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, body, int(time.time())),
        }
        try:
            response = await self._http.post(
                callback.url, content=body, headers=headers, timeout=10
            )
        except httpx.HTTPError as error:
            raise ApplicationError(
                f"callback not delivered: {error!r}", type="CallbackFailed"
            ) from error
        if response.status_code >= 300:
            raise ApplicationError(
                f"callback answered HTTP {response.status_code}", type="CallbackFailed"
            )
