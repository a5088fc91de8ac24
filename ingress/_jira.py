"""Jira webhooks in: signed by Jira, deduplicated, translated by the declared mapping.

Jira Cloud signs an admin webhook that has a secret with ``X-Hub-Signature: sha256=<hex
HMAC-SHA256 of the raw body>`` (no timestamp in the header), and sends the same
``X-Atlassian-Webhook-Identifier`` on every retry of one delivery. The body's ``timestamp``
(milliseconds) says when the event happened; an old one is refused, so a captured request
cannot be replayed later. What the event means comes from ``contracts.ticket_mapping``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from fastapi import Request

from contracts.signing import SignatureError
from contracts.ticket_mapping import JiraInbound, JiraMapping, read_path
from contracts.tickets import (
    CreatedEvent,
)

from ._ticket_endpoints import TicketSystem
from ._ticket_systems import Ignored, MappedEvent, event_for, request_from

__all__ = [
    "DELIVERY_HEADER",
    "HUB_SIGNATURE_HEADER",
    "jira_system",
    "translate",
    "verify_hub_signature",
]

HUB_SIGNATURE_HEADER = "X-Hub-Signature"
DELIVERY_HEADER = "X-Atlassian-Webhook-Identifier"


def jira_system(inbound: JiraInbound) -> TicketSystem:
    """Jira's endpoint: ``X-Hub-Signature`` checked, deliveries by their identifier header."""

    def authenticate(request: Request, body: bytes) -> None:
        verify_hub_signature(request.headers.get(HUB_SIGNATURE_HEADER), body, inbound.secrets)

    return TicketSystem(
        name="jira",
        authenticate=authenticate,
        delivery_of=lambda request, _: request.headers.get(DELIVERY_HEADER),
        translate=lambda payload: translate(payload, inbound.mapping),
        max_age_seconds=inbound.max_age_seconds,
    )


def verify_hub_signature(header: str | None, body: bytes, secrets: Sequence[str]) -> None:
    """Raise ``SignatureError`` unless one of ``secrets`` signed ``body`` (constant time)."""
    if not header:
        raise SignatureError(f"missing {HUB_SIGNATURE_HEADER} header")
    scheme, _, given = header.partition("=")
    if scheme != "sha256" or not given:
        raise SignatureError(f"{HUB_SIGNATURE_HEADER} must be sha256=<hex>")
    presented = given.strip().lower().encode()
    matched = False
    for secret in secrets:  # every secret is compared: the time does not tell which matched
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
        matched |= hmac.compare_digest(digest, presented)
    if not matched:
        raise SignatureError("signature does not match")


def translate(payload: dict[str, Any], mapping: JiraMapping) -> MappedEvent | Ignored:
    """The numberflow event a Jira webhook means, or why it means none.

    Raises ``pydantic.ValidationError`` when a number request's fields do not make a valid
    provisioning request (a required field empty, a value the mapping does not translate).
    """
    issue = payload.get("issue")
    kind = payload.get("webhookEvent")
    if not isinstance(issue, dict) or not isinstance(issue.get("key"), str):
        return Ignored(f"{kind or 'an event'} without an issue")
    fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
    issue_type = read_path(fields or {}, "issuetype.name")
    if issue_type not in mapping.request.issue_types:
        return Ignored(f"issue type {issue_type!r} is not a number request")
    if kind == "jira:issue_created":
        return CreatedEvent.model_validate(
            {
                "event": "created",
                "request": request_from(issue["key"], fields or {}, mapping.request),
            }
        )
    if kind != "jira:issue_updated":
        return Ignored(f"{kind!r} is not an event numberflow acts on")
    return _status_change(issue["key"], payload, mapping)


def _status_change(
    ticket: str, payload: dict[str, Any], mapping: JiraMapping
) -> MappedEvent | Ignored:
    items = read_path(payload, "changelog.items[]")
    change = next((i for i in items if isinstance(i, dict) and i.get("field") == "status"), None)
    if change is None:
        return Ignored("an update without a status change")
    status = change.get("toString")
    action = mapping.statuses.get(str(status))
    if action is None:
        return Ignored(f"status {status!r} means nothing to numberflow")
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    # the account id: Jira leaves e-mail addresses out of webhooks unless users show them
    who = str((user or {}).get("accountId") or (user or {}).get("emailAddress") or "jira")[:128]
    return event_for(action, ticket, who, f"Jira status {status}")
