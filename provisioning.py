"""How a ticket's provisioning run is started, re-driven and cancelled from outside.

The CLI and the ingress both act on a ticket's saga; the rules live here once:

* a ticket id gets one provisioning. A redelivered ``created`` (or a second ``provision``)
  answers with the existing run, whether it is still running or long closed, and never
  starts a second purchase;
* only an operator re-drives a ticket, and only one whose last run *failed* and was fully
  compensated (``retry``). A cancelled, rejected, expired or completed ticket stays so;
* an approval or a rejection is checked against the saga's status by the same rule its
  validators use, then sent as the ``decide`` signal, and confirmed by watching the status;
* a cancel reaches only a saga that has not reached its outcome yet. Once it has (completed,
  or compensated and telling the ticket system), a cancel is refused: a completed ticket's
  numbers are given back by a release, never by a cancel;
* a release is for a ticket whose provisioning has ended; an unknown ticket is not found and
  nothing starts, a running one is refused (cancel it instead);
* every read of a saga's status is bounded: without a worker to answer, it says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from connection import outage_reason
from contracts.callback_hosts import CallbackHosts
from contracts.error_types import COMPENSATION_FAILED
from contracts.ids import (
    CONFIRM_RELEASED_SIGNAL,
    DECIDE_SIGNAL,
    DELIVER_SIGNAL,
    INTERVENE_SIGNAL,
    release_workflow_id,
    workflow_id_for,
)
from contracts.operations import (
    ReleaseConfirmation,
    ReleaseRequest,
    ReleaseResult,
)
from contracts.provision import (
    Decision,
    DecisionKind,
    Delivery,
    DeliveryRecord,
    Intervention,
    InterventionKind,
    NumberSource,
    ProvisionRequest,
    ProvisionResult,
    ProvisionStatus,
    Stage,
    decision_refusal,
    intervention_refusal,
)
from contracts.quota import QuotaGrant, QuotaKeeperInput, QuotaView, quota_keeper_id
from contracts.search_attributes import COUNTRY_CODE, TICKET_ID
from workflows import ProvisionNumbersWorkflow, QuotaKeeperWorkflow, ReleaseNumbersWorkflow

__all__ = [
    "DecisionSent",
    "NoWorkerAnswered",
    "ProvisioningNotFound",
    "ProvisioningRefused",
    "Release",
    "StartedProvisioning",
    "cancel_provisioning",
    "confirm_released",
    "decide",
    "deliver",
    "grant_quota",
    "read_quota",
    "describe_release",
    "intervene",
    "read_status",
    "start_provisioning",
    "start_release",
    "worker_polls",
]

DECISION_WAIT = 10.0
"""Seconds a decision is watched for after it is sent, before answering that it is pending."""

_DECIDED = frozenset(
    {
        Stage.COMPLETED,
        Stage.COMPLETED_WITH_SKIPS,
        Stage.COMPENSATED,
        Stage.COMPENSATION_FAILED,
        Stage.REJECTED,
        Stage.EXPIRED,
    }
)
"""Stages after which the saga's outcome is fixed: a cancel could change nothing any more."""


STATUS_TIMEOUT = timedelta(seconds=5)
"""How long a status query may wait for a worker to answer it."""


class ProvisioningRefused(Exception):
    """The ticket's run does not allow this; the message says why, in one line."""


class ProvisioningNotFound(Exception):
    """The ticket has no provisioning run; nothing was started or changed."""

    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"no provisioning for ticket {ticket_id}")


class NoWorkerAnswered(Exception):
    """The saga exists but no worker answered its status query (in time, or at all now)."""

    def __init__(self, ticket_id: str, *, task_retrying: bool = False) -> None:
        if task_retrying:
            super().__init__(
                f"no worker can answer for ticket {ticket_id} now: its workflow task is being "
                "retried (a worker stopped in the middle of it, or it fails: the Web UI shows "
                "which); try again shortly"
            )
            return
        super().__init__(
            f"no worker answered for ticket {ticket_id} within "
            f"{STATUS_TIMEOUT.total_seconds():.0f} s; is a worker running on its task queue?"
        )


def _handle(
    client: Client, ticket_id: str
) -> WorkflowHandle[ProvisionNumbersWorkflow, ProvisionResult]:
    return client.get_workflow_handle(workflow_id_for(ticket_id), result_type=ProvisionResult)


async def _describe(
    handle: WorkflowHandle[ProvisionNumbersWorkflow, ProvisionResult], ticket_id: str
) -> WorkflowExecutionDescription:
    try:
        return await handle.describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            raise ProvisioningNotFound(ticket_id) from None
        raise


