"""``numberflow replay``: replay histories against the current workflow code, or export them."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Annotated

import typer
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from codec import data_converter
from connection import connect_temporal
from workflows import WORKFLOWS

from ._common import console, fail, payload_keys

__all__ = ["export_file_name", "export_histories", "replay"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def export_file_name(workflow_id: str, run_id: str) -> str:
    """One file per run, named without any path component: ``<workflow id>--<run id>.json``.

    Characters outside ``[A-Za-z0-9._-]`` become ``_`` and dots cannot lead, so an id such as
    ``../x`` stays inside the export folder.
    """
    safe_id = _UNSAFE.sub("_", workflow_id).lstrip(".") or "_"
    safe_run = _UNSAFE.sub("_", run_id) or "_"
    return f"{safe_id}--{safe_run}.json"


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
    force: Annotated[
        bool, typer.Option("--force", help="Let --export overwrite files that exist.")
    ] = False,
) -> None:
    """Replay with the production data converter; exit non-zero on any non-determinism."""
    if not (workflow_id or query or histories):
        fail("give --workflow-id, --query or --histories", 2)
    if export and histories:
        fail("--export saves fetched histories; it does not take --histories", 2)
    keys = payload_keys()
    loaded = asyncio.run(_load(workflow_id or [], query, histories))
    if not loaded:
        fail("no histories found", 4)
    if export:
        export_histories(loaded, export, force=force)
        return
    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter(keys))
    if asyncio.run(_replay(replayer, loaded)):
        raise typer.Exit(1)


def export_histories(histories: list[WorkflowHistory], folder: Path, *, force: bool) -> None:
    """Write one file per run; refuse, before writing anything, to overwrite without --force."""
    targets = [(h, folder / export_file_name(h.workflow_id, _run_id(h))) for h in histories]
    if not force:
        existing = [path.name for _, path in targets if path.exists()]
        if existing:
            fail(f"{len(existing)} files exist in {folder} (e.g. {existing[0]}); use --force", 2)
    folder.mkdir(parents=True, exist_ok=True)
    runs = {path: history for history, path in targets}  # a run fetched twice is one file
    for path, history in runs.items():
        path.write_text(history.to_json())
    console.print(f"exported {len(runs)} histories to {folder}")


def _run_id(history: WorkflowHistory) -> str:
    """The run id, read from the first event (a history file carries no separate field)."""
    started = history.events[0].workflow_execution_started_event_attributes
    return started.original_execution_run_id or started.first_execution_run_id or "run"


async def _load(ids: list[str], query: str | None, folder: Path | None) -> list[WorkflowHistory]:
    found: list[WorkflowHistory] = []
    if folder is not None:
        if not folder.is_dir():
            fail(f"{folder} is not a folder", 2)
        found += [
            WorkflowHistory.from_json(p.stem, p.read_text()) for p in sorted(folder.glob("*.json"))
        ]
    if ids or query:
        client: Client = await connect_temporal(payload_keys())
        for workflow_id in ids:
            found.append(await client.get_workflow_handle(workflow_id).fetch_history())
        if query:
            found += [h async for h in client.list_workflows(query).map_histories()]
    return found


async def _replay(replayer: Replayer, histories: list[WorkflowHistory]) -> int:
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
