"""Connecting to Temporal the project's way, and what every server needs from us.

Shared by the worker and the CLI: the standard ``TEMPORAL_*`` configuration with the pydantic
data converter, the custom search attributes, and the reconciliation schedule.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import (
    Client,
    Interceptor,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime

from codec import ENV_VAR as PAYLOAD_KEYS_VAR
from codec import PayloadKeys, data_converter
from contracts.operations import ReconcileRequest
from contracts.search_attributes import ALL_SEARCH_ATTRIBUTES
from settings import SettingsError, variable

__all__ = [
    "RECONCILE_SCHEDULE_ID",
    "RECONCILE_WORKFLOW_TYPE",
    "TemporalConfigError",
    "TemporalUnreachable",
    "connect_temporal",
    "temporal_config",
    "wait_for_temporal",
    "payload_keys_from_environment",
    "ensure_reconcile_schedule",
    "register_search_attributes",
]

RECONCILE_SCHEDULE_ID = "numberflow-reconcile"
RECONCILE_WORKFLOW_TYPE = "ReconcileWorkflow"
API_KEY_VAR = "TEMPORAL_API_KEY"


def payload_keys_from_environment() -> PayloadKeys | None:
    """``NUMBERFLOW_PAYLOAD_KEYS`` or its ``_FILE``, for commands without settings (the CLI)."""
    try:
        return PayloadKeys.parse(variable(PAYLOAD_KEYS_VAR))
    except (ValueError, SettingsError) as error:
        raise ValueError(f"{PAYLOAD_KEYS_VAR}: {error}") from None


class TemporalConfigError(Exception):
    """The ``TEMPORAL_*`` configuration (or profile) is unusable; one line, no values."""


class TemporalUnreachable(Exception):
    """No Temporal server answered at the configured address; one line."""


def temporal_config() -> dict[str, Any]:
    """The client connect options of the standard environment/profile configuration.

    ``TEMPORAL_API_KEY_FILE`` is read too (a Secret volume), as every numberflow ``_FILE`` is.
    """
    try:
        config = dict(ClientConfig.load_client_connect_config())
        api_key = variable(API_KEY_VAR)
    except SettingsError as error:
        raise TemporalConfigError(str(error)) from None
    except Exception as error:  # noqa: BLE001 - the bridge raises its own ConfigError type
        raise TemporalConfigError(f"Temporal configuration: {error}") from None
    if api_key and not config.get("api_key"):
        config["api_key"] = api_key
    config.setdefault("target_host", "localhost:7233")
    return config


def _reason(error: BaseException) -> str:
    """The gist of a connect failure, without the transport's nested debug text."""
    text = str(error)
    for known in ("Connection refused", "timed out", "dns error", "certificate", "Unauthenticated"):
        if known.lower() in text.lower():
            return known.lower()
    return text.split(":")[0][:120]


async def connect_temporal(
    keys: PayloadKeys | None,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect with the standard environment/profile configuration and our data converter.

    ``keys`` encrypt payloads (``codec``); every process of one deployment must use the same.
    Raises ``TemporalConfigError`` or ``TemporalUnreachable`` with one line each.
    """
    config = temporal_config()
    try:
        return await Client.connect(
            **config,
            data_converter=data_converter(keys),
            runtime=runtime,
            interceptors=interceptors,
        )
    except RuntimeError as error:
        raise TemporalUnreachable(
            f"cannot reach Temporal at {config['target_host']} ({_reason(error)})"
        ) from None


async def wait_for_temporal(
    keys: PayloadKeys | None,
    log: Any,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
    max_backoff: float = 30.0,
) -> Client:
    """Connect, retrying with capped backoff while Temporal is not up yet (worker, ingress).

    A process started before its server (a deploy, a node restart) waits, logging each
    attempt, instead of crashing into a restart loop; a configuration error still stops it.
    """
    delay = 1.0
    while True:
        try:
            return await connect_temporal(keys, runtime, interceptors)
        except TemporalUnreachable as error:
            log.warning("waiting for Temporal", reason=str(error), retry_in_seconds=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff)


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