async def read_status(client: Client, ticket_id: str) -> ProvisionStatus:
    """The saga's status query, bounded; ``ProvisioningNotFound`` / ``NoWorkerAnswered``."""
    handle = _handle(client, ticket_id)
    try:
        return await handle.query(ProvisionNumbersWorkflow.status, rpc_timeout=STATUS_TIMEOUT)
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            raise ProvisioningNotFound(ticket_id) from None
        if error.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            raise NoWorkerAnswered(ticket_id) from None
        if _no_poller(error):
            raise NoWorkerAnswered(ticket_id) from None
        if _task_retrying(error):
            raise NoWorkerAnswered(ticket_id, task_retrying=True) from None
        raise


def _no_poller(error: RPCError) -> bool:
    """The server refuses a query outright when it has seen no worker poll the task queue lately.

    ("no poller seen for task queue recently, worker may be down": all workers gone, or a
    server just restarted that has not met them yet; found by a chaos run.)
    """
    return error.status is RPCStatusCode.FAILED_PRECONDITION and "poller" in error.message.lower()


def _task_retrying(error: RPCError) -> bool:
    """Whether the server refused a query because the run's workflow task is on a retry.

    The worker that had the task was killed (the task timed out) or the task failed. Both pass,
    or an operator must look; neither is the caller's error nor a bug of the caller.
    """
    return (
        error.status is RPCStatusCode.FAILED_PRECONDITION
        and "workflow task in failed state" in error.message.lower()
    )


async def worker_polls(client: Client, task_queue: str) -> bool:
    """Whether any worker has polled the task queue for workflow tasks recently."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return bool(response.pollers)


@dataclass(frozen=True)
class Release:
    """The ticket's release run, and whether it had already finished before this request.

    A release that completed after the provisioning ended has nothing left to do: asking
    again answers with that run (``finished_before``), not with a new one that would report
    nothing released and hide what the first one did. A re-driven provisioning that ended
    after it gets a release of its own.
    """

    handle: WorkflowHandle[ReleaseNumbersWorkflow, ReleaseResult]
    finished_before: datetime | None = None


async def start_release(
    client: Client, ticket_id: str, task_queue: str, *, release_numbers_by: str | None = None
) -> Release:
    """Start (or join, or answer with the finished) release once the provisioning has ended.

    ``release_numbers_by``: an operator asks that numbers from outside (ported, specially
    ordered) be released too; it always starts a run (an earlier one kept them).
    """
    description = await _describe(_handle(client, ticket_id), ticket_id)
    if description.status is WorkflowExecutionStatus.RUNNING:
        raise ProvisioningRefused(
            f"ticket {ticket_id} is still being provisioned; cancel it instead of releasing"
        )
    if release_numbers_by is None:
        earlier = await _finished_release(client, ticket_id, description.close_time)
        if earlier is not None:
            return earlier
    handle = await client.start_workflow(
        ReleaseNumbersWorkflow.run,
        ReleaseRequest(
            ticket_id=ticket_id,
            release_numbers=release_numbers_by is not None,
            by=release_numbers_by,
        ),
        id=release_workflow_id(ticket_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return Release(handle)


async def describe_release(
    client: Client, ticket_id: str
) -> tuple[WorkflowHandle[ReleaseNumbersWorkflow, ReleaseResult], WorkflowExecutionDescription]:
    """The ticket's latest release run, described; ``ProvisioningNotFound`` without one."""
    handle = client.get_workflow_handle(release_workflow_id(ticket_id), result_type=ReleaseResult)
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            raise ProvisioningNotFound(ticket_id) from None
        raise
    run = client.get_workflow_handle(
        handle.id, run_id=description.run_id, result_type=ReleaseResult
    )
    return run, description


async def _finished_release(
    client: Client, ticket_id: str, provisioning_closed: datetime | None
) -> Release | None:
    """The release that completed after the provisioning closed, if there is one."""
    try:
        run, description = await describe_release(client, ticket_id)
    except ProvisioningNotFound:
        return None
    closed = description.close_time
    done = description.status is WorkflowExecutionStatus.COMPLETED
    if not done or closed is None or provisioning_closed is None or closed < provisioning_closed:
        return None
    return Release(run, finished_before=closed)


