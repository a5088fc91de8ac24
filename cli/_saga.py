"""Saga commands: provision, approve, reject, cancel, status, list, release."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy

from contracts.operations import ReleaseRequest, ReleaseResult, release_workflow_id
from contracts.provision import (
    Decision,
    DecisionKind,
    ProvisionRequest,
    ProvisionResult,
    ProvisionStatus,
    workflow_id_for,
)
from provisioning import DecisionSent, cancel_provisioning, decide, start_provisioning
from workflows import ProvisionNumbersWorkflow, ReleaseNumbersWorkflow

from ._common import (
    callback_hosts_from_environment,
    console,
    default_task_queue,
    emit,
    fail,
    run_async,
)

__all__ = ["approve", "cancel", "list_provisionings", "provision", "reject", "release", "status"]

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
        str, typer.Option("--type", help="geographic, tollFree or mobile.")
    ] = "tollFree",
    assignment: Annotated[str, typer.Option(help="person or application.")] = "application",
    calling: Annotated[
        str, typer.Option(help="Calling capability to buy with.")
    ] = "inbound+outbound",
    sms: Annotated[str, typer.Option(help="SMS capability to buy with.")] = "none",
    quantity: Annotated[int, typer.Option(help="How many numbers.")] = 1,
    prefix: Annotated[
        list[str] | None, typer.Option(help="Number prefix with country code (repeatable).")
    ] = None,
    strategy: Annotated[str, typer.Option(help="reservation or search.")] = "reservation",
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
    """Start provisioning for a ticket (a ticket provisioned before answers with its run)."""
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
        if wait and (run.started or run.status == "RUNNING"):
            return await _follow(client, run.workflow_id, quiet=as_json)
        return {
            "workflow_id": run.workflow_id,
            "run_id": run.run_id,
            "started": run.started,
            "status": run.status,
        }

    def render(value: Any) -> None:
        if isinstance(value, ProvisionResult):
            console.print(_summary(value))
        elif value["started"]:
            console.print(f"started {value['workflow_id']}")
        else:
            console.print(
                f"{value['workflow_id']} already exists ({value['status'].lower()}); nothing "
                "was started"
            )

    emit(run_async(start), as_json, render)


async def _follow(client: Client, workflow_id: str, *, quiet: bool) -> ProvisionResult:
    """Show the stage until the run closes, then return its result."""
    handle = client.get_workflow_handle(workflow_id, result_type=ProvisionResult)
    result_task = asyncio.ensure_future(handle.result())
    with Live(console=console, transient=True, auto_refresh=False) as live:
        while not result_task.done():
            try:
                current = await handle.query(ProvisionNumbersWorkflow.status)
                if not quiet:
                    live.update(f"[bold]{workflow_id}[/bold]: {current.stage.value}", refresh=True)
            except Exception:  # noqa: BLE001, S110 - the display is best effort
                pass
            await asyncio.wait({result_task}, timeout=0.5)
    result: ProvisionResult = result_task.result()
    return result


def _summary(result: ProvisionResult) -> Panel:
    lines = [f"outcome: [bold]{result.outcome.value}[/bold]"]
    if result.numbers:
        lines.append("numbers: " + ", ".join(result.numbers))
    if result.monthly_cost is not None:
        lines.append(f"monthly cost: {result.monthly_cost} {result.currency}")
    if result.route_name:
        lines.append(f"route: {result.route_name}")
    if result.note:
        lines.append(f"note: {result.note}")
    return Panel("\n".join(lines), title=f"ticket {result.ticket_id}")


def _decide(ticket: str, decision: Decision, as_json: bool) -> None:
    async def send(client: Client) -> DecisionSent:
        return await decide(client, ticket, decision)

    def render(sent: DecisionSent) -> None:
        if sent.applied:
            console.print(f"{decision.decision.value} {ticket}")
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
        await cancel_provisioning(client, ticket)
        return {"workflow_id": workflow_id_for(ticket), "cancel": "requested"}

    emit(
        run_async(send),
        as_json,
        lambda v: console.print(f"cancel requested for {v['workflow_id']}"),
    )


def status(ticket: Ticket, as_json: JsonFlag = False) -> None:
    """Show a saga's stage, numbers, cost, approvals, errors and timeline."""

    async def query(client: Client) -> ProvisionStatus:
        return await client.get_workflow_handle(workflow_id_for(ticket)).query(
            ProvisionNumbersWorkflow.status
        )

    emit(run_async(query), as_json, _render_status)


def _render_status(s: ProvisionStatus) -> None:
    lines = [
        f"stage: [bold]{s.stage.value}[/bold]"
        + (f" (outcome {s.outcome.value})" if s.outcome else ""),
        f"hold: {s.hold_strategy.value} {s.hold_id or '-'}",
        f"numbers: {', '.join(s.numbers) or '-'}",
        f"monthly cost: {s.monthly_cost if s.monthly_cost is not None else '-'} {s.currency or ''}",
        f"route: {s.route_name or '-'}",
    ]
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
    stage: Annotated[
        str | None, typer.Option(help="Filter by stage, e.g. awaiting_approval.")
    ] = None,
    country: Annotated[str | None, typer.Option(help="Filter by country.")] = None,
    ticket: Annotated[str | None, typer.Option(help="Filter by ticket id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List sagas through their search attributes (visibility is eventually consistent)."""
    clauses = ["WorkflowType = 'ProvisionNumbersWorkflow'"]
    for key, value in (
        ("ProvisioningStage", stage),
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
        return rows

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("ticket", "stage", "country", "status", "started", title="provisionings")
        for row in rows:
            table.add_row(
                row["ticket_id"], row["stage"], row["country"], row["status"], row["started"]
            )
        console.print(table)

    emit(run_async(search), as_json, render)


def release(
    ticket: Ticket,
    wait: Annotated[bool, typer.Option(help="Wait for the release to finish.")] = True,
    task_queue: Annotated[str | None, typer.Option(help="Task queue of the workers.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Release everything a ticket owns: routes first, then numbers."""

    async def start(client: Client) -> Any:
        handle = await client.start_workflow(
            ReleaseNumbersWorkflow.run,
            ReleaseRequest(ticket_id=ticket),
            id=release_workflow_id(ticket),
            task_queue=task_queue or default_task_queue(),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        if not wait:
            return {"workflow_id": handle.id}
        return await handle.result()

    def render(value: Any) -> None:
        if isinstance(value, ReleaseResult):
            console.print(
                f"released {len(value.numbers_released)} numbers and {len(value.routes_removed)} routes of {ticket}"
            )
        else:
            console.print(f"release started: {value['workflow_id']}")

    emit(run_async(start), as_json, render)
