"""Chaos for the saga: many tickets, worker SIGKILLs, Temporal restarts, seeded ACS faults.

One run, all seeded: the ticket mix, the fault rules and the moments of each kill and restart.
Tickets are driven the way people and ticket systems drive them (approve, reject, cancel at
any moment, cancel after completion, redeliver ``created``, ask for another ticket's route
name), half of them as signed webhooks through the real ingress (``ticket_system``). Once
every saga has closed, the emulator's state is the truth the invariants are checked against,
the ingress must not have answered 500, and ``numberflow reconcile`` must find nothing. A hold
left active is named with its saga's history. The report is JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError

from codec import data_converter
from connection import payload_keys_from_environment
from contracts.error_types import ACS_QUOTA_EXCEEDED
from contracts.ids import workflow_id_for
from contracts.provision import (
    Decision,
    DecisionKind,
    Delivery,
    ProvisionRequest,
    ProvisionResult,
    ProvisionStatus,
    Stage,
)
from contracts.quota import QuotaGrant
from contracts.sip import exact_number_pattern
from emulator import EmulatorConfig, EmulatorServer, TenantLimits
from provisioning import grant_quota, read_quota
from tests.limits import limit_violations
from workflows import ProvisionNumbersWorkflow

from .processes import ROOT, DevServer, WorkerProcess
from .ticket_system import DirectTicketSystem, TicketSystem, retrying, serve_ingress

__all__ = ["ChaosPlan", "ChaosReport", "run_chaos"]

BEHAVIOURS = (
    "auto",
    "auto",
    "auto",
    "approve",
    "approve",
    "reject",
    "cancel_reserving",
    "cancel_waiting",
    "cancel_purchasing",
    "cancel_after_completion",
    "redeliver",
    "search",
    "no_route",
    "take_route",
    "ported",
    "ported_cancel",
    "ordered",
    "ordered_cancel",
)
"""How a ticket is driven; ``auto`` (auto-approved) and manual approval are the common cases.
``ported`` tickets claim numbers already in the resource; ``ordered`` ones are manual orders,
delivered in two parts (one number of the first not in the resource)."""

ONBOARDED = frozenset({"ported", "ported_cancel", "ordered", "ordered_cancel"})
"""Behaviours whose numbers come from outside: numberflow must never release them."""
ONBOARDED_BEFORE = {"calling": "outbound", "sms": "inbound+outbound"}
"""What numbers from outside can do when they arrive; their tickets configure otherwise."""
ONBOARDED_AFTER = {"calling": "inbound", "sms": "none"}

COUNTRIES = (("US", "tollFree"), ("US", "geographic"), ("CA", "geographic"), ("GB", "geographic"))
AUTO = {"mode": "auto_under_cost", "auto_approve_below": "1000"}
STAGGER = 0.15
"""Seconds between two tickets' arrivals."""


@dataclass(frozen=True)
class ChaosPlan:
    """What one run does."""

    seed: int
    sagas: int
    kills: int
    restarts: tuple[str, ...] = ("term",)
    """Temporal dev-server restarts, in order: ``term`` (SIGTERM) or ``kill`` (SIGKILL)."""
    workers: int = 2
    fault_scale: float = 1.0
    """Multiplies every fault rule's probability (0 = no faults)."""
    deadline: float = 170.0
    """Seconds from the first ticket until every saga must have closed."""
    lro_seconds: float = 0.5
    limits: tuple[int, int] | None = None
    """The tenant's searches and purchases per week, in the emulator and the workers' settings;
    raised (Microsoft granted a support request) part way through the run."""
    grant_after: float = 0.25
    """How long after a tenth of the sagas wait for budget the limits are raised, as a share
    of the time tickets keep arriving and being worked on."""


_GRANTED_PER_SAGA = 4
"""The raised limits: this many searches and purchases per saga of the run (plenty)."""


