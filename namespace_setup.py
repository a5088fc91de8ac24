"""What a Temporal namespace needs before numberflow runs on it, checked or put in place.

Three things: the custom search attributes (``contracts.search_attributes``), the
reconciliation schedule, and a worker polling the task queue. ``numberflow setup`` makes the
first two so (idempotently) and reports the third; the worker and the ingress refuse to start
without the search attributes, because every saga upserts them and would fail its first task.

Temporal Cloud registers search attributes through its control plane, not the namespace's
operator service: there the command says what to run (``tcld``) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from contracts.ids import RECONCILE_WORKFLOW_TYPE
from contracts.operations import ReconcileRequest
from contracts.search_attributes import ALL_SEARCH_ATTRIBUTES

__all__ = [
    "RECONCILE_EVERY",
    "RECONCILE_SCHEDULE_ID",
    "SearchAttributesMissing",
    "Step",
    "StepResult",
    "ensure_reconcile_schedule",
    "ensure_search_attributes",
    "is_temporal_cloud",
    "missing_search_attributes",
    "register_search_attributes",
    "require_search_attributes",
    "tcld_command",
]

RECONCILE_SCHEDULE_ID = "numberflow-reconcile"
RECONCILE_EVERY = timedelta(days=1)
_KEYWORD = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
_CANNOT_LIST = frozenset({RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.PERMISSION_DENIED})


class Step(StrEnum):
    """What ``setup`` found or did for one item."""

    PRESENT = "present"
    CREATED = "created"
    UPDATED = "updated"
    MISSING = "missing"
    OUTDATED = "outdated"
    UNKNOWN = "unknown"
    """It could not be checked (e.g. the credentials may not list search attributes)."""
    POLLED = "polled"
    NOT_POLLED = "not polled"
    """No worker polls the task queue yet: reported, never a failure of ``setup``."""


@dataclass(frozen=True)
class StepResult:
    """One line of ``setup``'s report."""

    item: str
    step: Step
    detail: str = ""

    @property
    def ready(self) -> bool:
        """Whether this item lets numberflow run."""
        return self.step in (Step.PRESENT, Step.CREATED, Step.UPDATED, Step.POLLED)


class SearchAttributesMissing(Exception):
    """The namespace lacks search attributes numberflow writes; one line naming them."""


def is_temporal_cloud(target_host: str) -> bool:
    """Whether the address is a Temporal Cloud endpoint (``*.tmprl.cloud``)."""
    host = target_host.rsplit(":", 1)[0]
    return host.endswith(".tmprl.cloud")


def tcld_command(namespace: str, names: tuple[str, ...]) -> str:
    """The Temporal Cloud CLI command that registers ``names`` as Keyword search attributes."""
    attributes = " ".join(f'--search-attribute "{name}=Keyword"' for name in names)
    return f"tcld namespace search-attributes add --namespace {namespace} {attributes}"


async def missing_search_attributes(client: Client) -> tuple[str, ...] | None:
    """Numberflow's search attributes the namespace lacks (None: it cannot be told).

    An attribute registered with another type counts as missing: a Keyword query on it would
    not behave, and only an operator can remove it.
    """
    try:
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    except RPCError as error:
        if error.status in _CANNOT_LIST:
            return None
        raise
    known = dict(response.custom_attributes)
    return tuple(key.name for key in ALL_SEARCH_ATTRIBUTES if known.get(key.name) != _KEYWORD)


async def require_search_attributes(client: Client) -> None:
    """Raise ``SearchAttributesMissing`` unless the namespace has them (or cannot tell)."""
    missing = await missing_search_attributes(client)
    if missing:
        target = client.service_client.config.target_host
        how = (
            tcld_command(client.namespace, missing)
            if is_temporal_cloud(target)
            else "numberflow setup"
        )
        raise SearchAttributesMissing(
            f"namespace {client.namespace} lacks the search attributes {', '.join(missing)}"
            f" (Keyword); run: {how}"
        )


async def register_search_attributes(client: Client, names: tuple[str, ...] | None = None) -> None:
    """Register ``names`` (default: all of numberflow's) as Keyword search attributes."""
    wanted = names if names is not None else tuple(key.name for key in ALL_SEARCH_ATTRIBUTES)
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes=dict.fromkeys(wanted, _KEYWORD),
        )
    )


async def ensure_search_attributes(client: Client, *, apply: bool) -> list[StepResult]:
    """One result per search attribute; registers the missing ones when ``apply``."""
    missing = await missing_search_attributes(client)
    names = tuple(key.name for key in ALL_SEARCH_ATTRIBUTES)
    if missing is None:
        return [StepResult(n, Step.UNKNOWN, "these credentials may not list them") for n in names]
    target = client.service_client.config.target_host
    if missing and apply and not is_temporal_cloud(target):
        await register_search_attributes(client, missing)
        return [StepResult(n, Step.CREATED if n in missing else Step.PRESENT) for n in names]
    how = (
        f"run: {tcld_command(client.namespace, missing)}"
        if is_temporal_cloud(target)
        else "run: numberflow setup"
    )
    return [
        StepResult(n, Step.MISSING, how) if n in missing else StepResult(n, Step.PRESENT)
        for n in names
    ]


def _reconcile_schedule(task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RECONCILE_WORKFLOW_TYPE,
            ReconcileRequest(),
            id=f"{RECONCILE_SCHEDULE_ID}-run",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        state=ScheduleState(note="numberflow: compare ACS with the ledger (report only)"),
    )


async def ensure_reconcile_schedule(
    client: Client,
    task_queue: str,
    *,
    every: timedelta = RECONCILE_EVERY,
    apply: bool = True,
    update: bool = True,
) -> StepResult:
    """The reconciliation schedule: created when missing, updated when it differs.

    It only reports (``release_orphans`` off); releasing is an operator's explicit decision.
    ``update=False`` (the worker at start) leaves an existing schedule alone: which task queue
    it targets is ``setup``'s decision, not the first worker's to come up.
    """
    handle = client.get_schedule_handle(RECONCILE_SCHEDULE_ID)
    wanted = _reconcile_schedule(task_queue, every)
    try:
        current = (await handle.describe()).schedule
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
        if not apply:
            return StepResult(RECONCILE_SCHEDULE_ID, Step.MISSING, "run: numberflow setup")
        try:
            await client.create_schedule(RECONCILE_SCHEDULE_ID, wanted)
        except ScheduleAlreadyRunningError:  # another process made it meanwhile
            return StepResult(RECONCILE_SCHEDULE_ID, Step.PRESENT)
        return StepResult(RECONCILE_SCHEDULE_ID, Step.CREATED, _schedule_detail(task_queue, every))
    action = current.action
    same = (
        isinstance(action, ScheduleActionStartWorkflow)
        and action.workflow == RECONCILE_WORKFLOW_TYPE
        and action.task_queue == task_queue
        and [i.every for i in current.spec.intervals] == [every]
    )
    if same or not update:
        return StepResult(RECONCILE_SCHEDULE_ID, Step.PRESENT)
    if not apply:
        return StepResult(RECONCILE_SCHEDULE_ID, Step.OUTDATED, "run: numberflow setup")

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await handle.update(replace)
    return StepResult(RECONCILE_SCHEDULE_ID, Step.UPDATED, _schedule_detail(task_queue, every))


def _schedule_detail(task_queue: str, every: timedelta) -> str:
    hours = every.total_seconds() / 3600
    return f"every {hours:g} h on task queue {task_queue}"
