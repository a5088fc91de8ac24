"""``numberflow quota`` and ``numberflow quota grant``: the tenant's ACS budget and its queue."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from contracts.problems import first_problem
from contracts.quota import QuotaGrant
from provisioning import grant_quota, read_quota

from ._common import (
    JsonFlag,
    Resource,
    acs_resource,
    console,
    default_task_queue,
    emit,
    fail,
    run_async,
)

__all__ = ["quota_app"]

quota_app = typer.Typer(
    help="The tenant's ACS budget of searches and purchases, and the sagas waiting for it.",
    invoke_without_command=True,
)


@quota_app.callback()
def show(ctx: typer.Context, resource: Resource = None, as_json: JsonFlag = False) -> None:
    """Each limit, what the window used, when it has room, and the tickets waiting."""
    if ctx.invoked_subcommand is not None:
        return
    endpoint = acs_resource(resource)
    view = run_async(lambda client: read_quota(client, endpoint))
    if view is None:
        if as_json:
            emit({"resource": endpoint, "keeper": None}, True, lambda _: None)
            return
        console.print(
            f"no saga has asked for ACS budget on {endpoint} yet: nothing is counted or "
            "waiting (limits come from the workers' NUMBERFLOW_QUOTA_SEARCHES and "
            "NUMBERFLOW_QUOTA_PURCHASES)"
        )
        return
    emit(view, as_json, _render)


@quota_app.command("grant")
def grant(
    by: Annotated[str, typer.Option(help="Who records the grant (an operator's name).")],
    searches: Annotated[
        int | None, typer.Option(min=0, help="The new limit of searches per window.")
    ] = None,
    purchases: Annotated[
        int | None, typer.Option(min=0, help="The new limit of purchases per window.")
    ] = None,
    resource: Resource = None,
    task_queue: Annotated[
        str | None, typer.Option(help="The workers' task queue (default: theirs).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set the limits Microsoft raised (a support request granted); waiting sagas go on."""
    if searches is None and purchases is None:
        fail("invalid input: give --searches, --purchases or both", 2)
    try:
        request = QuotaGrant(searches=searches, purchases=purchases, by=by)
    except ValidationError as error:
        fail(f"invalid input: {first_problem(error)}", 2)
    endpoint = acs_resource(resource)
    queue = task_queue or default_task_queue()
    emit(
        run_async(lambda client: grant_quota(client, endpoint, queue, request)),
        as_json,
        _render,
    )


def _render(view: Any) -> None:
    table = Table(
        "budget",
        "limit",
        "used",
        "remaining",
        "room at (UTC)",
        "waiting",
        title=f"ACS budget of {view.resource} per {view.window}",
    )
    for line in view.lines:
        limit = (
            "none" if line.limit is None else f"{line.limit}{' (granted)' if line.granted else ''}"
        )
        if line.room_at is not None:
            room = f"{line.room_at:%Y-%m-%d %H:%M}"
        elif line.remaining == 0:
            room = "after a grant"
        else:
            room = "now"
        if line.blocked_until is not None:
            room += " (ACS refused)"
        table.add_row(
            line.kind.value,
            limit,
            str(line.used),
            "-" if line.remaining is None else str(line.remaining),
            room,
            ", ".join(line.queue) or "-",
        )
    console.print(table)
