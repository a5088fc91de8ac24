"""Saga commands: provision, approve, reject, cancel, status, list, release."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, TypeAdapter, ValidationError
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from contracts.operations import ReleaseResult, release_workflow_id
from contracts.provision import (
    AssignmentType,
    CapabilityType,
    CountryCode,
    Decision,
    DecisionKind,
    HoldStrategy,
    NumberType,
    ProvisionRequest,
    ProvisionResult,
    ProvisionStatus,
    Stage,
    workflow_id_for,
)
from provisioning import (
    DecisionSent,
    NoWorkerAnswered,
    ProvisioningNotFound,
    ProvisioningRefused,
    cancel_provisioning,
    decide,
    read_status,
    start_provisioning,
    start_release,
    worker_polls,
)

from ._common import (
    callback_hosts_from_environment,
    console,
    default_task_queue,
    emit,
    fail,
    note,
    run_async,
    web_ui_link,
)

__all__ = ["approve", "cancel", "list_provisionings", "provision", "reject", "release", "status"]

RELEASE_WAIT = timedelta(minutes=10)
"""How long ``release`` waits for its run before saying it is still running."""

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
Ticket = Annotated[str, typer.Argument(help="Ticket id.")]


def _request_from(file: Path | None, values: dict[str, Any]) -> ProvisionRequest:
    try:
        if file is not None:
            return ProvisionRequest.model_validate_json(file.read_text())
        return ProvisionRequest.model_validate(
            {k: v for k, v in values.items() if v not in (None, [], ())}
        )
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror}", 2)
    except ValidationError as error:
        first = error.errors()[0]
        fail(f"invalid request: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}", 2)


def _trunk(text: str) -> dict[str, Any]:
    host, _, port = text.partition(":")
    return {"fqdn": host, "port": int(port)} if port.isdigit() else {"fqdn": host}


def provision(
    ticket: Annotated[str | None, typer.Option(help="Ticket id.")] = None,
    country: Annotated[str | None, typer.Option(help="ISO country, e.g. US.")] = None,
    number_type: Annotated[
        NumberType, typer.Option("--type", help="Kind of number.")
    ] = NumberType.TOLL_FREE,
    assignment: Annotated[
        AssignmentType, typer.Option(help="Who the numbers are for.")
    ] = AssignmentType.APPLICATION,
    calling: Annotated[
        CapabilityType, typer.Option(help="Calling capability to buy with.")
    ] = CapabilityType.INBOUND_OUTBOUND,
    sms: Annotated[
        CapabilityType, typer.Option(help="SMS capability to buy with.")
    ] = CapabilityType.NONE,
    quantity: Annotated[int, typer.Option(help="How many numbers.")] = 1,
    prefix: Annotated[
        list[str] | None, typer.Option(help="Number prefix with country code (repeatable).")
    ] = None,
    strategy: Annotated[
        HoldStrategy, typer.Option(help="How numbers are held while a human approves.")
    ] = HoldStrategy.RESERVATION,
    area_code: Annotated[str | None, typer.Option(help="Area code (search strategy).")] = None,
    trunk: Annotated[
        list[str] | None, typer.Option(help="SIP trunk fqdn[:port] to route to (repeatable).")
    ] = None,
    approver: Annotated[
        list[str] | None, typer.Option(help="Allowed approver (repeatable).")
    ] = None,
    auto_approve_below: Annotated[
        str | None, typer.Option(help="Approve automatically at or below this monthly cost.")
    ] = None,
    callback_url: Annotated[
        str | None, typer.Option(help="Where stage changes are POSTed.")
    ] = None,
    agree_to_not_resell: Annotated[
        bool, typer.Option(help="Agree not to resell (needed in some countries).")
    ] = False,
    file: Annotated[
        Path | None, typer.Option(help="Read the whole request from a JSON file.")
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="Wait for the saga to end, showing its progress.")
    ] = False,
    task_queue: Annotated[str | None, typer.Option(help="Task queue of the workers.")] = None,
    retry: Annotated[
        bool,
        typer.Option(
            "--retry", help="Re-drive a ticket whose last provisioning failed and was undone."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Start provisioning for a ticket; a ticket that already has a run is refused (exit 1)."""
    approval: dict[str, Any] = {"approvers": tuple(approver or ())}
    if auto_approve_below is not None:
        approval.update(mode="auto_under_cost", auto_approve_below=auto_approve_below)
    request = _request_from(
        file,
        {
            "ticket_id": ticket,
            "country_code": country,
            "phone_number_type": number_type,
            "assignment_type": assignment,
            "capabilities": {"calling": calling, "sms": sms},
            "quantity": quantity,
            "phone_number_prefixes": tuple(prefix or ()),
            "hold_strategy": strategy,
            "area_code": area_code,
            "routing": {"trunks": [_trunk(t) for t in trunk]} if trunk else None,
            "approval": approval,
            "callback_url": callback_url,
            "agree_to_not_resell": agree_to_not_resell,
        },
    )
    queue = task_queue or default_task_queue()

    async def start(client: Client) -> Any:
        run = await start_provisioning(
            client, request, queue, retry=retry, callback_hosts=callback_hosts_from_environment()
        )
        if run.started and not await worker_polls(client, queue):
            note(f"no worker polls task queue {queue!r}; the saga waits until one does")
        if not run.started:
            raise ProvisioningRefused(
                f"ticket {request.ticket_id} already has a provisioning "
                f"({run.status.lower()}); nothing was started"
                + ("" if run.status == "RUNNING" else "; re-drive a failed one with --retry")
            )
        if wait:
            return await follow(client, run.workflow_id, quiet=as_json)
        return {"workflow_id": run.workflow_id, "run_id": run.run_id, "started": True}

    def render(value: Any) -> None:
        if isinstance(value, ProvisionResult):
            console.print(_summary(value))
        else:
            console.print(
                f"started {value['workflow_id']}; follow it with: numberflow status "
                f"{request.ticket_id}"
            )

    emit(run_async(start), as_json, render)


