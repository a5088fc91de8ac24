"""What every ticket system's adapter shares: what an event means, and deliveries seen.

A number request's fields are read from a ticket by its declared mapping and gathered as the
request model's fields; the model validates them, so a ticket whose fields make no valid
request is refused naming the field, like any other bad input.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from contracts.provision import TrunkSpec
from contracts.ticket_mapping import RequestField, RequestFields, TicketAction, read_path
from contracts.tickets import (
    ApprovedEvent,
    CancelledEvent,
    CreatedEvent,
    RejectedEvent,
    ReleaseRequestedEvent,
)

__all__ = ["DeliveryLog", "Ignored", "MappedEvent", "event_for", "request_from"]

_LIST = re.compile(r"[\s,;]+")

MappedEvent = CreatedEvent | ApprovedEvent | RejectedEvent | CancelledEvent | ReleaseRequestedEvent
"""What a ticket system's event can mean to numberflow."""


@dataclass(frozen=True)
class Ignored:
    """An event that means nothing to numberflow: acknowledged (so the ticket system does not retry it)."""

    reason: str


def event_for(action: TicketAction, ticket: str, who: str, note: str) -> MappedEvent:
    """The event a ticket's change means: who decided, and what changed, for the timeline."""
    if action is TicketAction.APPROVED:
        return ApprovedEvent(event="approved", ticket_id=ticket, approver=who, comment=note)
    if action is TicketAction.REJECTED:
        return RejectedEvent(event="rejected", ticket_id=ticket, approver=who, reason=note)
    if action is TicketAction.CANCELLED:
        return CancelledEvent(event="cancelled", ticket_id=ticket)
    return ReleaseRequestedEvent(event="release_requested", ticket_id=ticket)


class DeliveryLog:
    """Delivery identifiers already acted on, newest kept (a bounded memory of one process).

    A ticket system re-sends a delivery it saw no 2xx for, with the same identifier (Jira's
    ``X-Atlassian-Webhook-Identifier``, the Business Rule's ``event_id``): one that was acted on
    is answered "duplicate" and does nothing. Only deliveries that were acted on are
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


def request_from(ticket: str, fields: dict[str, Any], declared: RequestFields) -> dict[str, Any]:
    """The provisioning request a number-request ticket asks for (validated by the caller)."""
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
