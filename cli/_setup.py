"""``numberflow setup``: prepare a namespace of an existing Temporal cluster, or check it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from temporalio.client import Client

from namespace_setup import (
    Step,
    StepResult,
    ensure_reconcile_schedule,
    ensure_search_attributes,
)
from provisioning import worker_polls

from ._common import JsonFlag, console, default_task_queue, emit, run_async

__all__ = ["setup"]

_STYLE = {
    Step.PRESENT: "green",
    Step.CREATED: "cyan",
    Step.UPDATED: "cyan",
    Step.MISSING: "red",
    Step.OUTDATED: "red",
    Step.UNKNOWN: "yellow",
    Step.POLLED: "green",
    Step.NOT_POLLED: "yellow",
}


def setup(
    check: Annotated[
        bool, typer.Option("--check", help="Only report; change nothing (exit 1 if not ready).")
    ] = False,
    task_queue: Annotated[
        str | None, typer.Option(help="Task queue of the workers (NUMBERFLOW_TASK_QUEUE).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register the search attributes and the reconcile schedule; report whether a worker polls.

    Idempotent: a second run changes nothing. Temporal Cloud registers search attributes in
    its control plane: the report gives the tcld command instead. Exit 1 when something is
    missing (with --check: when setup would change something); what cannot be checked with
    these credentials is reported, not failed, and so is a worker not polling yet (setup runs
    before the workers start).
    """
    queue = task_queue or default_task_queue()

    async def run(client: Client) -> list[StepResult]:
        results = await ensure_search_attributes(client, apply=not check)
        results.append(await ensure_reconcile_schedule(client, queue, apply=not check))
        polled = await worker_polls(client, queue)
        results.append(
            StepResult(
                f"task queue {queue}",
                Step.POLLED if polled else Step.NOT_POLLED,
                "a worker polls it" if polled else "no worker polls it yet",
            )
        )
        return results

    results = run_async(run)
    rows = [
        {"item": r.item, "state": r.step.value, "detail": r.detail, "ready": r.ready}
        for r in results
    ]

    def render(_: object) -> None:
        table = Table(title="numberflow setup" + (" --check" if check else ""))
        for column in ("item", "state", "detail"):
            table.add_column(column)
        for result in results:
            style = _STYLE[result.step]
            table.add_row(result.item, f"[{style}]{result.step.value}[/]", result.detail)
        console.print(table)

    emit(rows, as_json, render)
    if any(result.step in (Step.MISSING, Step.OUTDATED) for result in results):
        raise typer.Exit(1)
