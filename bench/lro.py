"""(2) How late a finished long-running operation is seen, and with how many polls: the saga's
LRO path (an activity starts it, the poll activity polls it on ``acs.POLL_SCHEDULE``) against the official SDK's
poller (``azure-communication-phonenumbers``), on the same emulator, one operation at a time."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from .emulator_process import emulator_process

with workflow.unsafe.imports_passed_through():
    from activities import PhoneNumberActivities
    from contracts.activities import HoldInput, LroOutcome
    from contracts.provision import ProvisionRequest
    from workflows._policies import POLL_STEP, SIDE_EFFECT_STEP

__all__ = ["LroProbeWorkflow", "measure_lro"]

ROOT = Path(__file__).resolve().parents[1]
_OPERATION_POLL = "PhoneNumbers_GetOperation"


@workflow.defn(name="LroProbeWorkflow")
class LroProbeWorkflow:
    """The saga's way through one search LRO: start it, then poll it as the saga does."""

    @workflow.run
    async def run(self, request: ProvisionRequest) -> LroOutcome:
        handle = await workflow.execute_activity_method(
            PhoneNumberActivities.begin_search,
            HoldInput(request=request, hold_id="search"),
            **SIDE_EFFECT_STEP,
        )
        return await workflow.execute_activity_method(
            PhoneNumberActivities.poll_operation, handle, **POLL_STEP
        )


async def _polls(endpoint: str) -> int:
    async with httpx.AsyncClient() as http:
        state = (await http.get(f"{endpoint}/_emulator/state")).json()
    return int(state["requestCounts"].get(_OPERATION_POLL, 0))


async def measure_lro(client: Client, seconds: float) -> dict[str, Any]:
    """One operation of ``seconds`` each way: lag after it ends, and polls made."""
    from azure.communication.phonenumbers import PhoneNumberCapabilities
    from azure.communication.phonenumbers.aio import PhoneNumbersClient as SdkClient
    from azure.core.credentials import AzureKeyCredential

    from acs import PhoneNumbersClient
    from emulator import DEFAULT_ACCESS_KEY

    queue = f"bench-lro-{uuid.uuid4().hex[:6]}"
    async with emulator_process(seconds) as endpoint:
        connection = f"endpoint={endpoint};accesskey={DEFAULT_ACCESS_KEY}"
        request = ProvisionRequest.model_validate(
            {
                "ticket_id": "B-lro",
                "country_code": "US",
                "phone_number_type": "tollFree",
                "assignment_type": "application",
                "capabilities": {"calling": "inbound+outbound", "sms": "inbound+outbound"},
            }
        )
        async with PhoneNumbersClient.from_connection_string(connection) as numbers:
            activities = PhoneNumberActivities(numbers)
            async with Worker(
                client,
                task_queue=queue,
                workflows=[LroProbeWorkflow],
                activities=[activities.begin_search, activities.poll_operation],
                workflow_runner=UnsandboxedWorkflowRunner(),  # lag is measured here, not CPU
            ):
                before, begun = await _polls(endpoint), time.perf_counter()
                await client.execute_workflow(
                    LroProbeWorkflow.run, request, id=f"lro-{uuid.uuid4().hex}", task_queue=queue
                )
                ours = (time.perf_counter() - begun - seconds, await _polls(endpoint) - before)
        async with SdkClient(endpoint, AzureKeyCredential(DEFAULT_ACCESS_KEY)) as sdk:
            before, begun = await _polls(endpoint), time.perf_counter()
            poller = await sdk.begin_search_available_phone_numbers(
                "US",
                "tollFree",
                "application",
                PhoneNumberCapabilities(calling="inbound+outbound", sms="inbound+outbound"),
            )
            await poller.result()
            theirs = (time.perf_counter() - begun - seconds, await _polls(endpoint) - before)
    row = {
        "operation_seconds": seconds,
        "numberflow_lag_s": round(ours[0], 3),
        "numberflow_polls": ours[1],
        "sdk_lag_s": round(theirs[0], 3),
        "sdk_polls": theirs[1],
    }
    print(f"  lro: {row}", flush=True)
    return row
