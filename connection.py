"""Connecting to Temporal the project's way, and what every server needs from us.

Shared by the worker and the CLI: the standard ``TEMPORAL_*`` configuration with the pydantic
data converter, the custom search attributes, and the reconciliation schedule.
"""

from __future__ import annotations

import os
from datetime import timedelta

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.envconfig import ClientConfig

from codec import ENV_VAR as PAYLOAD_KEYS_VAR
from codec import PayloadKeys, data_converter
from contracts.operations import ReconcileRequest
from contracts.search_attributes import ALL_SEARCH_ATTRIBUTES

__all__ = [
    "RECONCILE_SCHEDULE_ID",
    "RECONCILE_WORKFLOW_TYPE",
    "connect_temporal",
    "payload_keys_from_environment",
    "ensure_reconcile_schedule",
    "register_search_attributes",
]

RECONCILE_SCHEDULE_ID = "numberflow-reconcile"
RECONCILE_WORKFLOW_TYPE = "ReconcileWorkflow"


def payload_keys_from_environment() -> PayloadKeys | None:
    """``NUMBERFLOW_PAYLOAD_KEYS`` for the commands that build no settings object (the CLI)."""
    try:
        return PayloadKeys.parse(os.environ.get(PAYLOAD_KEYS_VAR))
    except ValueError as error:
        raise ValueError(f"{PAYLOAD_KEYS_VAR}: {error}") from None


async def connect_temporal(keys: PayloadKeys | None) -> Client:
    """Connect with the standard environment/profile configuration and our data converter.

    ``keys`` encrypt payloads (``codec``); every process of one deployment must use the same.
    """
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", "localhost:7233")
    return await Client.connect(**config, data_converter=data_converter(keys))


async def register_search_attributes(client: Client) -> None:
    """Register numberflow's search attributes where no CLI flag can (the test server)."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
                for key in ALL_SEARCH_ATTRIBUTES
            },
        )
    )


async def ensure_reconcile_schedule(
    client: Client, task_queue: str, *, every: timedelta = timedelta(days=1)
) -> bool:
    """Create the reconciliation schedule unless it exists; returns whether it was created.

    It only reports (``release_orphans`` off); releasing is an operator's explicit decision.
    """
    try:
        await client.create_schedule(
            RECONCILE_SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    RECONCILE_WORKFLOW_TYPE,
                    ReconcileRequest(),
                    id=f"{RECONCILE_SCHEDULE_ID}-run",
                    task_queue=task_queue,
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
                state=ScheduleState(note="numberflow: compare ACS with the ledger (report only)"),
            ),
        )
    except ScheduleAlreadyRunningError:
        return False
    return True
