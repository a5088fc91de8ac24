"""``numberflow provision``: start a ticket's saga from options or a JSON file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from temporalio.client import Client

from contracts.problems import first_problem
from contracts.provision import (
    AssignmentType,
    CapabilityType,
    HoldStrategy,
    NumberSource,
    NumberType,
    ProvisionRequest,
    ProvisionResult,
)
from provisioning import ProvisioningRefused, start_provisioning, worker_polls

from ._common import (
    JsonFlag,
    callback_hosts_from_environment,
    console,
    default_task_queue,
    emit,
    fail,
    note,
    parse_duration,
    run_async,
    trunk_fields,
)
from ._saga import follow, summary

__all__ = ["provision"]

TicketOption = Annotated[str | None, typer.Option(help="Ticket id.")]
CountryOption = Annotated[str | None, typer.Option(help="ISO country, e.g. US.")]
TypeOption = Annotated[NumberType, typer.Option("--type", help="Kind of number.")]
AssignmentOption = Annotated[AssignmentType, typer.Option(help="Who the numbers are for.")]
CallingOption = Annotated[CapabilityType, typer.Option(help="Calling capability to buy with.")]
SmsOption = Annotated[CapabilityType, typer.Option(help="SMS capability to buy with.")]
QuantityOption = Annotated[int, typer.Option(help="How many numbers.")]
PrefixOption = Annotated[
    list[str] | None, typer.Option(help="Number prefix with country code (repeatable).")
]
StrategyOption = Annotated[
    HoldStrategy, typer.Option(help="How numbers are held while a human approves.")
]
AreaCodeOption = Annotated[str | None, typer.Option(help="Area code (search strategy).")]
TrunkOption = Annotated[
    list[str] | None, typer.Option(help="SIP trunk fqdn[:port] to route to (repeatable).")
]
ApproverOption = Annotated[list[str] | None, typer.Option(help="Allowed approver (repeatable).")]
AutoApproveOption = Annotated[
    str | None, typer.Option(help="Approve automatically at or below this monthly cost.")
]
SourceOption = Annotated[
    NumberSource,
    typer.Option(
        help="purchase (bought here), existing (already in the resource: give --number), "
        "manual_order (ordered from Microsoft by hand; delivered later)."
    ),
]
NumberOption = Annotated[
    list[str] | None,
    typer.Option(
        "--number", help="A number already in the resource (source existing; repeatable)."
    ),
]
CallbackOption = Annotated[str | None, typer.Option(help="Where stage changes are POSTed.")]
ResellOption = Annotated[bool, typer.Option(help="Agree not to resell (needed in some countries).")]
FileOption = Annotated[Path | None, typer.Option(help="Read the whole request from a JSON file.")]
WaitOption = Annotated[bool, typer.Option(help="Wait for the saga to end, showing its progress.")]
WaitTimeoutOption = Annotated[
    str | None,
    typer.Option(
        help="Wait, but at most this long (7d, 12h, 30m, 45s; then exit 1, the saga goes "
        "on). --wait alone waits until the saga ends."
    ),
]
QueueOption = Annotated[str | None, typer.Option(help="Task queue of the workers.")]
RetryOption = Annotated[
    bool,
    typer.Option(
        "--retry", help="Re-drive a ticket whose last provisioning failed and was undone."
    ),
]


_NOT_REQUEST_FIELDS = frozenset({"file", "wait", "wait_timeout", "task_queue", "retry", "as_json"})
"""Options that say how to provision, not what: they go with ``--file`` too."""


def provision(
    ctx: typer.Context,
    ticket: TicketOption = None,
    source: SourceOption = NumberSource.PURCHASE,
    number: NumberOption = None,
    country: CountryOption = None,
    number_type: TypeOption = NumberType.TOLL_FREE,
    assignment: AssignmentOption = AssignmentType.APPLICATION,
    calling: CallingOption = CapabilityType.INBOUND_OUTBOUND,
    sms: SmsOption = CapabilityType.NONE,
    quantity: QuantityOption = 1,
    prefix: PrefixOption = None,
    strategy: StrategyOption = HoldStrategy.RESERVATION,
    area_code: AreaCodeOption = None,
    trunk: TrunkOption = None,
    approver: ApproverOption = None,
    auto_approve_below: AutoApproveOption = None,
    callback_url: CallbackOption = None,
    agree_to_not_resell: ResellOption = False,
    file: FileOption = None,
    wait: WaitOption = False,
    wait_timeout: WaitTimeoutOption = None,
    task_queue: QueueOption = None,
    retry: RetryOption = False,
    as_json: JsonFlag = False,
) -> None:
    """Start provisioning for a ticket; a ticket that already has a run is refused (exit 1)."""
    if file is not None:
        _refuse_options_beside_file(ctx)
    bound = parse_duration(wait_timeout) if wait_timeout is not None else None
    approval: dict[str, Any] = {"approvers": tuple(approver or ())}
    if auto_approve_below is not None:
        approval.update(mode="auto_under_cost", auto_approve_below=auto_approve_below)
    request = _request_from(
        file,
        {
            "ticket_id": ticket,
            "source": source,
            "numbers": tuple(number or ()),
            "country_code": country,
            "phone_number_type": number_type,
            "assignment_type": assignment,
            "capabilities": {"calling": calling, "sms": sms},
            "quantity": quantity,
            "phone_number_prefixes": tuple(prefix or ()),
            "hold_strategy": strategy,
            "area_code": area_code,
            "routing": {"trunks": [trunk_fields(t) for t in trunk]} if trunk else None,
            "approval": approval,
            "callback_url": callback_url,
            "agree_to_not_resell": agree_to_not_resell,
        },
    )
    queue = task_queue or default_task_queue()

    async def start(client: Client) -> Any:
        return await _start(
            client,
            request,
            queue,
            retry=retry,
            wait=wait or bound is not None,
            quiet=as_json,
            timeout=bound,
        )

    def render(value: Any) -> None:
        if isinstance(value, ProvisionResult):
            console.print(summary(value))
        else:
            console.print(
                f"started {value['workflow_id']}; follow it with: numberflow status "
                f"{request.ticket_id}"
            )

    emit(run_async(start), as_json, render)


async def _start(
    client: Client,
    request: ProvisionRequest,
    queue: str,
    *,
    retry: bool,
    wait: bool,
    quiet: bool,
    timeout: timedelta | None,
) -> Any:
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
        return await follow(client, run.workflow_id, quiet=quiet, timeout=timeout)
    return {"workflow_id": run.workflow_id, "run_id": run.run_id, "started": True}


def _refuse_options_beside_file(ctx: typer.Context) -> None:
    """``--file`` is the whole request: an option that would be ignored is bad input."""
    given = [
        param.opts[0]
        for param in ctx.command.params
        if param.name not in _NOT_REQUEST_FIELDS
        and param.name is not None
        and (source := ctx.get_parameter_source(param.name)) is not None
        and source.name != "DEFAULT"
    ]
    if given:
        fail(f"--file holds the whole request; drop {', '.join(given)} (or edit the file)", 2)


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
        fail(f"invalid request: {first_problem(error)}", 2)
