"""``numberflow reconcile``: compare ACS with the ledger now, optionally release old orphans."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from connection import RECONCILE_WORKFLOW_TYPE, connect_temporal
from contracts.operations import ReconcileReport, ReconcileRequest
from contracts.task_queues import TASK_QUEUE

from ._common import payload_keys

__all__ = ["parse_duration", "reconcile"]

_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m``, ``45s`` → timedelta."""
    match = re.fullmatch(r"(\d+)([dhms])", text.strip())
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a duration such as 7d, 12h, 30m or 45s")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def reconcile(
    release_orphans: Annotated[
        bool, typer.Option("--release-orphans", help="Release orphans older than --grace.")
    ] = False,
    grace: Annotated[str, typer.Option(help="Only orphans bought longer ago are released.")] = "7d",
    task_queue: Annotated[str, typer.Option(help="Task queue of the workers.")] = TASK_QUEUE,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Report orphans (bought, owned by nobody), ghosts (in the ledger, gone) and unknown routes."""
    request = ReconcileRequest(release_orphans=release_orphans, grace=parse_duration(grace))
    report = asyncio.run(_run(request, task_queue))
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
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
        ("released", report.released),
    ):
        table.add_row(name, "\n".join(items) or "-")
    Console().print(table)


async def _run(request: ReconcileRequest, task_queue: str) -> ReconcileReport:
    client = await connect_temporal(payload_keys())
    result: ReconcileReport = await client.execute_workflow(
        RECONCILE_WORKFLOW_TYPE,
        request,
        id=f"numberflow-reconcile-now-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=ReconcileReport,
    )
    return result
