"""ServiceNow requested items in: authenticated, deduplicated, translated by the mapping.

The Business Rule numberflow ships (``deploy/tickets/servicenow-business-rule.js``) posts a
requested item (``sc_req_item``) when it is inserted or updated, through ``RESTMessageV2``:
Basic authentication or a bearer token (an API key), and optionally a base64 HMAC-SHA256 of
the body made with ``GlideCertificateEncryption.generateMac`` (ServiceNow can only sign from a
script). Its ``event_id`` is the same on every retry; its ``timestamp`` (milliseconds) says
when the change happened.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from fastapi import Request

from contracts.signing import SignatureError, bearer_token_matches
from contracts.ticket_mapping import ServiceNowInbound, ServiceNowMapping
from contracts.tickets import (
    CreatedEvent,
)

from ._ticket_endpoints import TicketSystem
from ._ticket_systems import Ignored, MappedEvent, event_for, request_from

__all__ = ["SIGNATURE_HEADER", "authenticate", "servicenow_system", "translate"]

SIGNATURE_HEADER = "X-Numberflow-Hmac-Sha256"
"""The Business Rule's optional signature: base64 of HMAC-SHA256 over the raw body."""


def servicenow_system(inbound: ServiceNowInbound) -> TicketSystem:
    """ServiceNow's endpoint: Basic or bearer, the HMAC when keys are set, ``event_id``."""

    def check(request: Request, body: bytes) -> None:
        authenticate(
            request.headers.get("Authorization"),
            request.headers.get(SIGNATURE_HEADER),
            body,
            inbound,
        )

    def delivery_of(_: Request, payload: dict[str, Any]) -> str | None:
        event_id = payload.get("event_id")
        return event_id if isinstance(event_id, str) else None

    return TicketSystem(
        name="servicenow",
        authenticate=check,
        delivery_of=delivery_of,
        translate=lambda payload: translate(payload, inbound.mapping),
        max_age_seconds=inbound.max_age_seconds,
    )


def authenticate(
    authorization: str | None, signature: str | None, body: bytes, inbound: ServiceNowInbound
) -> None:
    """Raise ``SignatureError`` unless the caller is allowed (and signed, when keys are set)."""
    if not (
        _basic_matches(authorization, inbound.basic_users)
        or bearer_token_matches(authorization, inbound.tokens)
    ):
        raise SignatureError("missing or wrong Authorization (Basic or Bearer)")
    if not inbound.hmac_keys:
        return
    if not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    presented = signature.strip().encode()
    matched = False
    for key in inbound.hmac_keys:  # every key compared: the time does not tell which matched
        digest = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest())
        matched |= hmac.compare_digest(digest, presented)
    if not matched:
        raise SignatureError("signature does not match")


def _basic_matches(authorization: str | None, users: Any) -> bool:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return False
    try:
        presented = base64.b64decode(encoded.strip(), validate=True)
    except ValueError:
        return False
    matched = False
    for user in users:
        matched |= hmac.compare_digest(presented, user.encode())
    return matched


def translate(payload: dict[str, Any], mapping: ServiceNowMapping) -> MappedEvent | Ignored:
    """The numberflow event a requested item's insert or update means, or why it means none.

    Raises ``pydantic.ValidationError`` when a number request's variables do not make a valid
    provisioning request.
    """
    ticket = payload.get("number")
    if not isinstance(ticket, str):
        return Ignored("an event without a requested item number")
    item = payload.get("cat_item")
    if item not in mapping.request.catalog_items:
        return Ignored(f"catalog item {item!r} is not a number request")
    operation = payload.get("operation")
    if operation == "insert":
        return CreatedEvent.model_validate(
            {"event": "created", "request": request_from(ticket, payload, mapping.request)}
        )
    if operation != "update":
        return Ignored(f"operation {operation!r} is not one numberflow acts on")
    changes = payload.get("changes") if isinstance(payload.get("changes"), dict) else {}
    action = next(
        (
            mapping.changes[f"{field}={value}"]
            for field, value in (changes or {}).items()
            if f"{field}={value}" in mapping.changes
        ),
        None,
    )
    if action is None:
        changed = ", ".join(f"{f}={v}" for f, v in (changes or {}).items()) or "nothing"
        return Ignored(f"the change ({changed}) means nothing to numberflow")
    who = str(payload.get("updated_by") or "servicenow")[:128]
    note = f"ServiceNow {', '.join(f'{f}={v}' for f, v in (changes or {}).items())}"
    return event_for(action, ticket, who, note)