@dataclass(frozen=True)
class StartedProvisioning:
    """The run a start or redelivery answered with."""

    workflow_id: str
    run_id: str | None
    started: bool
    """False when an existing run answered (a redelivery); nothing new was started."""
    status: str
    """``RUNNING`` or how the existing run ended (``COMPLETED``, ``FAILED``, ``CANCELED``...)."""


async def start_provisioning(
    client: Client,
    request: ProvisionRequest,
    task_queue: str,
    *,
    retry: bool = False,
    callback_hosts: CallbackHosts | None = None,
) -> StartedProvisioning:
    """Start the ticket's saga, or answer with the one it already has.

    With ``retry`` an operator re-drives a ticket whose last run failed and was compensated;
    anything else is refused with the reason. With ``callback_hosts``, a callback URL outside
    the allow-list raises ``CallbackRefused`` before anything starts (without them, the
    worker's allow-list decides when the first callback is sent).
    """
    if callback_hosts is not None and request.callback_url is not None:
        callback_hosts.check_url(str(request.callback_url))
    workflow_id = workflow_id_for(request.ticket_id)
    if retry:
        await _check_retryable(client.get_workflow_handle(workflow_id))
    try:
        handle = await client.start_workflow(
            ProvisionNumbersWorkflow.run,
            request,
            id=workflow_id,
            task_queue=task_queue,
            # FAIL, not USE_EXISTING, so that a redelivery is told apart from a start
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE
            if retry
            else WorkflowIDReusePolicy.REJECT_DUPLICATE,
            # Listed by ticket and country from the start, before a worker runs it (the saga
            # upserts the same values, then its stage).
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(TICKET_ID, request.ticket_id),
                    SearchAttributePair(COUNTRY_CODE, request.country_code),
                ]
            ),
        )
    except WorkflowAlreadyStartedError as error:
        if retry:
            raise ProvisioningRefused(
                f"ticket {request.ticket_id} was re-driven by someone else meanwhile"
            ) from error
        existing = await client.get_workflow_handle(workflow_id).describe()
        return StartedProvisioning(
            workflow_id=workflow_id,
            run_id=existing.run_id,
            started=False,
            status=_status_name(existing.status),
        )
    return StartedProvisioning(
        workflow_id=workflow_id,
        run_id=handle.result_run_id,
        started=True,
        status=WorkflowExecutionStatus.RUNNING.name,
    )


async def _check_retryable(
    handle: WorkflowHandle[ProvisionNumbersWorkflow, ProvisionResult],
) -> None:
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            raise ProvisioningRefused(
                f"{handle.id} has never run; start it without --retry"
            ) from None
        raise
    status = description.status
    if status is not WorkflowExecutionStatus.FAILED:
        raise ProvisioningRefused(
            f"{handle.id} is {_status_name(status).lower()}; only a failed provisioning can be "
            "retried"
        )
    try:
        await handle.result(follow_runs=False)
    except WorkflowFailureError as failure:
        cause = failure.cause
        if isinstance(cause, ApplicationError) and cause.type == COMPENSATION_FAILED:
            raise ProvisioningRefused(
                f"{handle.id} failed with compensation left undone ({cause.message}); finish the "
                "cleanup first (numberflow release), then retry"
            ) from None


@dataclass(frozen=True)
class DecisionSent:
    """The status after a decision or intervention was sent; whether the saga applied it."""

    status: ProvisionStatus
    applied: bool
    """False when no worker applied it within ``DECISION_WAIT``: it is applied when one runs."""


async def decide(client: Client, ticket_id: str, decision: Decision) -> DecisionSent:
    """Approve or reject a saga awaiting approval; refused with the reason otherwise.

    Sent as the ``decide`` signal (see ``contracts.provision.Decision`` for why not the
    Updates) after the status passes the validators' rule, then watched until the saga has
    recorded it, or has ignored it because another decision won the race.
    """
    handle = _handle(client, ticket_id)
    await _refuse_if_ended(handle, ticket_id, decision.decision.verb)
    before = await read_status(client, ticket_id)
    refusal = decision_refusal(
        before.stage,
        None,
        before.approvers,
        decision.approver,
        rejecting=decision.decision is DecisionKind.REJECTED,
    )
    if refusal is not None:
        raise ProvisioningRefused(refusal)
    await handle.signal(DECIDE_SIGNAL, decision)

    def judge(status: ProvisionStatus) -> bool | str:
        ignored = status.ignored_decisions[len(before.ignored_decisions) :]
        ours = [i for i in ignored if f" by {decision.approver}: " in i]
        if ours:
            return ours[0].split(": ", 1)[1]
        return len(status.approvals) > len(before.approvals)

    return await _confirm(client, ticket_id, before, judge)


