"""The webhook and callback signature: ``X-Numberflow-Signature: t=<unix>,v1=<hex>``.

``v1`` is HMAC-SHA256 over ``"<t>.<raw body>"`` with a shared secret. The timestamp is signed
too, so a captured request cannot be replayed after the tolerance window.

Bearer tokens (status reads, the codec server) are compared here too, in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

__all__ = ["SIGNATURE_HEADER", "SignatureError", "bearer_token_matches", "sign", "verify"]

SIGNATURE_HEADER = "X-Numberflow-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The signature is missing, malformed, stale or wrong."""


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(
    header: str | None,
    body: bytes,
    secrets: Iterable[str],
    *,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Raise :class:`SignatureError` unless one of ``secrets`` signed ``body`` recently.

    Several secrets are accepted so a secret can be rotated without downtime.
    """
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise SignatureError("signature header must be t=<unix>,v1=<hex>") from None
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError("signature timestamp is outside the allowed window")
    if not any(hmac.compare_digest(_digest(s, timestamp, body), given) for s in secrets):
        raise SignatureError("signature does not match")


def bearer_token_matches(header: str | None, tokens: Sequence[str]) -> bool:
    """Whether ``Authorization: Bearer <token>`` names one of the tokens (constant time)."""
    scheme, _, presented = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    presented_bytes = presented.strip().encode()
    matched = False
    for token in tokens:  # compare with every token: the time does not tell which matched
        matched |= hmac.compare_digest(presented_bytes, token.encode())
    return matched
