"""The one error hierarchy of the ACS client, classified once, at the HTTP boundary.

```
AcsError                       every failure this library raises
├── AcsTransportError          could not talk to the service (connect, read, timeout)   retryable
├── AcsResponseError           the service answered with an error status
│   ├── AcsAuthError           401 / 403                                                 not retryable
│   ├── AcsNotFoundError       404                                                       not retryable
│   ├── AcsConflictError       409                                                       not retryable
│   ├── AcsValidationError     400 / 415 / 422                                           not retryable
│   │   └── AcsReleaseByServiceDeskError  400 ReleaseByServiceDesk: the country's releases
│   │                          go through Microsoft's service desk, not the API          not retryable
│   ├── AcsThrottledError      429                                                       retryable
│   │   └── AcsQuotaExceededError  429 QuotaExceeded: a tenant limit (searches or
│   │                          purchases per week) is reached; wait ``retry_after``       not retryable
│   └── AcsServerError         5xx                                                       retryable
├── AcsOperationFailedError    a long-running operation ended in ``failed``              not retryable
└── AcsProtocolError           an answer this library cannot trust (unknown LRO status,
                               body that does not match the schema)                      not retryable
```

The split mirrors httpx: "could not talk" is worth retrying, "talked and was told no" mostly is
not. ``retryable`` and ``retry_after`` let an orchestrator decide without knowing HTTP.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AcsAuthError",
    "AcsConflictError",
    "AcsError",
    "AcsNotFoundError",
    "AcsOperationFailedError",
    "AcsProtocolError",
    "AcsQuotaExceededError",
    "AcsReleaseByServiceDeskError",
    "AcsResponseError",
    "AcsServerError",
    "AcsThrottledError",
    "AcsTransportError",
    "AcsValidationError",
    "QUOTA_EXCEEDED",
    "RELEASE_BY_SERVICE_DESK",
    "error_for_response",
]

QUOTA_EXCEEDED = "QuotaExceeded"
"""The code of a refusal for a tenant limit (the emulator's choice; the service's is not
documented), as opposed to plain throttling (429 with a short ``Retry-After``)."""


RELEASE_BY_SERVICE_DESK = "ReleaseByServiceDesk"
"""The code of a release refused because the number's country releases only through
Microsoft's service desk (the emulator's choice; the service's answer is not documented)."""


class AcsError(Exception):
    """Base of every error raised by the ACS client.

    Attributes:
        code: The service's ``error.code`` (or a client-side code such as ``Transport``).
        message: Human-readable message.
        target: The service's ``error.target``, when given.
        inner_code: ``error.innererror.code``; SIP validation puts the useful code here.
        inner_message: ``error.innererror.message``.
        status_code: HTTP status, when there was a response.
        retryable: Whether sending the same request again may succeed.
        retry_after: Seconds the service asked the caller to wait, when it said so.
        client_request_id: The ``x-ms-client-request-id`` this client sent (every request
            carries a fresh one): what Microsoft support asks for, with the two below.
        ms_cv: The service's correlation vector (``MS-CV`` response header), when answered.
        azure_ref: The front door's ``X-Azure-Ref`` (or ``x-ms-request-id``), when answered.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str = "Unknown",
        target: str | None = None,
        inner_code: str | None = None,
        inner_message: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.target = target
        self.inner_code = inner_code
        self.inner_message = inner_message
        self.status_code = status_code
        self.retry_after = retry_after
        self.details = details or []
        self.client_request_id: str | None = None
        self.ms_cv: str | None = None
        self.azure_ref: str | None = None

    def support_ids(self) -> dict[str, str]:
        """The ids to quote in a support case (those that are known)."""
        ids = {
            "client_request_id": self.client_request_id,
            "ms_cv": self.ms_cv,
            "azure_ref": self.azure_ref,
        }
        return {name: value for name, value in ids.items() if value}

    def __str__(self) -> str:
        parts = [f"({self.code})"]
        if self.inner_code:
            parts.append(f"[{self.inner_code}]")
        parts.append(self.message)
        if self.inner_message:
            parts.append(f"- {self.inner_message}")
        if self.status_code is not None:
            parts.append(f"(HTTP {self.status_code})")
        return " ".join(parts)


class AcsTransportError(AcsError):
    """The request did not get an answer: connection refused or dropped, timeout."""

    retryable = True


class AcsResponseError(AcsError):
    """The service answered with an error status and (usually) an error envelope."""


class AcsAuthError(AcsResponseError):
    """401 or 403: bad signature, expired token, or a resource that is not ours."""


class AcsNotFoundError(AcsResponseError):
    """404: the number, reservation, operation or search does not exist (any more)."""


class AcsConflictError(AcsResponseError):
    """409: the resource is in a state that forbids the request."""


class AcsValidationError(AcsResponseError):
    """400, 415 or 422: the request itself is wrong; sending it again will not help."""


class AcsReleaseByServiceDeskError(AcsValidationError):
    """400 ``ReleaseByServiceDesk``: only Microsoft's service desk releases this number.

    A person must ask it; the API will not, however often it is asked. The number stays owned.
    """


class AcsThrottledError(AcsResponseError):
    """429: too many requests; wait ``retry_after`` seconds when given."""

    retryable = True


class AcsQuotaExceededError(AcsThrottledError):
    """429 ``QuotaExceeded``: the tenant spent a limit; ``retry_after`` is when it has room again.

    Not retryable: the window reopens in hours or days, and the service warns that every
    request accrues against the limits. Wait, or have Microsoft raise the limit.
    """

    retryable = False


class AcsServerError(AcsResponseError):
    """5xx: the service failed; the same request may succeed later."""

    retryable = True


class AcsOperationFailedError(AcsError):
    """A long-running operation reached ``failed``; ``code`` is the operation's error code."""


class AcsProtocolError(AcsError):
    """The service's answer broke the contract (unknown status, malformed body)."""


def error_for_response(
    status_code: int, body: Any, *, retry_after: float | None = None
) -> AcsResponseError:
    """Build the error for an HTTP error status from the ``{"error": {...}}`` envelope.

    A body that is not an envelope (a proxy's HTML page, an empty body) still yields a typed
    error whose message says what came back.
    """
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    inner = error.get("innererror") or error.get("innerError")
    if not isinstance(inner, dict):
        inner = {}
    details = error.get("details")
    code = str(error.get("code") or _default_code(status_code))
    kind: type[AcsResponseError] = _class_for_status(status_code)
    if status_code == 429 and code == QUOTA_EXCEEDED:
        kind = AcsQuotaExceededError
    elif status_code == 400 and code == RELEASE_BY_SERVICE_DESK:
        kind = AcsReleaseByServiceDeskError
    return kind(
        str(error.get("message") or f"HTTP {status_code} with no error envelope"),
        code=code,
        target=_str_or_none(error.get("target")),
        inner_code=_str_or_none(inner.get("code")),
        inner_message=_str_or_none(inner.get("message")),
        status_code=status_code,
        retry_after=retry_after,
        details=details if isinstance(details, list) else None,
    )


def _class_for_status(status_code: int) -> type[AcsResponseError]:
    if status_code in (401, 403):
        return AcsAuthError
    if status_code == 404:
        return AcsNotFoundError
    if status_code == 409:
        return AcsConflictError
    if status_code == 429:
        return AcsThrottledError
    if status_code >= 500:
        return AcsServerError
    if 400 <= status_code < 500:
        return AcsValidationError
    return AcsResponseError


def _default_code(status_code: int) -> str:
    return {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests"}.get(
        status_code, f"Http{status_code}"
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