@dataclass
class ChaosReport:
    """What happened and what was wrong."""

    seed: int
    sagas: int
    kills: int = 0
    restarts: list[str] = field(default_factory=list)
    faults_fired: int = 0
    faults_by_rule: dict[str, int] = field(default_factory=dict)
    behaviours: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    """Why the failed sagas failed (the error type), e.g. a capability LRO made to fail."""
    ingress_answers: dict[str, int] = field(default_factory=dict)
    """HTTP status -> how many times the ingress answered it (webhooks of half the tickets)."""
    violations: list[str] = field(default_factory=list)
    reconcile: dict[str, Any] = field(default_factory=dict)
    onboarded: dict[str, int] = field(default_factory=dict)
    """Numbers from outside by how their ticket ended with them: completed with them, given
    back after its capabilities were changed (restored), given back before, never claimed."""
    quota: dict[str, Any] = field(default_factory=dict)
    """With limits: each kind's use and refusals in the emulator, the sagas that waited in
    the queue, and when the grant came."""
    seconds: float = 0.0

    def write(self, path: Path) -> None:
        """Save as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")


@dataclass
class Ticket:
    """One ticket of the run: how it is driven and how its saga ended."""

    request: ProvisionRequest
    behaviour: str
    outside: tuple[str, ...] = ()
    """Numbers from outside (ported, or delivered to the manual order): never released."""
    status: str = "RUNNING"
    result: ProvisionResult | None = None
    failure: str | None = None
    final: ProvisionStatus | None = None


WorkerFactory = Callable[[Client, str, str], contextlib.AbstractAsyncContextManager[Any]]
"""Starts an in-process worker (client, task queue, ACS connection string) instead of processes."""


HistorySink = Callable[[str, str], None]
"""Receives (workflow id, history JSON) of every run on the chaos server (the leak scan)."""


async def run_chaos(
    plan: ChaosPlan,
    folder: Path,
    *,
    in_process_worker: WorkerFactory | None = None,
    history_sink: HistorySink | None = None,
) -> ChaosReport:
    """Run the plan; every process is stopped on the way out, whatever happens."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(plan.seed)
    report = ChaosReport(seed=plan.seed, sagas=plan.sagas)
    task_queue = f"chaos-{plan.seed}-{uuid.uuid4().hex[:6]}"
    config = EmulatorConfig(
        seed=plan.seed,
        lro_seconds=plan.lro_seconds,
        numbers_per_area_code=60,
        limits=TenantLimits(*plan.limits) if plan.limits else TenantLimits(),
    )
    server = DevServer(folder)
    started = time.monotonic()
    with EmulatorServer(config) as emulator, contextlib.ExitStack() as closing:
        closing.callback(server.close)
        server.start()
        _add_faults(emulator, rng, plan.fault_scale)
        client = await server.connect(data_converter(payload_keys_from_environment()))
        env = {
            "TEMPORAL_ADDRESS": server.address,
            "ACS_CONNECTION_STRING": emulator.connection_string,
            "NUMBERFLOW_TASK_QUEUE": task_queue,
            "NUMBERFLOW_LOG_LEVEL": "WARNING",
            "NUMBERFLOW_LOG_JSON": "true",
            **_quota_settings(plan),
        }
        workers = [WorkerProcess(f"worker-{i}", folder, env) for i in range(plan.workers)]
        for worker in workers:
            closing.callback(worker.close)
        async with contextlib.AsyncExitStack() as running:
            if in_process_worker is not None:
                await running.enter_async_context(
                    in_process_worker(client, task_queue, emulator.connection_string)
                )
            else:
                for worker in workers:
                    worker.start()
            tickets = _tickets(plan, rng)
            report.behaviours = dict(Counter(t.behaviour for t in tickets))
            all_fired = asyncio.Event()
            chaos = asyncio.create_task(
                _chaos(
                    plan,
                    rng,
                    server,
                    workers if in_process_worker is None else [],
                    report,
                    all_fired,
                )
            )
            if plan.limits:
                grant = asyncio.create_task(_grant_midway(plan, client, emulator, task_queue))
                running.callback(grant.cancel)
            webhooks = await running.enter_async_context(serve_ingress(client, task_queue))
            direct = DirectTicketSystem(client, task_queue)
            desks: tuple[TicketSystem, TicketSystem] = (webhooks, direct)
            onboard = _onboarder(emulator)
            drives = [
                asyncio.create_task(
                    _drive(client, desks[i % 2], t, i * STAGGER, rng.random(), onboard)
                )
                for i, t in enumerate(tickets)
            ]
            done, pending = await asyncio.wait(drives, timeout=plan.deadline)
            for task in pending:
                task.cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_fired.wait(), timeout=60)
            await _stop(chaos)
            if report.kills < plan.kills or len(report.restarts) < len(plan.restarts):
                report.violations.append(
                    f"the chaos did not all happen: {report.kills} kills, {report.restarts}"
                )
            for task in done:
                if task.exception() is not None:
                    report.violations.append(f"driver crashed: {task.exception()!r}")
            for ticket in tickets:
                await _settle(client, ticket)
            report.ingress_answers = {str(c): n for c, n in sorted(webhooks.answers.items())}
            report.violations += [f"ingress answered 500: {e}" for e in webhooks.internal_errors]
            report.outcomes = dict(Counter(_outcome(t) for t in tickets))
            report.failures = dict(Counter(t.failure for t in tickets if t.failure))
            state = emulator.app.emulator.state()
            report.violations += _check(tickets, state)
            report.onboarded = _onboarded_report(tickets, state)
            if plan.limits:
                report.quota = _quota_report(tickets, state)
                report.violations += _quota_violations(tickets, state)
            report.violations += await _hold_trails(client, _left_holds(state), folder)
            report.reconcile = await asyncio.to_thread(_reconcile, server.address, task_queue)
            report.violations += _reconcile_violations(report.reconcile, tickets)
            if history_sink is not None:
                async for run in client.list_workflows():
                    history = await client.get_workflow_handle(
                        run.id, run_id=run.run_id
                    ).fetch_history()
                    history_sink(run.id, history.to_json())
        fired = emulator.app.emulator.state()["faults"]
        report.faults_by_rule = {_rule_name(rule): rule["fired"] for rule in fired}
        report.faults_fired = sum(report.faults_by_rule.values())
    report.seconds = round(time.monotonic() - started, 1)
    return report


