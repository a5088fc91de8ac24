"""``numberflow reconcile``: compare ACS with the ledger now, optionally release old orphans."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table
from temporalio.client import Client

from contracts.ids import RECONCILE_WORKFLOW_TYPE
from contracts.operations import ReconcileReport, ReconcileRequest
from provisioning import ProvisioningRefused, worker_polls

from ._common import console, default_task_queue, fail, parse_duration, run_async

RECONCILE_WAIT = timedelta(minutes=10)
"""How long the command waits for the reconcile run before saying it goes on."""

__all__ = ["reconcile"]


def reconcile(
    release_orphans: Annotated[
        bool, typer.Option("--release-orphans", help="Release orphans older than --grace.")
    ] = False,
    grace: Annotated[
        str, typer.Option(help="Only orphans bought longer ago are released: 7d, 12h, 30m, 45s.")
    ] = "7d",
    delete_stale_holds: Annotated[
        bool,
        typer.Option(
            "--delete-stale-holds",
            help="Delete active reservations no running saga holds (else only reported).",
        ),
    ] = False,
    task_queue: Annotated[
        str | None, typer.Option(help="Task queue of the workers (NUMBERFLOW_TASK_QUEUE).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Report orphans, ghosts, unknown routes and stale holds; fix only what you ask to."""
    request = ReconcileRequest(
        release_orphans=release_orphans,
        grace=parse_duration(grace),
        delete_stale_holds=delete_stale_holds,
    )
    queue = task_queue or default_task_queue()

    async def run(client: Client) -> ReconcileReport:
        if not await worker_polls(client, queue):
            raise ProvisioningRefused(
                f"no worker polls task queue {queue!r}; start one (numberflow worker) first"
            )
        handle = await client.start_workflow(
            RECONCILE_WORKFLOW_TYPE,
            request,
            id=f"numberflow-reconcile-now-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            result_type=ReconcileReport,
        )
        try:
            return await asyncio.wait_for(handle.result(), RECONCILE_WAIT.total_seconds())
        except TimeoutError:
            raise ProvisioningRefused(
                f"reconcile {handle.id} still running after "
                f"{RECONCILE_WAIT.total_seconds():.0f} s; it goes on in Temporal"
            ) from None

    report = run_async(run)
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
    if report.incomplete is not None:
        fail(f"{report.incomplete}; run again")
    if as_json:
        return
    table = Table(title="numberflow reconcile")
    table.add_column("finding")
    table.add_column("items")
    for name, items in (
        ("orphans", report.orphans),
        ("ghosts", report.ghosts),
        ("unknown routes", report.unknown_routes),
        ("missing routes", report.missing_routes),
        ("drifted routes", report.drifted_routes),
        ("active reservations", report.active_reservations),
        ("stale holds", report.stale_holds),
        ("release pending (service desk)", report.release_pending_manual),
        ("onboarded, kept by the resource", report.onboarded_kept),
        ("released", report.released),
        ("deleted holds", report.deleted_holds),
    ):
        table.add_row(name, "\n".join(items) or "-")
    console.print(table)
    for note in report.notes:
        console.print(note, soft_wrap=True)
