"""``numberflow replay``: replay histories against the current workflow code, or export them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from connection import connect_temporal
from workflows import WORKFLOWS

from ._common import console, fail

__all__ = ["replay"]


def replay(
    workflow_id: Annotated[
        list[str] | None,
        typer.Option("--workflow-id", help="Fetch this run's history (repeatable)."),
    ] = None,
    query: Annotated[
        str | None, typer.Option(help="Fetch the histories of a visibility query.")
    ] = None,
    histories: Annotated[
        Path | None, typer.Option(help="Read *.json histories from this folder.")
    ] = None,
    export: Annotated[
        Path | None, typer.Option(help="Write the fetched histories here instead of replaying.")
    ] = None,
) -> None:
    """Replay with the production data converter; exit non-zero on any non-determinism."""
    if not (workflow_id or query or histories):
        fail("give --workflow-id, --query or --histories", 2)
    if export and histories:
        fail("--export saves fetched histories; it does not take --histories", 2)
    loaded = asyncio.run(_load(workflow_id or [], query, histories))
    if not loaded:
        fail("no histories found", 4)
    if export:
        export.mkdir(parents=True, exist_ok=True)
        for history in loaded:
            (export / f"{history.workflow_id}.json").write_text(history.to_json())
        console.print(f"exported {len(loaded)} histories to {export}")
        return
    failures = asyncio.run(_replay(loaded))
    if failures:
        raise typer.Exit(1)


async def _load(ids: list[str], query: str | None, folder: Path | None) -> list[WorkflowHistory]:
    found: list[WorkflowHistory] = []
    if folder is not None:
        if not folder.is_dir():
            fail(f"{folder} is not a folder", 2)
        found += [
            WorkflowHistory.from_json(p.stem, p.read_text()) for p in sorted(folder.glob("*.json"))
        ]
    if ids or query:
        client: Client = await connect_temporal()
        for workflow_id in ids:
            found.append(await client.get_workflow_handle(workflow_id).fetch_history())
        if query:
            found += [h async for h in client.list_workflows(query).map_histories()]
    return found


async def _replay(histories: list[WorkflowHistory]) -> int:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    failures = 0
    for history in histories:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        if result.replay_failure is None:
            console.print(f"[green]ok[/green]               {history.workflow_id}")
        else:
            failures += 1
            console.print(
                f"[red]non-deterministic[/red] {history.workflow_id}: {result.replay_failure}"
            )
    console.print(f"{len(histories) - failures} ok, {failures} failed")
    return failures