# -- the tickets ---------------------------------------------------------------------------------


def _tickets(plan: ChaosPlan, rng: random.Random) -> list[Ticket]:
    tickets: list[Ticket] = []
    for index in range(plan.sagas):
        behaviour = (
            BEHAVIOURS[index % len(BEHAVIOURS)]
            if index < len(BEHAVIOURS)
            else rng.choice(BEHAVIOURS)
        )
        country, kind = rng.choice(COUNTRIES)
        ticket_id = f"C{plan.seed}-{index:03d}"
        if behaviour in ONBOARDED:
            tickets.append(_onboarded_ticket(ticket_id, behaviour, rng, tickets))
            continue
        trunks = {"trunks": [{"fqdn": "sbc1.example.com", "port": 5061}]}
        routing: dict[str, Any] | None = None if behaviour == "no_route" else trunks
        victim = next((t for t in tickets if t.request.routing is not None), None)
        if behaviour == "take_route" and victim is not None:
            routing = {**trunks, "route_name": victim.request.route_name}
        request = ProvisionRequest.model_validate(
            {
                "ticket_id": ticket_id,
                "country_code": country,
                "phone_number_type": kind,
                "assignment_type": "application",
                "capabilities": {
                    "calling": "inbound+outbound",
                    "sms": "inbound+outbound" if kind == "tollFree" else "none",
                },
                "quantity": rng.choice((1, 1, 2, 3)),
                "hold_strategy": "search" if behaviour == "search" else "reservation",
                "approval": AUTO if behaviour in _AUTO_APPROVED else {"mode": "required"},
                "final_capabilities": {"calling": "inbound", "sms": "none"}
                if rng.random() < 0.5
                else None,
                "routing": routing,
                # The chaos invariants are about the automatic saga: a failed step compensates
                # (operator interventions have their own tests).
                "on_step_failure": "compensate",
            }
        )
        tickets.append(Ticket(request=request, behaviour=behaviour))
    return tickets


def _onboarded_ticket(
    ticket_id: str, behaviour: str, rng: random.Random, earlier: list[Ticket]
) -> Ticket:
    """A ticket whose numbers come from outside: US toll-free numbers no stock holds."""
    quantity = rng.choice((1, 2, 3))
    taken = {n for t in earlier for n in t.outside}
    numbers: list[str] = []
    while len(numbers) < quantity:
        number = f"+1877{rng.randrange(10**7):07d}"
        if number not in taken and number not in numbers:
            numbers.append(number)
    ported = behaviour.startswith("ported")
    request = ProvisionRequest.model_validate(
        {
            "ticket_id": ticket_id,
            "source": "existing" if ported else "manual_order",
            "numbers": numbers if ported else (),
            "country_code": "US",
            "phone_number_type": "tollFree",
            "assignment_type": "application",
            "capabilities": ONBOARDED_BEFORE,
            "quantity": quantity,
            "approval": AUTO if ported else {"mode": "required"},
            "final_capabilities": ONBOARDED_AFTER,
            "routing": {"trunks": [{"fqdn": "sbc1.example.com", "port": 5061}]},
            "on_step_failure": "compensate",
        }
    )
    return Ticket(request=request, behaviour=behaviour, outside=tuple(numbers))


_AUTO_APPROVED = {
    "auto",
    "cancel_after_completion",
    "redeliver",
    "search",
    "no_route",
    "take_route",
}


