"""``numberflow demo`` and ``numberflow dev``: the whole system on this machine."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.panel import Panel
from rich.status import Status
from rich.table import Table

from codec import ENV_VAR as PAYLOAD_KEYS_VAR
from contracts.provision import ProvisionRequest, ProvisionStatus, Stage
from contracts.signing import SIGNATURE_HEADER, sign
from contracts.sip import sip_workflow_id
from logconfig import configure_logging
from workflows import SipRoutingWorkflow

from ._common import console, fail
from ._stack import DEV_PORTS, LocalStack, PortTaken, StackPorts, local_stack

__all__ = ["demo", "dev"]

DataDir = Annotated[Path, typer.Option(help="Where the dev server keeps its database.")]
_TERMINAL = {
    Stage.COMPLETED,
    Stage.COMPLETED_WITH_SKIPS,
    Stage.NEEDS_ATTENTION,
    Stage.COMPENSATED,
    Stage.COMPENSATION_FAILED,
}


LOG_FILE = "numberflow.log"


def _log_to(data_dir: Path) -> None:
    """The stack's worker and ingress log (JSON, INFO) into the data folder, not the terminal."""
    data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging("INFO", json=True, stream=(data_dir / LOG_FILE).open("a", buffering=1))


def sample_request(ticket_id: str, callback_url: str | None = None) -> ProvisionRequest:
    """The demo ticket: two US toll-free numbers with SMS and calling, routed to a trunk."""
    return ProvisionRequest.model_validate(
        {
            "ticket_id": ticket_id,
            "country_code": "US",
            "phone_number_type": "tollFree",
            "assignment_type": "application",
            "capabilities": {"calling": "inbound+outbound", "sms": "inbound+outbound"},
            "quantity": 2,
            "final_capabilities": {"calling": "inbound+outbound", "sms": "inbound+outbound"},
            "routing": {"trunks": [{"fqdn": "sbc1.example.com", "port": 5061}]},
            "approval": {"approvers": ["demo-approver"]},
            "callback_url": callback_url,
        }
    )


async def _post(
    http: httpx.AsyncClient, stack: LocalStack, event: dict[str, Any]
) -> httpx.Response:
    body = json.dumps(event).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(stack.webhook_secret, body, int(time.time())),
    }
    return await http.post(f"{stack.ingress_url}/webhooks/tickets", content=body, headers=headers)


async def _wait_stage(
    http: httpx.AsyncClient,
    stack: LocalStack,
    ticket: str,
    stages: set[Stage],
    progress: Status,
    timeout: float = 180,
) -> ProvisionStatus:
    deadline = time.monotonic() + timeout
    while True:
        response = await http.get(
            f"{stack.ingress_url}/provisionings/{ticket}",
            headers={"Authorization": f"Bearer {stack.status_token}"},
        )
        if response.status_code == 200:
            status = ProvisionStatus.model_validate(response.json())
            progress.update(f"ticket {ticket}: [bold]{status.stage.value}[/bold]")
            if status.stage in stages:
                return status
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"ticket {ticket} did not reach {sorted(s.value for s in stages)} in {timeout:.0f} s"
            )
        await asyncio.sleep(0.3)


async def _run_demo(data_dir: Path) -> int:
    _log_to(data_dir)
    async with local_stack(data_dir) as stack, httpx.AsyncClient(timeout=30) as http:
        where = (
            "the local ACS emulator"
            if stack.using_emulator
            else f"REAL ACS at {stack.acs_endpoint}"
        )
        console.print(f"Temporal {stack.temporal_address} (Web UI {stack.web_ui}); ACS: {where}")
        ticket = f"DEMO-{uuid.uuid4().hex[:8]}"
        request = sample_request(ticket, stack.callback_url)
        with console.status("posting the signed ticket") as progress:
            created = await _post(
                http, stack, {"event": "created", "request": request.model_dump(mode="json")}
            )
            if created.status_code != 202:
                console.print(f"[red]the ingress refused the ticket:[/red] {created.text}")
                return 1
            workflow_id = created.json()["workflow_id"]
            await _wait_stage(http, stack, ticket, {Stage.AWAITING_APPROVAL, *_TERMINAL}, progress)
            approved = await _post(
                http, stack, {"event": "approved", "ticket_id": ticket, "approver": "demo-approver"}
            )
            if approved.status_code != 202:
                console.print(f"[red]approval refused:[/red] {approved.text}")
                return 1
            final = await _wait_stage(http, stack, ticket, _TERMINAL, progress)
        route = None
        if final.route_name and final.numbers:
            handle = stack.client.get_workflow_handle(sip_workflow_id(stack.acs_endpoint))
            route = await handle.query(SipRoutingWorkflow.route_for, final.numbers[0])
        console.print(_summary(request, final, route, workflow_id))
        delivered = [c["stage"] for c in stack.callbacks if c["ticket_id"] == ticket]
        console.print(f"signed callbacks received: {', '.join(delivered) or 'none yet'}")
        return 0 if final.stage is Stage.COMPLETED else 1


