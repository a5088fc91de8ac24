"""Every operator command against a real dev server, the emulator and a worker (subprocesses)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from contracts.provision import Stage
from tests.leaks import SCANNER
from tests.world import Saga, base_request

ROOT = Path(__file__).resolve().parents[2]


async def cli(
    saga: Saga, *args: str, extra_env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run ``python -m cli ARGS`` against the saga's dev server; return (code, stdout, stderr)."""
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": saga.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": saga.client.namespace,
        "NUMBERFLOW_TASK_QUEUE": saga.task_queue,
        "COLUMNS": "200",
        **(extra_env or {}),
    }
    env.pop("ACS_CONNECTION_STRING", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *args,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,  # nobody answers a question
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    SCANNER.scan("cli stderr", err.decode(), numbers=False)  # stdout is for the operator
    return process.returncode, out.decode(), err.decode()


def as_json(text: str) -> Any:
    return json.loads(text)


async def test_provision_approve_status_list_release(dev_saga: Saga, tmp_path: Path) -> None:
    """provision (flags and --file) → status → list → approve (twice: refused) → release."""
    saga = dev_saga
    ticket = f"T-cli-{os.getpid()}-{id(saga) % 10000}"
    code, out, err = await cli(
        saga,
        "provision",
        "--ticket",
        ticket,
        "--country",
        "US",
        "--type",
        "tollFree",
        "--sms",
        "inbound+outbound",
        "--quantity",
        "2",
        "--trunk",
        "sbc1.example.com:5061",
        "--approver",
        "alice",
        "--json",
    )
    assert code == 0, err
    assert as_json(out)["workflow_id"] == f"provision-{ticket}"
    await saga.wait_stage(
        saga.client.get_workflow_handle(f"provision-{ticket}"), Stage.AWAITING_APPROVAL
    )

    code, out, _ = await cli(saga, "status", ticket, "--json")
    assert (
        code == 0
        and as_json(out)["stage"] == "awaiting_approval"
        and len(as_json(out)["numbers"]) == 2
    )
    code, out, _ = await cli(saga, "status", ticket)
    assert code == 0 and "awaiting_approval" in out and "timeline" in out

    for _ in range(50):  # visibility is eventually consistent
        code, out, _ = await cli(saga, "list", "--ticket", ticket, "--json")
        if code == 0 and as_json(out) and as_json(out)[0]["stage"] == "awaiting_approval":
            break
        await asyncio.sleep(0.2)
    assert as_json(out)[0]["ticket_id"] == ticket

    code, _, err = await cli(saga, "approve", ticket, "--approver", "mallory")
    assert code == 1 and "not an approver" in err
    code, out, err = await cli(saga, "approve", ticket, "--approver", "alice", "--json")
    assert code == 0, err
    code, _, err = await cli(saga, "approve", ticket, "--approver", "alice")
    # refused by the rule, or because the saga already ended: a refusal (1), never "not found"
    assert code == 1
    assert any(m in err for m in ("already approved", "not awaiting approval", "already ended"))
    result = await saga.client.get_workflow_handle(f"provision-{ticket}").result()
    assert result["outcome"] == "completed"

    code, out, err = await cli(saga, "release", ticket, "--json")
    assert code == 0, err
    assert sorted(as_json(out)["numbers_released"]) == sorted(result["numbers"])
    assert saga.owned() == []

    request = base_request(approval={"mode": "auto_under_cost", "auto_approve_below": "100"})
    file = tmp_path / "request.json"
    file.write_text(request.model_dump_json())
    code, out, err = await cli(saga, "provision", "--file", str(file), "--wait", "--json")
    assert code == 0, err
    assert as_json(out)["outcome"] == "completed"


async def test_reject_cancel_and_errors(dev_saga: Saga, tmp_path: Path) -> None:
    """reject and cancel work; bad input and unknown tickets give clear messages and exit codes."""
    saga = dev_saga
    for action in ("reject", "cancel"):
        request = base_request()
        code, _, err = await cli(
            saga, "provision", "--file", _write(tmp_path, request.model_dump_json())
        )
        assert code == 0, err
        handle = saga.client.get_workflow_handle(f"provision-{request.ticket_id}")
        await saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
        if action == "reject":
            code, _, err = await cli(
                saga, "reject", request.ticket_id, "--approver", "alice", "--reason", "not needed"
            )
        else:
            code, _, err = await cli(saga, "cancel", request.ticket_id)
        assert code == 0, err
        await saga.wait_stage(handle, Stage.COMPENSATED)
    saga.assert_clean()

    code, _, err = await cli(saga, "provision", "--ticket", "T-bad", "--country", "usa")
    assert code == 2 and "country_code" in err
    code, _, err = await cli(saga, "provision", "--file", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read" in err
    code, _, err = await cli(saga, "status", "T-does-not-exist")
    assert code == 4 and "not found" in err
    code, _, err = await cli(saga, "status", "T-x", extra_env={"TEMPORAL_ADDRESS": "127.0.0.1:1"})
    assert code != 0 and "Traceback" not in err
    code, _, err = await cli(saga, "ingress", extra_env={"NUMBERFLOW_WEBHOOK_SECRETS": ""})
    assert code == 2 and "NUMBERFLOW_WEBHOOK_SECRETS" in err
    code, _, err = await cli(saga, "worker")
    assert code == 2 and "ACS_CONNECTION_STRING" in err


async def test_sip_show_route_test_and_replay(
    dev_saga: Saga, dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """sip show / route-test read the writer; replay fetches, exports and replays histories."""
    saga = dev_saga
    request = base_request(
        quantity=1, approval={"mode": "auto_under_cost", "auto_approve_below": "100"}
    )
    handle = await saga.start(request)
    result = await handle.result()
    resource = ["--resource", saga.emulator.endpoint]
    code, out, err = await cli(saga, "sip", "show", *resource, "--json")
    assert code == 0, err
    assert [r["name"] for r in as_json(out)["routes"]] == [result.route_name]
    code, out, _ = await cli(saga, "sip", "route-test", result.numbers[0], *resource)
    assert code == 0 and result.route_name in out and "sbc1.example.com" in out
    code, out, _ = await cli(saga, "sip", "route-test", "+4420000000", *resource, "--json")
    assert code == 0 and as_json(out)["route"] is None

    code, out, err = await cli(saga, "replay", "--workflow-id", handle.id)
    assert code == 0, err
    assert "1 ok, 0 failed" in out
    export = tmp_path / "exported"
    code, out, err = await cli(saga, "replay", "--workflow-id", handle.id, "--export", str(export))
    assert code == 0, err
    assert [p.name for p in export.iterdir()] == [f"{handle.id}--{handle.result_run_id}.json"]
    code, out, err = await cli(saga, "replay", "--workflow-id", handle.id, "--export", str(export))
    assert code == 2 and "--force" in err  # nothing overwritten without --force
    args = ("replay", "--workflow-id", handle.id, "--export", str(export), "--force")
    assert (await cli(saga, *args))[0] == 0
    code, out, _ = await cli(saga, "replay", "--histories", str(export))
    assert code == 0 and "1 ok, 0 failed" in out
    code, _, err = await cli(saga, "replay")
    assert code == 2 and "--workflow-id" in err


def _write(folder: Path, text: str) -> str:
    path = folder / f"request-{abs(hash(text)) % 100000}.json"
    path.write_text(text)
    return str(path)


async def test_ingress_command_serves(dev_saga: Saga) -> None:
    """``numberflow ingress`` serves the webhook app against the dev server."""
    import socket
    import time

    import httpx

    from contracts.signing import SIGNATURE_HEADER, sign

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev_saga.client.service_client.config.target_host,
        "NUMBERFLOW_WEBHOOK_SECRETS": "new-secret, old-secret",
        "NUMBERFLOW_TASK_QUEUE": dev_saga.task_queue,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "ingress",
        "--port",
        str(port),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            body = json.dumps({"event": "cancelled", "ticket_id": "T-nobody"}).encode()
            signed = {
                SIGNATURE_HEADER: sign("old-secret", body, int(time.time())),
                "Content-Type": "application/json",
            }
            response = await http.post("/webhooks/tickets", content=body, headers=signed)
            assert response.status_code == 404
    finally:
        process.terminate()
        await process.wait()


async def test_provision_refuses_a_callback_outside_the_allow_list(dev_saga: Saga) -> None:
    """With the allow-list in its environment the CLI refuses before starting anything."""
    ticket = f"T-cli-ssrf-{os.getpid()}"
    code, _, err = await cli(
        dev_saga,
        "provision",
        "--ticket",
        ticket,
        "--country",
        "US",
        "--callback-url",
        "http://169.254.169.254/latest/meta-data/",
        extra_env={"NUMBERFLOW_CALLBACK_ALLOWED_HOSTS": "hooks.example.com"},
    )
    assert code == 2 and "callback_url" in err and err.count("\n") == 1
    code, _, _ = await cli(dev_saga, "status", ticket)
    assert code == 4