Onboard = Callable[[tuple[str, ...]], Awaitable[None]]
"""Puts numbers into the emulated resource, as a port or a special order would."""


async def _drive(
    client: Client,
    desk: TicketSystem,
    ticket: Ticket,
    delay: float,
    luck: float,
    onboard: Onboard,
) -> None:
    """Play the ticket system and the approver for one ticket, through any outage."""
    await asyncio.sleep(delay)
    request = ticket.request
    if ticket.behaviour.startswith("ported"):
        await onboard(ticket.outside)  # the port completed before the ticket was filed
    await desk.create(request)
    handle = client.get_workflow_handle(workflow_id_for(request.ticket_id))
    behaviour = ticket.behaviour
    if behaviour == "ported_cancel":  # while claiming, configuring, routing, or once completed
        await asyncio.sleep(luck * 2.5)
        await desk.cancel(request.ticket_id)
    if behaviour.startswith("ordered"):
        await _deliver_order(handle, desk, ticket, onboard)
    if behaviour == "redeliver":
        await asyncio.sleep(luck)
        assert not await desk.create(request), "a redelivered created started a second run"
    if behaviour == "cancel_reserving":  # while its hold is being taken, writes on the wire
        await asyncio.sleep(luck * 0.5)
        await desk.cancel(request.ticket_id)
    if behaviour in ("approve", "reject", "cancel_waiting", "cancel_purchasing"):
        await _until_stage(handle, {Stage.AWAITING_APPROVAL})
        if behaviour == "cancel_waiting":
            await desk.cancel(request.ticket_id)
        elif behaviour == "reject":
            rejection = Decision(decision=DecisionKind.REJECTED, approver="chaos", note="no")
            await desk.decide(request.ticket_id, rejection)
        else:
            approval = Decision(decision=DecisionKind.APPROVED, approver="chaos")
            await desk.decide(request.ticket_id, approval)
            if behaviour == "cancel_purchasing":
                await asyncio.sleep(luck * 0.5)
                await desk.cancel(request.ticket_id)
    if behaviour == "cancel_after_completion":
        await _until_stage(handle, {Stage.COMPLETED, Stage.COMPENSATED})
        await desk.cancel(request.ticket_id)
        await desk.create(request)
    await _until_closed(handle)


_NOT_IN_THE_RESOURCE = "+18770000000"
"""A number a delivery names by mistake: refused, recorded, nothing else changes."""


async def _deliver_order(handle: Any, desk: TicketSystem, ticket: Ticket, onboard: Onboard) -> None:
    """Approve the manual order, then deliver it in two parts (the first with a bad number);
    ``ordered_cancel`` withdraws the ticket after the first part."""
    ticket_id = ticket.request.ticket_id
    await _until_stage(handle, {Stage.AWAITING_APPROVAL})
    await desk.decide(ticket_id, Decision(decision=DecisionKind.APPROVED, approver="chaos"))
    await _until_stage(handle, {Stage.AWAITING_NUMBERS})
    await onboard(ticket.outside)  # Microsoft delivered them
    first, rest = ticket.outside[:1], ticket.outside[1:]
    parts = [(*first, _NOT_IN_THE_RESOURCE), rest] if rest else [(*first, _NOT_IN_THE_RESOURCE)]
    for index, numbers in enumerate(parts):
        delivery = Delivery(numbers=numbers, by="chaos", delivery_id=f"{ticket_id}-{index}")
        await desk.deliver(ticket_id, delivery)
        if ticket.behaviour == "ordered_cancel":
            await desk.cancel(ticket_id)
            return


async def _status(handle: Any) -> ProvisionStatus | None:
    # a query fails while Temporal restarts, or when the workflow task cannot run at all
    with contextlib.suppress(RPCError, WorkflowQueryFailedError):
        status: ProvisionStatus = await handle.query(ProvisionNumbersWorkflow.status)
        return status
    return None


async def _until_stage(handle: Any, stages: set[Stage]) -> None:
    while True:
        status = await _status(handle)
        if status is not None and status.stage in stages:
            return
        if await _is_closed(handle):
            return
        await asyncio.sleep(0.2)


async def _until_closed(handle: Any) -> None:
    while not await _is_closed(handle):
        await asyncio.sleep(0.3)


async def _is_closed(handle: Any) -> bool:
    try:
        description = await handle.describe()
    except RPCError:
        return False
    return bool(description.status is not WorkflowExecutionStatus.RUNNING)