async def follow(client: Client, workflow_id: str, *, quiet: bool) -> ProvisionResult:
    """Show stage, elapsed time and the operator's next step until the run closes.

    Ctrl-C stops following, not the saga: the message says how to pick it up again.
    """
    handle = client.get_workflow_handle(workflow_id, result_type=ProvisionResult)
    ticket = workflow_id.removeprefix("provision-")
    result_task = asyncio.ensure_future(handle.result())
    started = time.monotonic()
    with Live(console=console, transient=True, auto_refresh=False) as live:
        while not result_task.done():
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
    return line


def _summary(result: ProvisionResult) -> Panel:
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
        )

    life = run_async(query)
    emit(
        {**life.provisioning.model_dump(mode="json"), "release": life.release} if as_json else life,
        as_json,
        _render_life,
    )


class TicketLife(BaseModel):
    """A ticket's whole life: its provisioning, then its release if there was one."""

    provisioning: ProvisionStatus
    release: dict[str, Any] | None = None


async def _release_of(client: Client, ticket: str) -> dict[str, Any] | None:
    handle = client.get_workflow_handle(release_workflow_id(ticket), result_type=ReleaseResult)
    try:
        described = await handle.describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
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
        f"hold: {s.hold_strategy.value} {s.hold_id or '-'}",
        f"numbers: {', '.join(s.numbers) or '-'}" + (" (released since)" if gone else ""),
        f"monthly cost: {s.monthly_cost if s.monthly_cost is not None else '-'} {s.currency or ''}",
        f"route: {s.route_name or '-'}" + (" (removed since)" if gone and s.route_name else ""),
    ]
    if s.hold_expires_at and s.stage is Stage.AWAITING_APPROVAL:
        lines.append(f"hold expires: {s.hold_expires_at:%Y-%m-%d %H:%M:%S} UTC")
    link = web_ui_link(workflow_id_for(s.ticket_id))
    if link:
        lines.append(f"Web UI: {link}")
    lines += [f"[red]error:[/red] {e}" for e in s.errors]
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
                a.decision, a.by, a.at.isoformat(timespec="seconds"), str(a.monthly_cost)
            )
        console.print(approvals)