async def intervene(client: Client, ticket_id: str, intervention: Intervention) -> DecisionSent:
    """Retry, skip, abort or abandon a parked saga; refused with the reason otherwise.

    Checked against the status by the rule the workflow applies, sent as the ``intervene``
    signal (a history event: replay applies it where the first run did), then watched until
    the saga has taken it (it leaves that wait) or refused it.
    """
    handle = _handle(client, ticket_id)
    await _refuse_if_ended(handle, ticket_id, intervention.action.value)
    before = await read_status(client, ticket_id)
    refusal = intervention_refusal(before.attention, intervention)
    if refusal is not None:
        raise ProvisioningRefused(f"{refusal} (stage is {before.stage.value})")
    await handle.signal(INTERVENE_SIGNAL, intervention)
    ours = f"{intervention.action.value} by {intervention.by}: "

    def judge(status: ProvisionStatus) -> bool | str:
        refused = status.refused_interventions[len(before.refused_interventions) :]
        mine = [r for r in refused if r.startswith(ours)]
        if mine:
            return mine[0].removeprefix(ours)
        return status.attention != before.attention

    return await _confirm(client, ticket_id, before, judge)


async def _refuse_if_ended(
    handle: WorkflowHandle[ProvisionNumbersWorkflow, ProvisionResult], ticket_id: str, what: str
) -> None:
    """A closed run takes no decision: say how and when it ended."""
    description = await _describe(handle, ticket_id)
    if description.status is WorkflowExecutionStatus.RUNNING:
        return
    ended = await _ended_as(handle, description.status)
    when = f" at {description.close_time:%Y-%m-%d %H:%M:%S} UTC" if description.close_time else ""
    raise ProvisioningRefused(
        f"ticket {ticket_id}'s provisioning already ended {ended}{when}; nothing to {what}"
    )


async def _confirm(
    client: Client,
    ticket_id: str,
    before: ProvisionStatus,
    judge: Callable[[ProvisionStatus], bool | str],
) -> DecisionSent:
    """Watch the status after a signal: applied (True), refused (the reason), or not yet.

    A worker that does not answer, or Temporal going away after it took the signal, is "not
    applied yet": the signal is in the history and the saga acts on it when a worker runs. (A
    503 here would make the sender deliver again, and the saga would rightly refuse the copy.)
    """
    deadline = asyncio.get_running_loop().time() + DECISION_WAIT
    status = before
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
        try:
            status = await read_status(client, ticket_id)
        except NoWorkerAnswered:
            return DecisionSent(status=status, applied=False)
        except (RPCError, RPCTimeoutOrCancelledError) as error:
            if outage_reason(error) is None:
                raise
            return DecisionSent(status=status, applied=False)
        verdict = judge(status)
        if isinstance(verdict, str):
            raise ProvisioningRefused(verdict)
        if verdict:
            return DecisionSent(status=status, applied=True)
    return DecisionSent(status=status, applied=False)


async def cancel_provisioning(client: Client, ticket_id: str) -> ProvisionStatus:
    """Cancel a saga that has not reached its outcome; return its status as it was asked.

    Raises ``ProvisioningRefused`` when the run is closed or its outcome is already decided,
    and ``ProvisioningNotFound`` when the ticket has no provisioning.
    """
    handle = _handle(client, ticket_id)
    description = await _describe(handle, ticket_id)
    if description.status is not WorkflowExecutionStatus.RUNNING:
        raise _nothing_to_cancel(ticket_id, await _ended_as(handle, description.status))
    status = await read_status(client, ticket_id)
    if status.stage in _DECIDED:
        raise _nothing_to_cancel(ticket_id, status.stage.value)
    await handle.cancel()
    return status


def _nothing_to_cancel(ticket_id: str, ended: str) -> ProvisioningRefused:
    completed = (Stage.COMPLETED.value, Stage.COMPLETED_WITH_SKIPS.value)
    hint = "; to give its numbers back, release it" if ended in completed else ""
    return ProvisioningRefused(
        f"ticket {ticket_id}'s provisioning already ended {ended}; nothing to cancel{hint}"
    )


async def _ended_as(
    handle: WorkflowHandle[ProvisionNumbersWorkflow, ProvisionResult],
    status: WorkflowExecutionStatus | None,
) -> str:
    """How a closed run ended, in the saga's words where it returned a result."""
    if status is WorkflowExecutionStatus.COMPLETED:
        result = await handle.result(follow_runs=False)
        return result.outcome.value
    if status is WorkflowExecutionStatus.CANCELED:
        return Stage.CANCELLED.value
    return _status_name(status).lower().replace("_", " ")