# -- the chaos ----------------------------------------------------------------------------------


def _add_faults(emulator: EmulatorServer, rng: random.Random, scale: float) -> None:
    if scale <= 0:
        return
    faults = emulator.app.emulator.faults  # seeded with the plan's seed (EmulatorConfig)
    rules: list[dict[str, Any]] = [
        {
            "probability": 0.03,
            "action": {"type": "status", "status": 503, "code": "ServiceUnavailable"},
        },
        {
            "probability": 0.02,
            "action": {"type": "status", "status": 429, "code": "TooManyRequests", "retryAfter": 1},
        },
        {"probability": 0.04, "action": {"type": "latency", "seconds": 0.5}},
        {  # a slow reservation change: the window a cancel can race (cancel_reserving)
            "method": "PATCH",
            "path": "/reservations/",
            "probability": 0.1,
            "action": {"type": "latency", "seconds": 1.0},
        },
        {"probability": 0.02, "action": {"type": "drop", "when": "before"}},
        {
            "operation": "PhoneNumbers_PurchaseReservation",
            "probability": 0.3,
            "action": {"type": "drop", "when": "after"},
        },
        {
            "operation": "PhoneNumbers_PurchasePhoneNumbers",
            "probability": 0.3,
            "action": {"type": "drop", "when": "after"},
        },
        {
            "operation": "SipRouting_Update",
            "probability": 0.1,
            "action": {"type": "drop", "when": "after"},
        },
        {
            "operationKind": "reservationPurchase",
            "probability": 0.2,
            "action": {"type": "lroBackwards"},
        },
        {
            "operationKind": "capabilities",
            "probability": 0.03,
            "action": {"type": "lroFail", "code": "InternalError"},
        },
    ]
    for rule in rules:
        rule["probability"] = min(1.0, rule["probability"] * scale)
        faults.add(rule)


def _onboarder(emulator: EmulatorServer) -> Onboard:
    """Onboard numbers through the emulator's admin API (what Microsoft's port would do)."""

    async def onboard(numbers: tuple[str, ...]) -> None:
        async with httpx.AsyncClient(base_url=f"{emulator.endpoint}/_emulator") as admin:
            for number in numbers:
                answer = await admin.post(
                    "/numbers/onboard",
                    json={
                        "phoneNumber": number,
                        "countryCode": "US",
                        "phoneNumberType": "tollFree",
                        "assignmentType": "application",
                        "capabilities": ONBOARDED_BEFORE,
                        "via": "port",
                    },
                )
                assert answer.status_code == 201, answer.text

    return onboard


def _rule_name(rule: dict[str, Any]) -> str:
    target = rule.get("operation") or rule.get("operationKind") or "any"
    return f"{rule['id']}:{rule['action']['type']}:{target}"


async def _chaos(
    plan: ChaosPlan,
    rng: random.Random,
    server: DevServer,
    workers: list[WorkerProcess],
    report: ChaosReport,
    all_fired: asyncio.Event,
) -> None:
    """Kill workers and restart Temporal at seeded moments; restart what died (a supervisor)."""
    busy = plan.sagas * STAGGER + 20  # while tickets are still arriving and being worked on
    events: list[tuple[float, str, str]] = []
    if workers:
        events += [(rng.uniform(2, busy), "kill", "") for _ in range(plan.kills)]
    events += [(rng.uniform(5, busy - 5), "restart", how) for how in plan.restarts]
    events.sort()
    started = time.monotonic()
    pending = list(events)
    while True:
        now = time.monotonic() - started
        while pending and pending[0][0] <= now:
            _, what, how = pending.pop(0)
            if what == "kill":
                alive = [w for w in workers if w.alive] or workers
                rng.choice(alive).kill()
                report.kills += 1
            else:
                server.stop(signal.SIGTERM if how == "term" else signal.SIGKILL)
                await asyncio.sleep(rng.uniform(1, 3))
                await asyncio.to_thread(server.start)
                report.restarts.append(how)
        if not pending:
            all_fired.set()
        for worker in workers:  # a supervisor (Kubernetes, systemd) restarts a dead worker
            if not worker.alive:
                await asyncio.sleep(0.5)
                worker.start()
        await asyncio.sleep(0.2)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _quota_settings(plan: ChaosPlan) -> dict[str, str]:
    """The workers' limits: the emulator's, as an operator who read the tenant's would set."""
    if plan.limits is None:
        return {}
    searches, purchases = plan.limits
    return {
        "NUMBERFLOW_QUOTA_SEARCHES": str(searches),
        "NUMBERFLOW_QUOTA_PURCHASES": str(purchases),
    }


