"""Request authentication as the service does it: HMAC-SHA256 over what was received.

The signature is recomputed from the received ``Host`` header (port included), the raw
request-target (percent-encoding kept) and the raw body bytes, so any client that signs what it
sends is accepted, whatever its URL normalisation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from ._errors import ApiError

__all__ = ["verify_request"]


def _denied(message: str) -> ApiError:
    return ApiError(401, "Denied", message, headers={"WWW-Authenticate": "HMAC-SHA256"})


def verify_request(
    *,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    access_key: str,
    bearer_tokens: frozenset[str],
    skew_seconds: float,
) -> None:
    """Raise a 401 ``Denied`` error unless the request is signed or carries a known token."""
    authorization = headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        token = authorization[7:].encode()
        if any(hmac.compare_digest(token, known.encode()) for known in bearer_tokens):
            return
        raise _denied("The bearer token is not valid for this resource.")
    if not authorization.startswith("HMAC-SHA256 "):
        raise _denied("The Authorization header is missing or uses an unknown scheme.")
    fields = dict(part.split("=", 1) for part in authorization[12:].split("&") if "=" in part)
    signature = fields.get("Signature", "")
    if fields.get("SignedHeaders", "").lower() != "x-ms-date;host;x-ms-content-sha256":
        raise _denied("SignedHeaders must be x-ms-date;host;x-ms-content-sha256.")
    date = headers.get("x-ms-date") or headers.get("date")
    if not date:
        raise _denied("The x-ms-date header is missing.")
    try:
        signed_at = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise _denied(f"The x-ms-date header '{date}' is not an RFC 1123 date.") from None
    if (
        signed_at.tzinfo is None
        or abs((datetime.now(UTC) - signed_at).total_seconds()) > skew_seconds
    ):
        raise _denied("The request date is outside the allowed clock skew.")
    content_hash = base64.b64encode(hashlib.sha256(body).digest()).decode()
    if headers.get("x-ms-content-sha256") != content_hash:
        raise _denied("Request 'x-ms-content-sha256' differs from generated content hash.")
    host = headers.get("host", "")
    string_to_sign = f"{method}\n{target}\n{date};{host};{content_hash}"
    try:
        key = base64.b64decode(access_key)
    except binascii.Error:  # pragma: no cover - the key is checked at start-up
        raise _denied("The resource key is not base64.") from None
    expected = base64.b64encode(
        hmac.new(key, string_to_sign.encode(), hashlib.sha256).digest()
    ).decode()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise _denied("The request signature does not match the one computed by the service.")
