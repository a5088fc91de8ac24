"""Activities that talk to the SIP single writer (a workflow) through the Temporal client.

The sagas submit route and ledger changes to the writer of their resource by signal-with-start
and wait, as an activity completed asynchronously, for the writer to answer after its next
batch; the writer answers through ``answer_requests``. Every request is idempotent (by route
name, by ticket), so a retry is harmless.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from typing import Any, NoReturn

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from contracts.activities import (
    AttachRouteInput,
    DetachRouteInput,
    ReleaseNumbersInput,
    RouteResult,
)
from contracts.error_types import SIP_WRITER_ELSEWHERE
from contracts.ids import PROVISION_WORKFLOW_TYPE
from contracts.operations import OpenSagas
from contracts.provision import ProvisionStatus, Stage
from contracts.sip import (
    SIP_WORKFLOW_TYPE,
    SUBMIT_SIGNAL,
    AttachRouteRequest,
    DetachRouteRequest,
    LedgerEntry,
    NumbersClaim,
    NumbersOwnership,
    SipAnswer,
    SipRequestKind,
    SipRoutingInput,
    SipSubmission,
    sip_workflow_id,
)

__all__ = ["SipWriterActivities"]

_STATUS_QUERY_TIMEOUT = timedelta(seconds=5)
"""How long one saga may take to answer reconciliation's status query."""
_STATUS_QUERIES_AT_ONCE = 20
"""Status queries in flight at once: a fleet of sagas is read in parallel, not one by one."""