def list_provisionings(
    stage: Annotated[Stage | None, typer.Option(help="Filter by stage.")] = None,
    country: Annotated[str | None, typer.Option(help="Filter by ISO country code.")] = None,
    ticket: Annotated[str | None, typer.Option(help="Filter by ticket id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List sagas through their search attributes (visibility is eventually consistent)."""
    if country is not None:
        try:
            TypeAdapter(CountryCode).validate_python(country)  # the request's own rule
        except ValidationError as error:
            fail(f"invalid input: --country: {error.errors()[0]['msg']}", 2)
    clauses = ["WorkflowType = 'ProvisionNumbersWorkflow'"]
    for key, value in (
        ("ProvisioningStage", stage.value if stage else None),
        ("CountryCode", country),
        ("TicketId", ticket),
    ):
        if value is not None:
            if "'" in value:
                fail(f"{key} value must not contain quotes", 2)
            clauses.append(f"{key} = '{value}'")

    async def search(client: Client) -> list[dict[str, Any]]:
        rows = []
        async for execution in client.list_workflows(" AND ".join(clauses), limit=limit):
            attributes = execution.search_attributes
            rows.append(
                {
                    "workflow_id": execution.id,
                    "ticket_id": (attributes.get("TicketId") or [None])[0],
                    "stage": (attributes.get("ProvisioningStage") or [None])[0],
                    "country": (attributes.get("CountryCode") or [None])[0],
                    "status": execution.status.name
                    if isinstance(execution.status, WorkflowExecutionStatus)
                    else None,
                    "started": execution.start_time.isoformat(timespec="seconds"),
                }
            )
        if stage is Stage.NEEDS_ATTENTION:  # what failed is in the saga, not in visibility
            for row in rows:
                try:
                    attention = (await read_status(client, str(row["ticket_id"]))).attention
                except (NoWorkerAnswered, ProvisioningNotFound):
                    attention = None
                row["step"] = attention.step if attention else None
                row["error_code"] = attention.error_code if attention else None
                row["deadline"] = attention.deadline.isoformat() if attention else None
        return rows

    def render(rows: list[dict[str, Any]]) -> None:
        columns = ["ticket", "stage", "country", "status", "started"]
        if stage is Stage.NEEDS_ATTENTION:
            columns += ["failed step", "error code", "deadline"]
        table = Table(*columns, title="provisionings")
        for row in rows:
            cells = [row["ticket_id"], row["stage"], row["country"], row["status"], row["started"]]
            if stage is Stage.NEEDS_ATTENTION:
                cells += [row["step"] or "-", row["error_code"] or "-", row["deadline"] or "-"]
            table.add_row(*cells)
        console.print(table)

    emit(run_async(search), as_json, render)


def release(
    ticket: Ticket,
    wait: Annotated[bool, typer.Option(help="Wait for the release to finish.")] = True,
    task_queue: Annotated[str | None, typer.Option(help="Task queue of the workers.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Release everything a ticket owns once its provisioning ended: routes, then numbers."""
    queue = task_queue or default_task_queue()

    async def start(client: Client) -> Any:
        if wait and not await worker_polls(client, queue):
            raise ProvisioningRefused(
                f"no worker polls task queue {queue!r}; start one (numberflow worker) or use "
                "--no-wait"
            )
        handle = await start_release(client, ticket, queue)
        if not wait:
            return {"workflow_id": handle.id}
        return await asyncio.wait_for(handle.result(), RELEASE_WAIT.total_seconds())

    def render(value: Any) -> None:
        if isinstance(value, ReleaseResult):
            console.print(
                f"released {len(value.numbers_released)} numbers and "
                f"{len(value.routes_removed)} routes of {ticket}"
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
