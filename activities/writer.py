"""Activities that talk to the SIP single writer (a workflow) through the Temporal client.

The provisioning and release sagas cannot send Updates to another workflow themselves, so
these activities do it: start the writer of the resource if it is not running (id-conflict
policy USE_EXISTING), then execute the Update. Updates are idempotent by route name, so an
activity retry is harmless.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from contracts.activities import AttachRouteInput, DetachRouteInput, RouteResult
from contracts.provision import PROVISION_WORKFLOW_TYPE, ProvisionStatus
from contracts.sip import (
    SIP_WORKFLOW_TYPE,
    AttachRouteRequest,
    DetachRouteRequest,
    LedgerEntry,
    NumbersOwnership,
    RouteWritten,
    SipRoutingInput,
    sip_workflow_id,
)

__all__ = ["SipWriterActivities"]


def _cause(error: BaseException) -> ApplicationError:
    """The innermost ApplicationError of a failed update, re-raised as non-retryable."""
    current: BaseException | None = error
    found: ApplicationError | None = None
    while current is not None:
        if isinstance(current, ApplicationError):
            found = current
        current = current.__cause__ or getattr(current, "cause", None)
    if found is None:
        return ApplicationError(str(error), type="SipWriterRefused", non_retryable=True)
    return ApplicationError(found.message, *found.details, type=found.type, non_retryable=True)


class SipWriterActivities:
    """Route and ledger changes for one ACS resource, via its SIP writer workflow."""

    def __init__(self, client: Client, endpoint: str, task_queue: str) -> None:
        self._client = client
        self._resource = endpoint
        self._workflow_id = sip_workflow_id(endpoint)
        self._task_queue = task_queue

    async def _update(self, update: str, argument: Any, result_type: Any = None) -> Any:
        handle = await self._client.start_workflow(
            SIP_WORKFLOW_TYPE,
            SipRoutingInput(resource=self._resource),
            id=self._workflow_id,
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        try:
            return await handle.execute_update(update, argument, result_type=result_type)
        except WorkflowUpdateFailedError as error:
            raise _cause(error) from error
        except RPCError as error:
            if error.status is RPCStatusCode.INVALID_ARGUMENT:  # refused by a validator
                raise ApplicationError(
                    error.message, type="SipWriterRefused", non_retryable=True
                ) from error
            raise

    @activity.defn
    async def attach_route(self, attach: AttachRouteInput) -> RouteResult:
        """Attach the ticket's route through the writer."""
        written = await self._update(
            "attach_route",
            AttachRouteRequest(
                ticket_id=attach.ticket_id,
                route_name=attach.route_name,
                numbers=attach.numbers,
                trunks=attach.trunks,
            ),
            RouteWritten,
        )
        return RouteResult(
            route_name=written.route_name,
            number_pattern=written.number_pattern,
            trunks_added=written.trunks_added,
            parts=written.parts,
        )

    @activity.defn
    async def detach_route(self, detach: DetachRouteInput) -> None:
        """Detach the route, then the trunks it added if unused, through the writer."""
        await self._update(
            "detach_route",
            DetachRouteRequest(
                ticket_id=detach.ticket_id,
                route_name=detach.route_name,
                remove_unused_trunks=detach.trunks_added,
            ),
        )

    @activity.defn
    async def record_numbers(self, ownership: NumbersOwnership) -> None:
        """Enter the ticket's numbers in the ledger."""
        await self._update("record_numbers", ownership)

    @activity.defn
    async def forget_numbers(self, ownership: NumbersOwnership) -> None:
        """Remove released numbers from the ledger."""
        await self._update("forget_numbers", ownership)

    @activity.defn
    async def get_ledger(self) -> dict[str, LedgerEntry]:
        """The ledger, or empty when the writer has never run."""
        handle = self._client.get_workflow_handle(self._workflow_id)
        try:
            ledger: dict[str, LedgerEntry] = await handle.query(
                "ledger", result_type=dict[str, LedgerEntry]
            )
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return {}
            raise
        return ledger

    @activity.defn
    async def open_saga_numbers(self) -> tuple[str, ...]:
        """Numbers held or bought by provisioning sagas still running (not yet in the ledger)."""
        numbers: list[str] = []
        query = f"WorkflowType = '{PROVISION_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'"
        async for execution in self._client.list_workflows(query):
            handle = self._client.get_workflow_handle(execution.id, run_id=execution.run_id)
            try:
                status: ProvisionStatus = await handle.query("status", result_type=ProvisionStatus)
            except RPCError:
                continue  # closed in the meantime
            numbers.extend(status.numbers)
        return tuple(numbers)