def _status_name(status: WorkflowExecutionStatus | None) -> str:
    return status.name if status is not None else "UNKNOWN"


async def read_quota(client: Client, endpoint: str) -> QuotaView | None:
    """The tenant's budget as the resource's quota keeper knows it; ``None``: no keeper yet."""
    try:
        return await client.get_workflow_handle(quota_keeper_id(endpoint)).query(
            QuotaKeeperWorkflow.view
        )
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return None
        raise


async def grant_quota(
    client: Client, endpoint: str, task_queue: str, grant: QuotaGrant
) -> QuotaView:
    """Tell the resource's keeper the limits Microsoft raised (starting it if none runs yet)."""
    keeper = await client.start_workflow(
        QuotaKeeperWorkflow.run,
        QuotaKeeperInput(resource=endpoint),
        id=quota_keeper_id(endpoint),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return await keeper.execute_update(QuotaKeeperWorkflow.grant, grant)


async def deliver(client: Client, ticket_id: str, delivery: Delivery) -> DeliveryRecord | None:
    """Deliver numbers to a manual order; the saga's record of it, or ``None`` if not yet taken.

    Refused before anything is sent when the ticket is not a manual order or has ended. Sent
    as the ``deliver`` signal, then watched until the saga has recorded the delivery (which
    numbers it accepted, which it refused and why); a saga still awaiting approval takes it
    once approved (``None``: sent, not taken yet).
    """
    handle = _handle(client, ticket_id)
    await _refuse_if_ended(handle, ticket_id, "deliver")
    before = await read_status(client, ticket_id)
    if before.source is not NumberSource.MANUAL_ORDER:
        raise ProvisioningRefused(
            f"ticket {ticket_id} is not a manual order (source {before.source.value}); "
            "nothing is delivered to it"
        )
    await handle.signal(DELIVER_SIGNAL, delivery)

    def judge(status: ProvisionStatus) -> bool:
        return any(d.delivery_id == delivery.delivery_id for d in status.deliveries)

    sent = await _confirm(client, ticket_id, before, judge)
    return next((d for d in sent.status.deliveries if d.delivery_id == delivery.delivery_id), None)


@dataclass(frozen=True)
class ReleaseConfirmed:
    """What a service-desk confirmation reached: a parked saga or a parked release run."""

    where: str
    """``provisioning`` or ``release``."""
    applied: bool


async def confirm_released(
    client: Client, ticket_id: str, confirmation: ReleaseConfirmation
) -> ReleaseConfirmed:
    """Confirm that Microsoft's service desk released the numbers a ticket waits on.

    The ticket's saga parked in its compensation, or its release run, whichever waits; a
    ticket where nothing waits for the service desk is refused with what its runs are doing.
    """
    handle = _handle(client, ticket_id)
    description = await _describe(handle, ticket_id)
    if description.status is WorkflowExecutionStatus.RUNNING:
        status = await read_status(client, ticket_id)
        attention = status.attention
        if attention is not None and InterventionKind.CONFIRM_RELEASED in attention.actions:
            sent = await intervene(
                client,
                ticket_id,
                Intervention(
                    action=InterventionKind.CONFIRM_RELEASED,
                    by=confirmation.by,
                    reason=confirmation.note,
                ),
            )
            return ReleaseConfirmed("provisioning", sent.applied)
        raise ProvisioningRefused(
            f"ticket {ticket_id} does not wait for a service-desk release (stage is "
            f"{status.stage.value})"
        )
    try:
        run, release = await describe_release(client, ticket_id)
    except ProvisioningNotFound:
        raise ProvisioningRefused(
            f"ticket {ticket_id} has no release waiting for the service desk"
        ) from None
    if release.status is not WorkflowExecutionStatus.RUNNING:
        raise ProvisioningRefused(
            f"ticket {ticket_id}'s release already ended ({_status_name(release.status)}); "
            "nothing waits for the service desk"
        )
    waiting = await run.query(ReleaseNumbersWorkflow.status, rpc_timeout=STATUS_TIMEOUT)
    if waiting.stage != "awaiting_service_desk":
        raise ProvisioningRefused(
            f"ticket {ticket_id}'s release does not wait for the service desk (stage is "
            f"{waiting.stage})"
        )
    await run.signal(CONFIRM_RELEASED_SIGNAL, confirmation)
    return ReleaseConfirmed("release", applied=True)
