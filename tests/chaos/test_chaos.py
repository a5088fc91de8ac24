"""The quick chaos run (``make test``) and proof that the harness sees a broken saga.

The long run is ``make chaos`` (``python -m tests.chaos``): 100 sagas, 10 kills, 2 restarts.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from acs import PhoneNumbersClient, SipRoutingClient
from activities import build_activities
from contracts.activities import ReleaseHoldInput
from tests.leaks import SCANNER
from workflows import WORKFLOWS

from .harness import ChaosPlan, run_chaos

pytestmark = pytest.mark.slow

QUICK_SEED = int(os.environ.get("NUMBERFLOW_CHAOS_SEED", "20261130"))


@pytest.mark.timeout(300)
async def test_quick_chaos_run_keeps_every_promise(tmp_path: Path) -> None:
    """30 sagas, 3 worker SIGKILLs, a Temporal restart, seeded ACS faults: no violation.

    Half the tickets arrive as signed webhooks through the ingress: none is answered 500.
    The tenant may make 8 searches and 3 purchases until Microsoft raises its limits half way
    through: sagas wait in the queue, none fails for a limit, none asks ACS too soon.
    """
    plan = ChaosPlan(
        seed=QUICK_SEED, sagas=30, kills=3, restarts=("term",), deadline=150, limits=(8, 3)
    )
    report = await run_chaos(
        plan, tmp_path, history_sink=lambda wid, text: SCANNER.scan_history(f"chaos {wid}", text)
    )
    report.write(tmp_path / "report.json")
    for log in tmp_path.glob("worker-*.log"):
        SCANNER.scan_log_file(f"chaos {log.name}", log.read_text(errors="replace"))
    assert report.kills >= 3 and report.restarts == ["term"] and report.faults_fired > 0
    assert sum(report.outcomes.values()) == 30
    assert sum(report.ingress_answers.values()) >= 15  # half the tickets came as webhooks
    assert "500" not in report.ingress_answers, report.ingress_answers
    assert report.violations == [], json.dumps(report.violations, indent=2)
    assert report.quota["sagas_that_waited"] > 0 and report.quota["granted_at"], report.quota


@activity.defn(name="release_hold")
async def keep_the_hold(hold: ReleaseHoldInput) -> None:  # noqa: ARG001 - the broken compensation
    """A compensation that does nothing: holds stay active after rejection or cancel."""


@contextlib.asynccontextmanager
async def worker_without_hold_release(
    client: Client, task_queue: str, connection_string: str
) -> AsyncIterator[Any]:
    """A worker whose ``release_hold`` compensation is disabled."""
    async with (
        httpx.AsyncClient() as http,
        PhoneNumbersClient.from_connection_string(connection_string, http_client=http) as numbers,
        SipRoutingClient.from_connection_string(connection_string, http_client=http) as sip,
    ):
        activities = [
            a
            for a in build_activities(numbers, sip, client, task_queue, http=http)
            if getattr(a, "__name__", "") != "release_hold"
        ]
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=WORKFLOWS,
            activities=[*activities, keep_the_hold],
        ) as worker:
            yield worker


@pytest.mark.timeout(180)
async def test_the_harness_catches_a_disabled_compensation(tmp_path: Path) -> None:
    """With the hold release disabled, rejected and cancelled tickets leave holds: reported."""
    plan = ChaosPlan(seed=7, sagas=8, kills=0, restarts=(), fault_scale=0, deadline=90)
    report = await run_chaos(plan, tmp_path, in_process_worker=worker_without_hold_release)
    held = [v for v in report.violations if "is still active" in v]
    assert held, report.violations
    assert any(v.startswith("reconcile: active_reservations") for v in report.violations)
    named = [v for v in report.violations if " left active belongs to " in v]
    assert len(named) == len(held), report.violations
    for violation in named:  # the ticket, and the trail of the hold's steps in its history
        assert "provision-" in violation and "release_hold" in violation, violation
        hold = violation.split()[1]
        assert list(tmp_path.glob(f"hold-{hold}-*.json")), f"no history saved for {hold}"
