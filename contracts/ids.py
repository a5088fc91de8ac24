"""Every id numberflow names things by, and the rules for them, written once.

Ticket ids come from outside (a ticket system, an operator); workflow ids and workflow type
names are how every other part (ingress, CLI, telemetry, the writer) finds a run without
importing workflow code.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field

__all__ = [
    "CONFIRM_RELEASED_SIGNAL",
    "DECIDE_SIGNAL",
    "DELIVER_SIGNAL",
    "INTERVENE_SIGNAL",
    "PROVISION_WORKFLOW_TYPE",
    "QUOTA_KEEPER_WORKFLOW_TYPE",
    "RECONCILE_WORKFLOW_TYPE",
    "RELEASE_WORKFLOW_TYPE",
    "SIP_ROUTING_WORKFLOW_TYPE",
    "TICKET_ID_PATTERN",
    "TICKET_ID_RULE",
    "TicketId",
    "is_ticket_id",
    "release_workflow_id",
    "resource_host",
    "ticket_id_of",
    "workflow_id_for",
]

TICKET_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""A ticket id: safe in a workflow id, a visibility query, a file name and a URL path."""
TICKET_ID_RULE = "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
"""``TICKET_ID_PATTERN`` in words, for error messages."""

TicketId = Annotated[str, Field(pattern=TICKET_ID_PATTERN)]
"""A field holding a ticket id."""

PROVISION_WORKFLOW_TYPE = "ProvisionNumbersWorkflow"
RELEASE_WORKFLOW_TYPE = "ReleaseNumbersWorkflow"
SIP_ROUTING_WORKFLOW_TYPE = "SipRoutingWorkflow"
RECONCILE_WORKFLOW_TYPE = "ReconcileWorkflow"
QUOTA_KEEPER_WORKFLOW_TYPE = "QuotaKeeperWorkflow"

DECIDE_SIGNAL = "decide"
"""The saga's approve/reject signal (input: ``Decision``), by name: ``temporal workflow signal``
and ticket systems send it so, and its handler takes the raw input to record a bad one."""
INTERVENE_SIGNAL = "intervene"
"""The saga's retry/skip/abort/abandon signal (input: ``Intervention``), likewise."""

DELIVER_SIGNAL = "deliver"
"""A manual order's delivery signal (input: ``Delivery``): numbers now in the resource."""
CONFIRM_RELEASED_SIGNAL = "confirm_released"
"""A release run's signal (input: ``ReleaseConfirmation``): the service desk released them."""

_PROVISION_PREFIX = "provision-"
_RELEASE_PREFIX = "release-"


def is_ticket_id(value: str) -> bool:
    """Whether ``value`` follows ``TICKET_ID_PATTERN``."""
    return re.fullmatch(TICKET_ID_PATTERN, value) is not None


def workflow_id_for(ticket_id: str) -> str:
    """The saga's workflow id: one run per ticket, so duplicate deliveries attach to it."""
    return f"{_PROVISION_PREFIX}{ticket_id}"


def release_workflow_id(ticket_id: str) -> str:
    """One release run per ticket."""
    return f"{_RELEASE_PREFIX}{ticket_id}"


def ticket_id_of(workflow_id: str) -> str | None:
    """The ticket a provisioning or release run belongs to, read back from its workflow id."""
    for prefix in (_PROVISION_PREFIX, _RELEASE_PREFIX):
        if workflow_id.startswith(prefix) and len(workflow_id) > len(prefix):
            return workflow_id[len(prefix) :]
    return None


def resource_host(endpoint: str) -> str:
    """The ACS resource's host, what the ids of its one-per-resource workflows are made of."""
    return urlsplit(endpoint).netloc or endpoint