def _summary(
    request: ProvisionRequest, status: ProvisionStatus, route: Any, workflow_id: str
) -> Panel:
    caps = request.final_capabilities or request.capabilities
    lines = [
        f"outcome: [bold]{status.outcome.value if status.outcome else status.stage.value}[/bold]",
        f"numbers: {', '.join(status.numbers)}",
        f"monthly cost: {status.monthly_cost} {status.currency}",
        f"capabilities: calling {caps.calling.value}, sms {caps.sms.value}",
    ]
    if route is not None:
        lines.append(f"route: {route.route} → trunk {route.trunk}")
    lines += [f"[red]error:[/red] {e}" for e in status.errors]
    timings = Table("stage", "at")
    for entry in status.timeline:
        if entry.note is None:
            timings.add_row(entry.stage.value, entry.at.isoformat(timespec="milliseconds"))
    console.print(timings)
    lines.append(
        f"Web UI: the demo's server stops with it ({workflow_id} is gone); "
        "`numberflow dev` keeps a stack and its Web UI running"
    )
    return Panel("\n".join(lines), title=f"ticket {status.ticket_id}")


def demo(data_dir: DataDir = Path(".numberflow")) -> None:
    """Start the local stack, provision a sample ticket end to end, print the outcome, stop."""
    try:
        code = asyncio.run(_run_demo(data_dir))
    except (RuntimeError, TimeoutError, OSError) as error:
        fail(f"demo failed: {error}")
    raise typer.Exit(code)


def dev(
    data_dir: DataDir = Path(".numberflow"),
    encrypt: Annotated[
        bool,
        typer.Option(
            "--encrypt", help="Encrypt payloads with a fresh key; the Web UI decodes them."
        ),
    ] = False,
    port_temporal: Annotated[
        int, typer.Option(help="Temporal gRPC port (0: any free).", min=0, max=65535)
    ] = DEV_PORTS.temporal,
    port_web_ui: Annotated[
        int, typer.Option(help="Temporal Web UI port (0: any free).", min=0, max=65535)
    ] = DEV_PORTS.web_ui,
    port_ingress: Annotated[
        int, typer.Option(help="Ingress port (0: any free).", min=0, max=65535)
    ] = DEV_PORTS.ingress,
    port_emulator: Annotated[
        int, typer.Option(help="ACS emulator port (0: any free).", min=0, max=65535)
    ] = DEV_PORTS.emulator,
) -> None:
    """Start the local stack and keep it running until Ctrl-C, SIGTERM or SIGHUP."""
    ports = StackPorts(port_temporal, port_web_ui, port_ingress, port_emulator)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        _log_to(data_dir)
        async with local_stack(data_dir, encrypt=encrypt, ports=ports) as stack:
            _show(stack, data_dir)
            await stop.wait()
            console.print("stopping…")
        console.print("stopped")

    try:
        asyncio.run(serve())
    except PortTaken as taken:
        fail(str(taken), 2)
    except (RuntimeError, OSError) as error:
        fail(f"dev failed: {error}")


def _show(stack: LocalStack, data_dir: Path) -> None:
    """Where everything listens, and the exports the other commands need."""
    where = (
        "the local ACS emulator" if stack.using_emulator else f"REAL ACS at {stack.acs_endpoint}"
    )
    lines = [
        f"Temporal: {stack.temporal_address}",
        f"Web UI: {stack.web_ui}",
        f"ACS: {where} ({stack.acs_endpoint})",
        f"ingress: {stack.ingress_url}",
        f"webhook secret: {stack.webhook_secret}",
        f"status token: {stack.status_token}  (Authorization: Bearer …)",
        f"callback receiver: {stack.callback_url} (the only allowed callback host)",
        f"task queue: {stack.task_queue}",
    ]
    exports = [
        f"export TEMPORAL_ADDRESS={stack.temporal_address}",
        f"export NUMBERFLOW_WEB_UI={stack.web_ui}",
    ]
    if stack.payload_keys:
        lines.append(f"payloads: encrypted; codec server {stack.codec_url}")
        exports.append(f"export {PAYLOAD_KEYS_VAR}={stack.payload_keys}")
    lines.append(f"logs: {data_dir / LOG_FILE}")
    console.print(Panel("\n".join(lines), title="numberflow dev (Ctrl-C stops everything)"))
    console.print("# for the other numberflow commands:", *exports, sep="\n", soft_wrap=True)
