"""``numberflow setup`` on a namespace that has nothing yet, and processes that refuse to start
on such a namespace. A fresh namespace of the session's dev server stands for a new cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from emulator import EmulatorServer
from namespace_setup import RECONCILE_SCHEDULE_ID, is_temporal_cloud, tcld_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def fresh_namespace(dev_env: WorkflowEnvironment) -> str:
    name = f"setup-{uuid.uuid4().hex[:8]}"
    await dev_env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    return name


def _environment(dev_env: WorkflowEnvironment, namespace: str, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ACS_", "TEMPORAL_"))},
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": namespace,
        "NUMBERFLOW_TASK_QUEUE": "setup-queue",
        **extra,
    }


def _numberflow(env: dict[str, str], *args: str) -> tuple[int, list[dict[str, object]], str]:
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    rows = json.loads(done.stdout) if done.stdout.strip().startswith("[") else []
    return done.returncode, rows, done.stderr


def _states(rows: list[dict[str, object]]) -> dict[object, object]:
    return {row["item"]: row["state"] for row in rows}


async def test_setup_registers_what_is_missing_once_and_check_reports(
    dev_env: WorkflowEnvironment, fresh_namespace: str
) -> None:
    env = _environment(dev_env, fresh_namespace)
    code, rows, _ = _numberflow(env, "setup", "--check", "--json")
    assert code == 1
    assert _states(rows) == {
        "TicketId": "missing",
        "ProvisioningStage": "missing",
        "CountryCode": "missing",
        RECONCILE_SCHEDULE_ID: "missing",
        "task queue setup-queue": "not polled",
    }

    code, rows, _ = _numberflow(env, "setup", "--json")
    assert code == 0
    assert set(_states(rows).values()) == {"created", "not polled"}

    code, rows, _ = _numberflow(env, "setup", "--json")  # idempotent: nothing to change
    assert code == 0
    assert set(_states(rows).values()) == {"present", "not polled"}
    code, rows, _ = _numberflow(env, "setup", "--check", "--json")
    assert code == 0

    moved = {**env, "NUMBERFLOW_TASK_QUEUE": "moved-queue"}
    code, rows, _ = _numberflow(moved, "setup", "--check", "--json")
    assert (code, _states(rows)[RECONCILE_SCHEDULE_ID]) == (1, "outdated")
    code, rows, _ = _numberflow(moved, "setup", "--json")
    assert (code, _states(rows)[RECONCILE_SCHEDULE_ID]) == (0, "updated")
    namespaced = Client(dev_env.client.service_client, namespace=fresh_namespace)
    schedule = await namespaced.get_schedule_handle(RECONCILE_SCHEDULE_ID).describe()
    action = schedule.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow) and action.task_queue == "moved-queue"


async def test_worker_and_ingress_refuse_a_namespace_without_the_search_attributes(
    dev_env: WorkflowEnvironment, fresh_namespace: str, loopback_server: EmulatorServer
) -> None:
    env = _environment(
        dev_env,
        fresh_namespace,
        ACS_CONNECTION_STRING=loopback_server.connection_string,
        NUMBERFLOW_WEBHOOK_SECRETS="setup-test-webhook-secret",
    )
    for command in (["-m", "worker"], ["-m", "cli", "ingress", "--port", "0"]):
        done = subprocess.run(
            [sys.executable, *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        last = done.stderr.strip().splitlines()[-1]
        assert done.returncode == 2, done.stderr
        assert "lacks the search attributes TicketId, ProvisioningStage, CountryCode" in last
        assert "run: numberflow setup" in last


def test_temporal_cloud_is_told_apart_and_given_the_tcld_command() -> None:
    assert is_temporal_cloud("prod.a1b2c.tmprl.cloud:7233")
    assert not is_temporal_cloud("temporal-frontend.temporal.svc.cluster.local:7233")
    assert tcld_command("prod.a1b2c", ("TicketId",)) == (
        'tcld namespace search-attributes add --namespace prod.a1b2c --search-attribute "TicketId=Keyword"'
    )
