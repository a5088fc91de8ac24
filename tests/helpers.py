"""Small steps many tests take against the emulator through the acs client."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowHandle,
)
from temporalio.converter import DataConverter
from temporalio.service import RetryConfig

from acs import (
    AvailablePhoneNumber,
    PhoneNumberCapabilities,
    PhoneNumbersClient,
    PhoneNumberSearchResult,
    PollSchedule,
)

TOLL_FREE_CAPS = PhoneNumberCapabilities(calling="inbound+outbound", sms="inbound+outbound")


async def completed_search(
    client: PhoneNumbersClient,
    *,
    country: str = "US",
    number_type: str = "tollFree",
    capabilities: PhoneNumberCapabilities = TOLL_FREE_CAPS,
    quantity: int = 1,
    area_code: str | None = None,
) -> PhoneNumberSearchResult:
    """Run a search to completion and return its result (the numbers are held)."""
    ref = await client.begin_search_available_phone_numbers(
        country, number_type, "application", capabilities, quantity=quantity, area_code=area_code
    )
    await client.wait(ref, schedule=PollSchedule(0.01, 0.01))
    return await client.get_search_result(str(ref.resource_id))


async def purchased_numbers(client: PhoneNumbersClient, quantity: int = 1) -> list[str]:
    """Search and buy US toll-free numbers; returns them."""
    result = await completed_search(client, quantity=quantity)
    await client.wait(
        await client.begin_purchase_phone_numbers(result.search_id),
        schedule=PollSchedule(0.01, 0.01),
    )
    return result.phone_numbers


async def reservation(
    client: PhoneNumbersClient, country: str, number_type: str, count: int = 1
) -> tuple[uuid.UUID, list[AvailablePhoneNumber]]:
    """Browse and reserve ``count`` numbers; returns the reservation id and the browse sample."""
    browse = await client.browse_available_phone_numbers(
        country_code=country, phone_number_type=number_type
    )
    rid = uuid.uuid4()
    await client.create_or_update_reservation(
        reservation_id=rid, numbers_to_add=browse.phone_numbers[:count]
    )
    return rid, browse.phone_numbers


class _StartHasABug(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        raise RuntimeError("a bug on the start path")


class _BugOnStart(Interceptor):
    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _StartHasABug(next)


async def client_with_a_bug(converter: DataConverter) -> Client:
    """A Temporal client whose workflow start raises an unexpected error (a bug, not an outage).

    What the ingress must answer 500 for, with the traceback logged at ERROR; an unreachable
    Temporal is a 503 instead.
    """
    return await Client.connect(
        "127.0.0.1:1",
        lazy=True,
        data_converter=converter,
        interceptors=[_BugOnStart()],
        retry_config=RetryConfig(max_retries=0),
    )
