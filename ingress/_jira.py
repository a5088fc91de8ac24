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
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contracts.provision import TrunkSpec
from contracts.signing import SignatureError
from contracts.ticket_mapping import (
    JiraInbound,
    JiraMapping,
    RequestField,
    TicketAction,
    read_path,
)
from contracts.tickets import (
    ApprovedEvent,
    CancelledEvent,
    CreatedEvent,
    RejectedEvent,
    ReleaseRequestedEvent,
)

__all__ = [
    "DELIVERY_HEADER",
    "HUB_SIGNATURE_HEADER",
    "DeliveryLog",
    "Ignored",
    "JiraInbound",
    "JiraEvent",
    "translate",
    "verify_hub_signature",
]

HUB_SIGNATURE_HEADER = "X-Hub-Signature"
DELIVERY_HEADER = "X-Atlassian-Webhook-Identifier"

JiraEvent = CreatedEvent | ApprovedEvent | RejectedEvent | CancelledEvent | ReleaseRequestedEvent
"""What a Jira webhook can mean to numberflow."""

_LIST = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class Ignored:
    """An event that means nothing to numberflow: acknowledged (so Jira does not retry it)."""

    reason: str


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


class DeliveryLog:
    """Delivery identifiers already acted on, newest kept (a bounded memory of one process).

    Jira re-sends a delivery it saw no 2xx for, with the same identifier: one that was acted
    on is answered "duplicate" and does nothing. Only deliveries that were acted on are
    remembered, so a delivery answered 503 is acted on when it comes again.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def __contains__(self, delivery: object) -> bool:
        return delivery in self._seen

    def remember(self, delivery: str) -> None:
        """Acted on: a copy of it is a duplicate from now on."""
        self._seen[delivery] = None
        self._seen.move_to_end(delivery)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)


def translate(payload: dict[str, Any], mapping: JiraMapping) -> JiraEvent | Ignored:
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
            {"event": "created", "request": _request(issue["key"], fields or {}, mapping)}
        )
    if kind != "jira:issue_updated":
        return Ignored(f"{kind!r} is not an event numberflow acts on")
    return _status_change(issue["key"], payload, mapping)


def _status_change(
    ticket: str, payload: dict[str, Any], mapping: JiraMapping
) -> JiraEvent | Ignored:
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
    note = f"Jira status {status}"
    if action is TicketAction.APPROVED:
        return ApprovedEvent(event="approved", ticket_id=ticket, approver=who, comment=note)
    if action is TicketAction.REJECTED:
        return RejectedEvent(event="rejected", ticket_id=ticket, approver=who, reason=note)
    if action is TicketAction.CANCELLED:
        return CancelledEvent(event="cancelled", ticket_id=ticket)
    return ReleaseRequestedEvent(event="release_requested", ticket_id=ticket)


def _request(ticket: str, fields: dict[str, Any], mapping: JiraMapping) -> dict[str, Any]:
    """The provisioning request a number-request issue asks for (validated by the caller)."""
    declared = mapping.request
    read: dict[RequestField, Any] = {}
    for field, path in declared.fields.items():
        value = read_path(fields, path)
        table = declared.values.get(field, {})
        read[field] = (
            [table.get(str(v), v) for v in value]
            if isinstance(value, list)
            else (table.get(str(value), value) if value is not None else None)
        )
    request: dict[str, Any] = {**declared.fixed, "ticket_id": ticket}
    simple = (
        RequestField.COUNTRY_CODE,
        RequestField.PHONE_NUMBER_TYPE,
        RequestField.ASSIGNMENT_TYPE,
        RequestField.SOURCE,
    )
    for field in simple:
        if read.get(field) is not None:
            request[field.value] = read[field]
    if read.get(RequestField.QUANTITY) is not None:
        request["quantity"] = _whole(read[RequestField.QUANTITY])
    for field in (RequestField.PHONE_NUMBER_PREFIXES, RequestField.NUMBERS):
        if read.get(field) is not None:
            request[field.value] = _items(read[field])
    capabilities = dict(request.get("capabilities") or {})
    for field in (RequestField.CALLING, RequestField.SMS):
        if read.get(field) is not None:
            capabilities[field.value] = read[field]
    if capabilities:
        request["capabilities"] = capabilities
    if read.get(RequestField.TRUNKS) is not None:
        trunks = [TrunkSpec.fields_of(text) for text in _items(read[RequestField.TRUNKS])]
        request["routing"] = {**dict(request.get("routing") or {}), "trunks": trunks}
    if read.get(RequestField.APPROVERS) is not None:
        approvers = _items(read[RequestField.APPROVERS])
        request["approval"] = {**dict(request.get("approval") or {}), "approvers": approvers}
    return request


def _items(value: Any) -> list[str]:
    """A list field's items, or a text field's comma- or space-separated words."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part for part in _LIST.split(str(value)) if part]


def _whole(value: Any) -> Any:
    """Jira's number fields are floats (2.0): a whole one as an int, anything else as it is."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
