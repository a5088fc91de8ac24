"""``numberflow deliver | confirm-released``: numbers and releases that only people handle.

A manual order's numbers arrive days or weeks after the ticket (Microsoft delivers them by
hand); where only Microsoft's service desk releases numbers, an operator confirms it did.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from pydantic import ValidationError
from temporalio.client import Client

from contracts.operations import ReleaseConfirmation
from contracts.problems import first_problem
from contracts.provision import Delivery, DeliveryRecord
from provisioning import ReleaseConfirmed, confirm_released, deliver

from ._common import JsonFlag, console, emit, fail, run_async

__all__ = ["confirm_released_command", "deliver_command"]

Ticket = Annotated[str, typer.Argument(help="Ticket id.")]
By = Annotated[str, typer.Option(help="Who says so (recorded by the saga and the ledger).")]


def deliver_command(
    ticket: Ticket,
    numbers: Annotated[list[str], typer.Argument(help="Delivered numbers, E.164 (+1425…).")],
    by: By,
    delivery_id: Annotated[
        str | None,
        typer.Option(help="This delivery's id (to send it again safely); by default a new one."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Deliver numbers to a manual order (partial deliveries are fine); exit 1 if any is refused."""
    try:
        delivery = Delivery(
            numbers=tuple(numbers), by=by, delivery_id=delivery_id or uuid.uuid4().hex
        )
    except ValidationError as error:
        fail(f"invalid input: {first_problem(error, located=False)}", 2)

    async def send(client: Client) -> DeliveryRecord | None:
        return await deliver(client, ticket, delivery)

    record = run_async(send)
    if record is None:
        emit(
            {"delivery_id": delivery.delivery_id, "taken": False},
            as_json,
            lambda _: console.print(
                f"delivery {delivery.delivery_id} sent to {ticket}; not taken yet (the saga "
                "takes it once it waits for numbers: after its approval, with a worker running)"
            ),
        )
        return

    def render(taken: DeliveryRecord) -> None:
        console.print(
            f"{ticket}: {len(taken.accepted)} number(s) accepted, {len(taken.refused)} refused"
        )
        for refused in taken.refused:
            console.print(f"  refused {refused}", soft_wrap=True)

    emit(record, as_json, render)
    if record.refused:
        raise typer.Exit(1)


def confirm_released_command(
    ticket: Ticket,
    by: By,
    note: Annotated[str | None, typer.Option(help="e.g. the service desk's case number.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Confirm that Microsoft's service desk released the numbers the ticket waits on."""
    try:
        confirmation = ReleaseConfirmation(by=by, note=note)
    except ValidationError as error:
        fail(f"invalid input: {first_problem(error, located=False)}", 2)

    async def send(client: Client) -> ReleaseConfirmed:
        return await confirm_released(client, ticket, confirmation)

    confirmed = run_async(send)
    emit(
        vars(confirmed),
        as_json,
        lambda _: console.print(
            f"confirmed to {ticket}'s {confirmed.where}"
            + ("" if confirmed.applied else "; not taken yet (is a worker running?)")
        ),
    )