async def _grant_midway(
    plan: ChaosPlan, client: Client, emulator: EmulatorServer, task_queue: str
) -> None:
    """Microsoft raises the limits once the budget has bitten; an operator tells numberflow.

    The grant comes ``plan.grant_after`` of the busy time after a tenth of the sagas wait in
    the keeper's queue, or when the busy time ends (kills and restarts slow some runs down).
    """
    busy = plan.sagas * STAGGER + 20
    started = time.monotonic()
    while time.monotonic() - started < busy:
        with contextlib.suppress(RPCError):  # Temporal may be restarting
            view = await read_quota(client, emulator.endpoint)
            if view is not None and sum(len(line.queue) for line in view.lines) >= max(
                3, plan.sagas // 10
            ):
                await asyncio.sleep(busy * plan.grant_after)
                break
        await asyncio.sleep(0.5)
    raised = plan.sagas * _GRANTED_PER_SAGA
    limits = emulator.app.emulator.numbers.limits
    limits.grant({"searches": raised, "purchases": raised}, emulator.app.emulator.clock.now())
    grant = QuotaGrant(searches=raised, purchases=raised, by="chaos")
    await retrying(lambda: grant_quota(client, emulator.endpoint, task_queue, grant), 120)


# -- the verdict ----------------------------------------------------------------------------------


async def _settle(client: Client, ticket: Ticket) -> None:
    """Read how the ticket's saga ended (its latest run)."""
    handle = client.get_workflow_handle(
        workflow_id_for(ticket.request.ticket_id), result_type=ProvisionResult
    )
    try:
        description = await retrying(handle.describe)
    except RPCError as error:
        ticket.status = f"UNKNOWN ({error.message})"
        return
    ticket.status = description.status.name if description.status else "UNKNOWN"
    ticket.final = await _status(handle)
    if description.status is WorkflowExecutionStatus.COMPLETED:
        ticket.result = await handle.result()
    elif description.status is WorkflowExecutionStatus.FAILED:
        try:
            await handle.result()
        except WorkflowFailureError as failure:
            message = str(getattr(failure.cause, "message", failure.cause))
            ticket.failure = ": ".join(message.split(": ")[:2])  # the error types, not the details


def _outcome(ticket: Ticket) -> str:
    if ticket.result is not None:
        return ticket.result.outcome.value
    if ticket.final is not None and ticket.final.stage is Stage.COMPENSATION_FAILED:
        return "compensation_failed"
    return ticket.status.lower()


def _check(tickets: list[Ticket], state: dict[str, Any]) -> list[str]:
    """The invariants, against the emulator's truth."""
    violations: list[str] = []
    numbers = state["phoneNumbers"]
    owned = {p["phoneNumber"]: p for p in numbers["purchasedNumbers"]}
    for ticket in tickets:
        if ticket.status == "RUNNING" or ticket.status.startswith("UNKNOWN"):
            violations.append(f"{ticket.request.ticket_id}: not terminal ({ticket.status})")
        if _outcome(ticket) == "compensation_failed":
            violations.append(f"{ticket.request.ticket_id}: compensation failed")
    completed = [t for t in tickets if t.result is not None and t.result.outcome is Stage.COMPLETED]
    holders: dict[str, list[str]] = {}
    for ticket in completed:
        assert ticket.result is not None
        for number in ticket.result.numbers:
            holders.setdefault(number, []).append(ticket.request.ticket_id)
    for number, who in holders.items():
        if len(who) > 1:
            violations.append(f"{number} belongs to several completed tickets: {who}")
    outside = _onboarded(state)
    for number in owned:
        if number not in holders and number not in outside:
            violations.append(f"{number} is owned but belongs to no completed ticket (orphan)")
    for ticket in completed:
        violations += _check_completed(ticket, owned)
    bought = Counter((p["phoneNumber"], p["hold"]) for p in numbers["purchaseLog"])
    violations += [f"{n} bought {c} times by hold {h}" for (n, h), c in bought.items() if c > 1]
    buying_holds = {p["hold"] for p in numbers["purchaseLog"]}
    violations += [
        f"hold {hold} was POSTed for purchase {count} times"
        for hold, count in numbers["purchasePosts"].items()
        if hold in buying_holds and count > 1
    ]
    violations += [
        f"reservation {r['id']} is still {r['status']}"
        for r in numbers["reservations"]
        if r["status"] in ("active", "submitted")
    ]
    violations += _check_routes(completed, state["sip"]["routes"])
    violations += _onboarded_violations(tickets, state)
    return violations


