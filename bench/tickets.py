"""The tickets every benchmark phase provisions: one shape, sized and routed per phase."""

from __future__ import annotations

import uuid
from typing import Any

from contracts.provision import ProvisionRequest

__all__ = ["bench_request"]


def bench_request(quantity: int, routed: bool, auto: bool, batch: str = "B") -> ProvisionRequest:
    """US toll-free numbers with capabilities to change; a route and auto-approval on demand.

    ``batch`` starts the ticket id, so a phase can count its own runs in visibility.
    """
    values: dict[str, Any] = {
        "ticket_id": f"{batch}-{uuid.uuid4().hex[:10]}",
        "country_code": "US",
        "phone_number_type": "tollFree",
        "assignment_type": "application",
        "capabilities": {"calling": "inbound+outbound", "sms": "inbound+outbound"},
        "quantity": quantity,
        "final_capabilities": {"calling": "inbound", "sms": "inbound+outbound"},
    }
    if routed:
        values["routing"] = {"trunks": [{"fqdn": "sbc1.example.com", "port": 5061}]}
    if auto:
        values["approval"] = {"mode": "auto_under_cost", "auto_approve_below": "1000000"}
    return ProvisionRequest.model_validate(values)
