"""Saga commands: provision, approve, reject, cancel, status, list, release."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from temporalio.client import Client, WorkflowExecutionStatus

from contracts.ids import ticket_id_of, workflow_id_for
from contracts.operations import ReleaseResult, ReleaseStatus
from contracts.provision import (
    Attention,
    Decision,
    DecisionKind,
    NumberSource,
    ProvisionResult,
    ProvisionStatus,
    Stage,
)
from provisioning import (
    DecisionSent,
    NoWorkerAnswered,
    ProvisioningNotFound,
    ProvisioningRefused,
    cancel_provisioning,
    decide,
    describe_release,
    read_status,
    start_release,
    worker_polls,
)

from ._common import (
    JsonFlag,
    console,
    default_task_queue,
    emit,
    fail,
    run_async,
    web_ui_link,
)

__all__ = ["approve", "cancel", "follow", "reject", "release", "status", "summary"]

RELEASE_WAIT = timedelta(minutes=10)
"""How long ``release`` waits for its run before saying it is still running."""

Ticket = Annotated[str, typer.Argument(help="Ticket id.")]


async def follow(
    client: Client, workflow_id: str, *, quiet: bool, timeout: timedelta | None = None
) -> ProvisionResult:
    """Show stage, elapsed time and the operator's next step until the run closes.

    Bounded by ``timeout`` when given (otherwise by the saga's own deadlines): past it the
    command stops following and says so (exit 1); the saga goes on. Ctrl-C likewise stops
    following, not the saga.
    """
    handle = client.get_workflow_handle(workflow_id, result_type=ProvisionResult)
    ticket = ticket_id_of(workflow_id) or workflow_id
    result_task = asyncio.ensure_future(handle.result())
    started = time.monotonic()
    bound = timeout.total_seconds() if timeout is not None else None
    with Live(console=console, transient=True, auto_refresh=False) as live:
        while not result_task.done():
            if bound is not None and time.monotonic() - started >= bound:
                result_task.cancel()
                fail(
                    f"{ticket} is still running after {bound:.0f} s; the saga goes on: "
                    f"numberflow status {ticket}"
                )
            if not quiet:
                live.update(await _progress(client, ticket, started), refresh=True)
            await asyncio.wait({result_task}, timeout=0.5)
    result: ProvisionResult = result_task.result()
    return result


async def _progress(client: Client, ticket: str, started: float) -> str:
    elapsed = f"{time.monotonic() - started:.0f} s"
    try:
        current = await read_status(client, ticket)
    except NoWorkerAnswered:
        return (
            f"[bold]{ticket}[/bold]: waiting for a worker ({elapsed}); start one: numberflow worker"
        )
    line = f"[bold]{ticket}[/bold]: {current.stage.value} ({elapsed})"
    if current.stage is Stage.AWAITING_APPROVAL:
        who = current.approvers[0] if current.approvers else "<name>"
        line += f" — approve with: numberflow approve {ticket} --approver {who}"
        if current.hold_expires_at:
            line += f" (hold expires {current.hold_expires_at:%Y-%m-%d %H:%M} UTC)"
    elif current.stage is Stage.AWAITING_NUMBERS:
        line += f" — deliver with: numberflow deliver {ticket} <number>… --by <name>"
    elif current.stage is Stage.NEEDS_ATTENTION and current.attention is not None:
        waiting = current.attention
        line += (
            f" — {waiting.step} failed ({waiting.error_code}); decide by "
            f"{waiting.deadline:%Y-%m-%d %H:%M} UTC with: " + _decision_commands(ticket, waiting)
        )
    return line


def summary(result: ProvisionResult) -> Panel:
    lines = [f"outcome: [bold]{result.outcome.value}[/bold]"]
    link = web_ui_link(workflow_id_for(result.ticket_id))
    if result.numbers:
        lines.append("numbers: " + ", ".join(result.numbers))
    if result.monthly_cost is not None:
        lines.append(f"monthly cost: {result.monthly_cost} {result.currency}")
    if result.route_name:
        lines.append(f"route: {result.route_name}")
    if result.note:
        lines.append(f"note: {result.note}")
    if link:
        lines.append(f"Web UI: {link}")
    return Panel("\n".join(lines), title=f"ticket {result.ticket_id}")


def _decide(ticket: str, decision: Decision, as_json: bool) -> None:
    async def send(client: Client) -> DecisionSent:
        return await decide(client, ticket, decision)

    def render(sent: DecisionSent) -> None:
        if sent.applied:
            console.print(
                f"{decision.decision.value} {ticket}; stage now {sent.status.stage.value}"
            )
        else:
            console.print(
                f"{decision.decision.value} sent for {ticket}; not applied yet (is a worker "
                "running?): the saga applies it when one is"
            )

    sent = run_async(send)
    emit(
        {"applied": sent.applied, "status": sent.status.model_dump(mode="json")}
        if as_json
        else sent,
        as_json,
        render,
    )


def approve(
    ticket: Ticket,
    approver: Annotated[str, typer.Option(help="Who approves.")],
    comment: Annotated[str | None, typer.Option(help="A note.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve a ticket awaiting approval (refused with the reason otherwise)."""
    _decide(
        ticket,
        Decision(decision=DecisionKind.APPROVED, approver=approver, note=comment),
        as_json,
    )


def reject(
    ticket: Ticket,
    approver: Annotated[str, typer.Option(help="Who rejects.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    as_json: JsonFlag = False,
) -> None:
    """Reject a ticket awaiting approval; the saga releases everything."""
    _decide(
        ticket, Decision(decision=DecisionKind.REJECTED, approver=approver, note=reason), as_json
    )


def cancel(ticket: Ticket, as_json: JsonFlag = False) -> None:
    """Cancel a saga; it compensates and ends cancelled."""

    async def send(client: Client) -> dict[str, str]:
        before = await cancel_provisioning(client, ticket)
        return {
            "workflow_id": workflow_id_for(ticket),
            "cancel": "requested",
            "stage_when_cancelled": before.stage.value,
        }

    emit(
        run_async(send),
        as_json,
        lambda v: console.print(
            f"cancel requested for {v['workflow_id']} (it was {v['stage_when_cancelled']}); it "
            "compensates, then ends cancelled"
        ),
    )


def status(ticket: Ticket, as_json: JsonFlag = False) -> None:
    """Show a saga's stage, numbers, cost, approvals, errors and timeline."""

    async def query(client: Client) -> TicketLife:
        return TicketLife(
            provisioning=await read_status(client, ticket),
            release=await _release_of(client, ticket),
            earlier_runs=await _earlier_runs(client, ticket),
        )

    life = run_async(query)
    emit(
        {
            **life.provisioning.model_dump(mode="json"),
            "release": life.release,
            "earlier_runs": life.earlier_runs,
        }
        if as_json
        else life,
        as_json,
        _render_life,
    )


class TicketLife(BaseModel):
    """A ticket's whole life: its provisioning (and the runs it re-drove), then its release."""

    provisioning: ProvisionStatus
    release: dict[str, Any] | None = None
    earlier_runs: list[dict[str, Any]] = []
    """Provisioning runs before the current one (a failed run an operator re-drove), oldest
    first; from visibility, so a re-drive of a moment ago may not be listed yet."""


async def _earlier_runs(client: Client, ticket: str) -> list[dict[str, Any]]:
    query = f"WorkflowId = '{workflow_id_for(ticket)}'"
    runs = sorted([run async for run in client.list_workflows(query)], key=lambda r: r.start_time)
    return [
        {
            "run_id": run.run_id,
            "status": run.status.name if run.status else "UNKNOWN",
            "started_at": run.start_time,
            "closed_at": run.close_time,
        }
        for run in runs[:-1]
    ]


async def _release_of(client: Client, ticket: str) -> dict[str, Any] | None:
    try:
        handle, described = await describe_release(client, ticket)
    except ProvisioningNotFound:
        return None
    release: dict[str, Any] = {
        "workflow_id": handle.id,
        "run_id": described.run_id,
        "status": described.status.name if described.status else "UNKNOWN",
        "started_at": described.start_time,
        "closed_at": described.close_time,
    }
    if described.status is WorkflowExecutionStatus.COMPLETED:
        result = await handle.result()
        release["numbers_released"] = list(result.numbers_released)
        release["routes_removed"] = list(result.routes_removed)
    return release


def _render_life(life: TicketLife) -> None:
    _render_status(life.provisioning, released=life.release)
    for run in life.earlier_runs:
        ended = f", ended {run['closed_at']:%Y-%m-%d %H:%M:%S} UTC" if run["closed_at"] else ""
        console.print(
            f"earlier run {run['run_id']}: {run['status'].lower()}, started "
            f"{run['started_at']:%Y-%m-%d %H:%M:%S} UTC{ended}; re-driven by the run above"
        )
    if life.release is not None:
        r = life.release
        line = f"release: {r['status'].lower()} (run {r['run_id']})"
        if r["closed_at"]:
            line += f", ended {r['closed_at']:%Y-%m-%d %H:%M:%S} UTC"
        if "numbers_released" in r:
            line += (
                f": {len(r['numbers_released'])} numbers released, "
                f"{len(r['routes_removed'])} routes removed"
            )
        console.print(line)


def _render_status(s: ProvisionStatus, *, released: dict[str, Any] | None = None) -> None:
    gone = released is not None and released["status"] == "COMPLETED"
    lines = [
        f"stage: [bold]{s.stage.value}[/bold]"
        + (f" (outcome {s.outcome.value})" if s.outcome else ""),
        f"source: {s.source.value}"
        if s.source is not NumberSource.PURCHASE
        else f"hold: {s.hold_strategy.value} {s.hold_id or '-'}",
        f"numbers: {', '.join(s.numbers) or '-'}" + (" (released since)" if gone else ""),
        f"monthly cost: {s.monthly_cost if s.monthly_cost is not None else '-'} {s.currency or ''}",
        f"route: {s.route_name or '-'}" + (" (removed since)" if gone and s.route_name else ""),
    ]
    if s.hold_expires_at and s.stage is Stage.AWAITING_APPROVAL:
        lines.append(f"hold expires: {s.hold_expires_at:%Y-%m-%d %H:%M:%S} UTC")
    link = web_ui_link(workflow_id_for(s.ticket_id))
    if link:
        lines.append(f"Web UI: {link}")
    lines += _attention_lines(s)
    lines += _quota_lines(s)
    lines += _order_lines(s)
    lines += [f"skipped: {skip}" for skip in s.skipped]
    lines += [f"[red]error:[/red] {e}" for e in s.errors]
    lines += [f"[yellow]refused:[/yellow] {r}" for r in s.refused_interventions]
    lines += [f"[yellow]ignored decision:[/yellow] {d}" for d in s.ignored_decisions]
    lines += [f"[red]left for an operator:[/red] {item}" for item in s.left_for_operator]
    console.print(Panel("\n".join(lines), title=f"ticket {s.ticket_id}"))
    timeline = Table("stage", "at", "note", title="timeline")
    for entry in s.timeline:
        timeline.add_row(
            entry.stage.value, entry.at.isoformat(timespec="seconds"), entry.note or ""
        )
    console.print(timeline)
    if s.approvals:
        approvals = Table("decision", "by", "at", "monthly cost", title="approvals")
        for a in s.approvals:
            approvals.add_row(
                a.decision,
                a.by,
                a.at.isoformat(timespec="seconds"),
                "-" if a.monthly_cost is None else str(a.monthly_cost),
            )
        console.print(approvals)


def _quota_lines(s: ProvisionStatus) -> list[str]:
    """Which ACS budget the saga waits for, its place, and when the window has room."""
    wait = s.quota_wait
    if wait is None:
        return []
    room = (
        f"room at {wait.room_at:%Y-%m-%d %H:%M} UTC"
        if wait.room_at
        else "no room until a grant (numberflow quota grant)"
    )
    return [
        f"[yellow]waiting for ACS budget:[/yellow] {wait.kind.value}, place {wait.place}, {room}; "
        f"waiting since {wait.since:%Y-%m-%d %H:%M} UTC (numberflow quota shows the queue)"
    ]


def _order_lines(s: ProvisionStatus) -> list[str]:
    """A manual order: what was ordered, what arrived, what was refused, until when."""
    order = s.order
    lines = []
    if order is not None:
        lines.append(
            f"manual order: {order.quantity} {order.phone_number_type.value} number(s) in "
            f"{order.country_code}, recorded {order.ordered_at:%Y-%m-%d %H:%M} UTC; "
            f"{len(s.numbers)} delivered"
        )
        if s.stage is Stage.AWAITING_NUMBERS:
            lines.append(
                f"waiting for deliveries until {order.deadline:%Y-%m-%d %H:%M} UTC: "
                f"numberflow deliver {s.ticket_id} <number>… --by <name>"
            )
    for d in s.deliveries:
        lines.append(
            f"delivery {d.delivery_id} by {d.by}: {len(d.accepted)} accepted, "
            f"{len(d.refused)} refused"
        )
        lines += [f"  [yellow]refused:[/yellow] {r}" for r in d.refused]
    return lines


def _attention_lines(s: ProvisionStatus) -> list[str]:
    """What the saga waits for an operator about, until when, and the commands that answer."""
    if s.attention is None:
        return []
    waiting = s.attention
    return [
        f"[yellow]waiting for an operator:[/yellow] {waiting.step} failed "
        f"({waiting.error_code}): {waiting.message}",
        f"decide by {waiting.deadline:%Y-%m-%d %H:%M} UTC with: "
        + _decision_commands(s.ticket_id, waiting),
    ]


def _decision_commands(ticket: str, waiting: Attention) -> str:
    return " | ".join(
        f"numberflow {action.value.replace('_', '-')} {ticket}" for action in waiting.actions
    )


def release(
    ticket: Ticket,
    wait: Annotated[bool, typer.Option(help="Wait for the release to finish.")] = True,
    release_numbers: Annotated[
        bool,
        typer.Option(
            "--release-numbers",
            help="Release numbers from outside (ported, specially ordered) too: gone for good.",
        ),
    ] = False,
    by: Annotated[
        str | None, typer.Option(help="Who asks (needed with --release-numbers).")
    ] = None,
    task_queue: Annotated[str | None, typer.Option(help="Task queue of the workers.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Release everything a ticket owns once its provisioning ended: routes, then numbers.

    Numbers that came from outside get their earlier capabilities back and stay in the
    resource, unless --release-numbers (with --by) says otherwise.
    """
    queue = task_queue or default_task_queue()
    if release_numbers and by is None:
        fail("--release-numbers needs --by: who asks is recorded in the ledger", 2)

    async def start(client: Client) -> Any:
        if wait and not await worker_polls(client, queue):
            raise ProvisioningRefused(
                f"no worker polls task queue {queue!r}; start one (numberflow worker) or use "
                "--no-wait"
            )
        release = await start_release(
            client, ticket, queue, release_numbers_by=by if release_numbers else None
        )
        if release.finished_before is not None:
            result = await release.handle.result(follow_runs=False)
            return {
                **result.model_dump(mode="json"),
                "already_released_at": release.finished_before.isoformat(timespec="seconds"),
            }
        if not wait:
            return {"workflow_id": release.handle.id}
        return await _release_outcome(release.handle)

    def render(value: Any) -> None:
        if isinstance(value, ReleaseResult):
            console.print(
                f"released {len(value.numbers_released)} numbers and "
                f"{len(value.routes_removed)} routes of {ticket}"
                + (
                    f"; {len(value.numbers_kept)} numbers from outside kept in the resource "
                    "with their earlier capabilities"
                    if value.numbers_kept
                    else ""
                )
            )
        elif isinstance(value, ReleaseStatus):
            console.print(
                f"{ticket}'s routes are removed; its numbers are NOT released yet: "
                f"{value.service_desk}",
                soft_wrap=True,
            )
        elif "already_released_at" in value:
            console.print(
                f"{ticket} was already released at {value['already_released_at']} "
                f"({len(value['numbers_released'])} numbers, "
                f"{len(value['routes_removed'])} routes); nothing left to release"
            )
        else:
            console.print(f"release started: {value['workflow_id']}")

    try:
        emit(run_async(start), as_json, render)
    except TimeoutError:
        fail(
            f"the release of {ticket} is still running after "
            f"{RELEASE_WAIT.total_seconds():.0f} s; see numberflow status {ticket}"
        )


async def _release_outcome(handle: Any) -> ReleaseResult | ReleaseStatus:
    """The release's result, or its status once it waits for Microsoft's service desk."""
    result = asyncio.ensure_future(handle.result())
    deadline = time.monotonic() + RELEASE_WAIT.total_seconds()
    try:
        while time.monotonic() < deadline:
            done, _ = await asyncio.wait({result}, timeout=1.0)
            if done:
                outcome: ReleaseResult = result.result()
                return outcome
            waiting: ReleaseStatus = await handle.query("status", result_type=ReleaseStatus)
            if waiting.stage == "awaiting_service_desk":
                return waiting
    finally:
        result.cancel()
    raise TimeoutError