def _onboarded(state: dict[str, Any]) -> set[str]:
    """Numbers that came into the resource by port or special order (bought by no saga)."""
    log = state["phoneNumbers"]["purchaseLog"]
    return {p["phoneNumber"] for p in log if p["hold"] in ("port", "specialOrder")}


def _onboarded_report(tickets: list[Ticket], state: dict[str, Any]) -> dict[str, int]:
    outside = _onboarded(state)
    ends: Counter[str] = Counter()
    for ticket in tickets:
        final = ticket.final
        kept = ticket.result.numbers if ticket.result is not None else ()
        configured = final is not None and any(e.stage is Stage.CONFIGURING for e in final.timeline)
        for number in ticket.outside:
            if number not in outside:
                ends["never_delivered"] += 1
            elif number in kept:
                ends["completed"] += 1
            elif final is None or number not in final.numbers:
                ends["never_claimed"] += 1
            else:
                ends["restored" if configured else "given_back"] += 1
    return dict(ends)


def _onboarded_violations(tickets: list[Ticket], state: dict[str, Any]) -> list[str]:
    """No number from outside was ever released (no operator asked to in this run); each has
    its ticket's capabilities if the ticket completed with it, else the ones it came with."""
    outside = _onboarded(state)
    released = set(state["phoneNumbers"]["releaseLog"])
    violations = [f"{n} came from outside and was released" for n in sorted(outside & released)]
    owned = {p["phoneNumber"]: p for p in state["phoneNumbers"]["purchasedNumbers"]}
    for ticket in tickets:
        kept = ticket.result.numbers if ticket.result is not None else ()
        for number in ticket.outside:
            if number not in outside or number not in owned:
                continue  # never delivered (the order was cancelled first), or reported above
            have = owned[number]["capabilities"]
            wanted = ONBOARDED_AFTER if number in kept else ONBOARDED_BEFORE
            if {"calling": have["calling"], "sms": have["sms"]} != wanted:
                violations.append(
                    f"{ticket.request.ticket_id} ({_outcome(ticket)}): {number} has "
                    f"capabilities {have}, not {wanted}"
                )
    return violations


_HOLD_STEPS = frozenset(
    {"acquire_reservation", "release_hold", "begin_purchase", "settle_purchase"}
)
"""The activities whose input names a hold."""
_SAGA_EVENTS = (
    "WORKFLOW_EXECUTION_CANCEL_REQUESTED",
    "WORKFLOW_EXECUTION_SIGNALED",
    "WORKFLOW_EXECUTION_COMPLETED",
    "WORKFLOW_EXECUTION_FAILED",
    "WORKFLOW_EXECUTION_CANCELED",
)
"""What a saga was told and how it ended, shown around its hold's steps."""


def _quota_report(tickets: list[Ticket], state: dict[str, Any]) -> dict[str, Any]:
    limits = state["limits"]
    waited = [t for t in tickets if _waited_for_quota(t)]
    grants = [e["at"] for e in limits["journal"] if "grant" in e]
    return {
        kind: {"used": limits[kind]["used"], "refused": limits[kind]["refused"]}
        for kind in ("searches", "purchases")
    } | {"sagas_that_waited": len(waited), "granted_at": grants}


def _waited_for_quota(ticket: Ticket) -> bool:
    final = ticket.final
    return final is not None and any(e.stage is Stage.AWAITING_QUOTA for e in final.timeline)


def _quota_violations(tickets: list[Ticket], state: dict[str, Any]) -> list[str]:
    """No saga failed or expired for a limit; the emulator's journal shows good manners; the
    sagas the budget held back were shown waiting."""
    violations = limit_violations(state["limits"]["journal"])
    if not any(_waited_for_quota(t) for t in tickets):
        # with fewer searches than sagas, some must have waited, and been told so
        violations.append("no saga was shown waiting for budget: the queue was not exercised")
    for ticket in tickets:
        if ticket.failure and ACS_QUOTA_EXCEEDED in ticket.failure:
            violations.append(f"{ticket.request.ticket_id} failed for a limit: {ticket.failure}")
        if ticket.result is not None and ticket.result.outcome is Stage.EXPIRED:
            violations.append(f"{ticket.request.ticket_id} expired: {ticket.result.note}")
    return violations


def _left_holds(state: dict[str, Any]) -> set[str]:
    return {
        r["id"]
        for r in state["phoneNumbers"]["reservations"]
        if r["status"] in ("active", "submitted")
    }