class SipWriterActivities:
    """Route and ledger changes for one ACS resource, via its SIP writer workflow."""

    def __init__(self, client: Client, endpoint: str, task_queue: str) -> None:
        self._client = client
        self._resource = endpoint
        self._workflow_id = sip_workflow_id(endpoint)
        self._task_queue = task_queue

    async def _submit(self, kind: SipRequestKind, **request: Any) -> NoReturn:
        """Hand the request to the writer by signal-with-start; the writer completes us.

        A signal, unlike an Update, has no in-flight limit per workflow, so a fleet of sagas
        never waits on the server refusing requests; the writer takes every submission
        waiting into one batch (one read, one PATCH) and completes each asking activity with
        its result or its refusal. A retried attempt submits again under the same request id:
        the writer answers it without doing the work twice.
        """
        await self._refuse_a_writer_elsewhere()
        info = activity.info()
        submission = SipSubmission(
            request_id=f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}",
            task_token=base64.b64encode(info.task_token).decode(),
            kind=kind,
            **request,
        )
        await self._client.start_workflow(
            SIP_WORKFLOW_TYPE,
            SipRoutingInput(resource=self._resource),
            id=self._workflow_id,
            task_queue=self._task_queue,
            start_signal=SUBMIT_SIGNAL,
            start_signal_args=[submission],
        )
        activity.raise_complete_async()

    async def _refuse_a_writer_elsewhere(self) -> None:
        """The writer's id is per resource; its task queue is whichever started it first.

        A writer already running on another queue (a deployment that changed
        ``NUMBERFLOW_TASK_QUEUE``, or two queues for one resource) would take the submission
        and never run: the saga would wait until its timeout, again and again. Say so instead.
        """
        try:
            writer = await self._client.get_workflow_handle(self._workflow_id).describe()
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return  # the submission starts it, on this queue
            raise
        running = writer.status is WorkflowExecutionStatus.RUNNING
        if running and writer.task_queue != self._task_queue:
            raise ApplicationError(
                f"the SIP writer of {self._resource} runs on task queue {writer.task_queue!r} "
                f"and this worker serves {self._task_queue!r}: one task queue per ACS "
                f"resource; run the workers on {writer.task_queue!r}",
                type=SIP_WRITER_ELSEWHERE,
                non_retryable=True,
            )

    @activity.defn
    async def attach_route(self, attach: AttachRouteInput) -> RouteResult:
        """Attach the ticket's route through the writer (completed by the writer)."""
        await self._submit(
            SipRequestKind.ATTACH,
            attach=AttachRouteRequest(
                ticket_id=attach.ticket_id,
                route_name=attach.route_name,
                numbers=attach.numbers,
                trunks=attach.trunks,
            ),
        )

    @activity.defn
    async def detach_route(self, detach: DetachRouteInput) -> None:
        """Detach the route, then the trunks it added if unused, through the writer."""
        await self._submit(
            SipRequestKind.DETACH,
            detach=DetachRouteRequest(
                ticket_id=detach.ticket_id,
                route_name=detach.route_name,
                remove_unused_trunks=detach.trunks_added,
            ),
        )

    @activity.defn
    async def record_numbers(self, ownership: NumbersOwnership) -> None:
        """Enter the ticket's numbers in the ledger."""
        await self._submit(SipRequestKind.RECORD, ownership=ownership)

    @activity.defn
    async def forget_numbers(self, ownership: NumbersOwnership) -> None:
        """Remove released numbers from the ledger."""
        await self._submit(SipRequestKind.FORGET, ownership=ownership)

    @activity.defn
    async def claim_numbers(self, claim: NumbersClaim) -> None:
        """Claim numbers from outside for the ticket; refused if another ticket owns one."""
        await self._submit(SipRequestKind.CLAIM, claim=claim)

    @activity.defn
    async def answer_requests(self, answers: list[SipAnswer]) -> None:
        """The writer's side: complete every asking activity of a batch (it calls this).

        An attempt that is gone (timed out and retried, or its saga ended) is skipped: its
        retry was, or will be, answered under the same request id.
        """
        for answer in answers:
            handle = self._client.get_async_activity_handle(
                task_token=base64.b64decode(answer.task_token)
            )
            try:
                if answer.error_type is not None:
                    await handle.fail(
                        ApplicationError(
                            answer.error_message or answer.error_type,
                            *answer.error_details,
                            type=answer.error_type,
                            non_retryable=not answer.retryable,
                        )
                    )
                elif answer.written is not None:
                    written = answer.written
                    await handle.complete(
                        RouteResult(
                            route_name=written.route_name,
                            number_pattern=written.number_pattern,
                            trunks_added=written.trunks_added,
                            parts=written.parts,
                        )
                    )
                else:
                    await handle.complete(None)
            except RPCError as error:
                if error.status is not RPCStatusCode.NOT_FOUND:
                    raise

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
    async def owners_of(self, numbers: ReleaseNumbersInput) -> dict[str, str]:
        """Which ticket owns each of these numbers in the ledger (numbers nobody owns: absent)."""
        wanted = set(numbers.numbers)
        return {
            number: ticket
            for ticket, entry in (await self.get_ledger()).items()
            for number in entry.numbers
            if number in wanted
        }

    @activity.defn
    async def open_saga_numbers(self) -> tuple[str, ...]:
        """Numbers held or bought by provisioning sagas still running (not yet in the ledger).

        Kept for reconcile runs from before ``open_sagas`` (its numbers are the same).
        """
        return tuple(n for status in await self._open_statuses() for n in status.numbers)

    @activity.defn
    async def open_sagas(self) -> OpenSagas:
        """What running sagas hold: numbers (not yet in the ledger) and holds.

        A saga still taking a hold (the first, or a new one after its hold lapsed) has a
        reservation in ACS that its status does not name yet: it is counted, so that
        reconciliation deletes no reservation while one may be that saga's.
        """
        statuses = await self._open_statuses()
        return OpenSagas(
            numbers=tuple(n for status in statuses for n in status.numbers),
            holds=tuple(status.hold_id for status in statuses if status.hold_id),
            taking_holds=sum(1 for status in statuses if status.stage is Stage.RESERVING),
        )

    async def _open_statuses(self) -> list[ProvisionStatus]:
        """The status of every provisioning saga still running on this deployment.

        The sagas of this deployment: those on its task queue (one queue per ACS resource, as
        the SIP writer already assumes), not every saga of the namespace. Each is asked with
        a bound; a saga that cannot answer fails the activity (retried) rather than being
        skipped: its numbers would otherwise read as orphans, and might be released.
        """
        query = (
            f"WorkflowType = '{PROVISION_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' "
            f"AND TaskQueue = '{self._task_queue}'"
        )
        running = [execution async for execution in self._client.list_workflows(query)]
        asking = asyncio.Semaphore(_STATUS_QUERIES_AT_ONCE)

        async def status_of(workflow_id: str, run_id: str | None) -> ProvisionStatus | None:
            handle = self._client.get_workflow_handle(workflow_id, run_id=run_id)
            async with asking:
                try:
                    status: ProvisionStatus = await handle.query(
                        "status", result_type=ProvisionStatus, rpc_timeout=_STATUS_QUERY_TIMEOUT
                    )
                except RPCError as error:
                    if error.status is RPCStatusCode.NOT_FOUND:
                        return None  # closed in the meantime: its numbers are in the ledger
                    raise ApplicationError(
                        f"saga {workflow_id} did not answer its status query ({error.status.name}"
                        "); its numbers are unknown, so none is called an orphan yet"
                    ) from None
            return status

        answers = await asyncio.gather(*(status_of(e.id, e.run_id) for e in running))
        return [status for status in answers if status is not None]