async def _hold_trails(client: Client, holds: set[str], folder: Path) -> list[str]:
    """Name the saga of each hold left behind, with what its history did with that hold.

    A leaked hold is a timing window, and the same seed rarely repeats it: the violation
    carries the ticket and the trail of the hold's steps, and the history is saved beside the
    report (``hold-<id>-<workflow>.json``) to replay or read.
    """
    if not holds:
        return []
    found: dict[str, list[str]] = {}
    async for run in client.list_workflows():
        history = await client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
        steps: dict[int, str] = {}
        trail: list[str] = []
        mine: set[str] = set()
        for event in history.events:
            kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
            attributes: Any = getattr(event, event.WhichOneof("attributes") or "", None)
            if kind == "ACTIVITY_TASK_SCHEDULED":
                name = attributes.activity_type.name
                if name not in _HOLD_STEPS:
                    continue
                text = json.dumps(
                    await client.data_converter.decode(attributes.input.payloads), default=str
                )
                named = {hold for hold in holds if hold in text}
                if named:
                    mine |= named
                    steps[event.event_id] = name
                    trail.append(f"#{event.event_id} {name} scheduled")
            elif getattr(attributes, "scheduled_event_id", None) in steps:
                trail.append(f"#{event.event_id} {steps[attributes.scheduled_event_id]} {kind}")
            elif kind in _SAGA_EVENTS:
                trail.append(f"#{event.event_id} {kind}")
        for hold in mine:
            (folder / f"hold-{hold}-{run.id}.json").write_text(history.to_json())
            found.setdefault(hold, []).append(f"{run.id} (run {run.run_id}): {'; '.join(trail)}")
    return [
        f"hold {hold} left active belongs to "
        + (" and ".join(found[hold]) if hold in found else "no saga's history")
        for hold in sorted(holds)
    ]


def _check_completed(ticket: Ticket, owned: dict[str, dict[str, Any]]) -> list[str]:
    assert ticket.result is not None
    request = ticket.request
    problems: list[str] = []
    got = ticket.result.numbers
    missing = [n for n in got if n not in owned]
    if missing:
        problems.append(f"{request.ticket_id}: completed but does not own {missing}")
    if len(got) != request.wanted:
        problems.append(
            f"{request.ticket_id}: owns {len(got)} numbers for quantity {request.wanted}"
        )
    wanted = request.final_capabilities or request.capabilities
    for number in got:
        if number in owned:
            have = owned[number]["capabilities"]
            if (have["calling"], have["sms"]) != (wanted.calling.value, wanted.sms.value):
                problems.append(f"{request.ticket_id}: {number} has capabilities {have}")
    return problems


def _check_routes(completed: list[Ticket], routes: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    by_name = Counter(r["name"] for r in routes)
    problems += [f"route {name} appears {c} times" for name, c in by_name.items() if c > 1]
    expected: dict[str, str] = {}
    for ticket in completed:
        if ticket.request.routing is not None:
            assert ticket.result is not None
            expected[ticket.request.route_name] = exact_number_pattern(ticket.result.numbers)
    for route in routes:
        pattern = expected.get(route["name"])
        if pattern is None:
            problems.append(f"route {route['name']} belongs to no completed ticket")
        elif route["numberPattern"] != pattern:
            problems.append(f"route {route['name']} does not route exactly its ticket's numbers")
    problems += [f"completed ticket's route {n} is missing" for n in expected if n not in by_name]
    return problems


def _reconcile(address: str, task_queue: str) -> dict[str, Any]:
    """``numberflow reconcile --json``, as an operator would run it."""
    command = [
        str(Path(sys.prefix) / "bin" / "numberflow"),
        "reconcile",
        "--json",
        "--task-queue",
        task_queue,
    ]
    env = {**os.environ, "TEMPORAL_ADDRESS": address}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-500:]}"}
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _reconcile_violations(report: dict[str, Any], tickets: list[Ticket]) -> list[str]:
    """Reconcile finds nothing, but the numbers from outside that tickets gave back (kept by
    the resource), and those no ticket ever claimed (a cancel came before the claim)."""
    if "error" in report:
        return [f"numberflow reconcile failed: {report['error']}"]
    unclaimed = {
        number
        for t in tickets
        for number in t.outside
        if t.final is None or number not in t.final.numbers
    }
    findings = {**report, "orphans": [n for n in report["orphans"] if n not in unclaimed]}
    return [
        f"reconcile: {finding} {items}"
        for finding, items in findings.items()
        if finding not in ("released", "onboarded_kept") and items
    ]
