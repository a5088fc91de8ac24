"""The operator's surface at its edges (issue: truthful CLI and ingress).

Each test drives ``python -m cli`` (or the ingress) as an operator would and checks the exit
code, that stderr is one line without a traceback, and what was (not) started.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from contracts.ids import workflow_id_for
from contracts.provision import Stage
from emulator import EmulatorServer
from ingress import create_app
from tests.cli.test_commands import ROOT, as_json, cli
from tests.ingress_world import SECRET, STATUS_TOKEN, Ingress
from tests.world import CALLBACK_HOSTS, Saga, base_request

AUTO = {"mode": "auto_under_cost", "auto_approve_below": "100"}
NO_TEMPORAL = {"TEMPORAL_ADDRESS": "127.0.0.1:1"}


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err


async def _completed(saga: Saga) -> str:
    request = base_request(quantity=1, approval=AUTO)
    handle = await saga.start(request)
    assert (await handle.result()).outcome is Stage.COMPLETED
    return request.ticket_id


async def _exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError:
        return False
    return True


# -- tracebacks instead of one line -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("reconcile",), 3, "cannot reach Temporal at 127.0.0.1:1"),
        (("replay", "--workflow-id", "provision-X"), 3, "cannot reach Temporal"),
        (("status", "T-1"), 3, "connection refused"),
    ],
)
async def test_temporal_down_is_exit_3_in_one_line(
    dev_saga: Saga, args: tuple[str, ...], code: int, says: str
) -> None:
    got, _, err = await cli(dev_saga, *args, extra_env=NO_TEMPORAL)
    assert got == code and says in err and one_line(err) and "tonic" not in err


async def test_replay_edges(dev_saga: Saga) -> None:
    got, _, err = await cli(dev_saga, "replay", "--workflow-id", "NOPE")
    assert got == 4 and one_line(err)
    got, _, err = await cli(dev_saga, "replay", "--query", "bogus")
    assert got == 2 and one_line(err)


async def test_the_log_level_is_honoured_and_checked(dev_saga: Saga) -> None:
    """NUMBERFLOW_LOG_LEVEL: a bad value is a configuration error; debug shows debug lines."""
    got, _, err = await cli(dev_saga, "status", "T-1", extra_env={"NUMBERFLOW_LOG_LEVEL": "loud"})
    assert got == 2 and "NUMBERFLOW_LOG_LEVEL: must be one of debug" in err and one_line(err)
    debug = {**NO_TEMPORAL, "NUMBERFLOW_LOG_LEVEL": "DEBUG"}
    got, _, err = await cli(dev_saga, "status", "T-1", extra_env=debug)
    assert got == 3 and '"level": "debug"' in err and "Traceback" not in err
    got, _, err = await cli(dev_saga, "status", "T-1", extra_env=NO_TEMPORAL)
    assert got == 3 and one_line(err)


async def test_a_profile_that_does_not_exist_is_named(dev_saga: Saga) -> None:
    got, _, err = await cli(dev_saga, "status", "T-1", extra_env={"TEMPORAL_PROFILE": "nosuch"})
    assert got == 2 and "nosuch" in err and "TEMPORAL_ADDRESS" not in err and one_line(err)


async def test_provision_of_a_ticket_that_already_ran_is_refused(dev_saga: Saga) -> None:
    ticket = await _completed(dev_saga)
    args = ("provision", "--ticket", ticket, "--country", "US")
    got, _, err = await cli(dev_saga, *args)
    assert got == 1 and "already has a provisioning (completed)" in err and one_line(err)


def _worker_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACS_")}
    return {**env, **extra}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "ACS_CONNECTION_STRING"),
        ({"ACS_CONNECTION_STRING": "endpoint=https://x;accesskey"}, "ACS_CONNECTION_STRING"),
        ({"ACS_CONNECTION_STRING": "garbage-without-parts"}, "ACS_CONNECTION_STRING"),
        ({"ACS_ENDPOINT": "https://x", "NUMBERFLOW_LOG_LEVEL": "verbose"}, "NUMBERFLOW_LOG_LEVEL"),
    ],
)
def test_the_worker_names_a_bad_setting_in_one_line(env: dict[str, str], named: str) -> None:
    done = _run([sys.executable, "-m", "worker"], _worker_env(**env))
    assert done[0] == 2 and named in done[2] and one_line(done[2])


def _run(command: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    import subprocess

    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("which", ["worker", "ingress"])
def test_processes_wait_for_temporal_and_stop_cleanly(
    which: str, loopback_server: EmulatorServer
) -> None:
    """Started before Temporal: they wait with a log line, and SIGTERM stops them at once."""
    import subprocess

    env = _worker_env(
        TEMPORAL_ADDRESS=f"127.0.0.1:{_free_port()}",
        ACS_CONNECTION_STRING=loopback_server.connection_string,
        NUMBERFLOW_WEBHOOK_SECRETS="webhook-secret-1",
        NUMBERFLOW_LOG_JSON="true",
    )
    command = [sys.executable, "-m", "cli", which]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(4)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert "waiting for Temporal" in err and "Traceback" not in err + out
    assert process.returncode in (0, -signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- false successes ---------------------------------------------------------------------------


async def test_closed_runs_are_refusals_and_unknown_tickets_not_found(dev_saga: Saga) -> None:
    ticket = await _completed(dev_saga)
    got, _, err = await cli(dev_saga, "cancel", ticket)
    assert got == 1 and "already ended completed" in err and one_line(err)
    got, _, err = await cli(dev_saga, "approve", ticket, "--approver", "alice")
    assert got == 1 and "already ended completed" in err and one_line(err)
    got, _, err = await cli(dev_saga, "release", "NOPE")
    assert got == 4 and "no provisioning for ticket NOPE" in err and one_line(err)
    assert not await _exists(dev_saga.client, "release-NOPE")


async def test_the_ingress_refuses_what_has_ended(ingress: Ingress) -> None:
    saga = ingress.saga
    request = base_request(quantity=1, approval=AUTO)
    handle = await saga.start(request)
    await handle.result()
    ticket = request.ticket_id
    for event in (
        {"event": "approved", "ticket_id": ticket, "approver": "alice"},
        {"event": "rejected", "ticket_id": ticket, "approver": "alice", "reason": "late"},
        {"event": "cancelled", "ticket_id": ticket},
    ):
        response = await ingress.post(event)
        assert response.status_code == 409, (event, response.text)
        assert "already ended completed" in response.json()["error"]["message"]
    unknown = await ingress.post({"event": "release_requested", "ticket_id": "T-unknown"})
    assert unknown.status_code == 404
    assert not await _exists(saga.client, "release-T-unknown")


# -- validation that came too late --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("provision", "--ticket", "T-xx", "--country", "XX"), "country_code"),
        (("provision", "--ticket", "T-xx", "--country", "US", "--type", "bogus"), "bogus"),
        (("provision", "--ticket", "T-xx", "--country", "US", "--strategy", "x"), "'x'"),
        (("provision", "--ticket", "T-xx", "--country", "US", "--sms", "maybe"), "maybe"),
        (("sip", "route-test", "12345", "--resource", "https://r.example"), "E.164"),
        (("list", "--stage", "bogus"), "bogus"),
        (("list", "--country", "XX"), "country"),
        (("skip", "T-xx"), "skip needs a reason"),
        (("retry", "T-xx", "--trunk", "not a host"), "--trunk"),
        (("provision", "--file", "request.json", "--ticket", "T-xx"), "drop --ticket"),
        (("provision", "--ticket", "T-xx", "--wait-timeout", "soon"), "'soon' is not a duration"),
        (("status",), "Missing argument 'TICKET'"),
        (("nosuch",), "No such command 'nosuch'"),
    ],
)
async def test_bad_input_is_exit_2_before_anything_starts(
    dev_saga: Saga, args: tuple[str, ...], says: str
) -> None:
    got, _, err = await cli(dev_saga, *args)
    assert got == 2 and says in err and one_line(err), err
    assert not await _exists(dev_saga.client, workflow_id_for("T-xx"))


# -- misleading output --------------------------------------------------------------------------


async def test_approve_prints_the_stage_after_the_decision(dev_saga: Saga) -> None:
    request = base_request(quantity=1, approval={"approvers": ["alice"]})
    handle = await dev_saga.start(request)
    await dev_saga.wait_stage(handle, Stage.AWAITING_APPROVAL)
    got, out, err = await cli(dev_saga, "approve", request.ticket_id, "--approver", "alice")
    assert got == 0, err
    assert "stage now" in out and "stage now awaiting_approval" not in out


async def test_status_after_a_release_shows_the_release(dev_saga: Saga) -> None:
    ticket = await _completed(dev_saga)
    got, _, err = await cli(dev_saga, "release", ticket)
    assert got == 0, err
    got, out, _ = await cli(dev_saga, "status", ticket)
    assert got == 0 and "release: completed" in out and "(released since)" in out
    got, out, _ = await cli(dev_saga, "status", ticket, "--json")
    import json

    life = json.loads(out)
    assert life["stage"] == "completed" and life["release"]["numbers_released"]


async def test_a_second_release_answers_with_the_first(dev_saga: Saga) -> None:
    """Releasing a released ticket starts nothing and says what the release did, and when."""
    ticket = await _completed(dev_saga)
    got, out, err = await cli(dev_saga, "release", ticket, "--json")
    assert got == 0 and len(as_json(out)["numbers_released"]) == 1, err
    release = dev_saga.client.get_workflow_handle(f"release-{ticket}")
    first_run = (await release.describe()).run_id
    got, out, err = await cli(dev_saga, "release", ticket, "--json")
    again = as_json(out)
    assert got == 0 and len(again["numbers_released"]) == 1 and again["already_released_at"]
    got, out, _ = await cli(dev_saga, "release", ticket)
    assert got == 0 and "already released at" in out and "nothing left to release" in out
    assert (await release.describe()).run_id == first_run  # no second run


async def test_a_status_nobody_can_answer_is_503_quickly(dev_saga: Saga) -> None:
    """A saga on a queue no worker polls: 503 within the bound, not a 500 after ~30 s."""
    request = base_request()
    await dev_saga.client.start_workflow(
        "ProvisionNumbersWorkflow",
        request,
        id=workflow_id_for(request.ticket_id),
        task_queue="nobody-polls-this-queue",
    )
    app = create_app(
        dev_saga.client, [SECRET], status_tokens=[STATUS_TOKEN], callback_hosts=CALLBACK_HOSTS
    )
    transport = httpx.ASGITransport(app=app)
    started = time.monotonic()
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://i.test",
        headers={"Authorization": f"Bearer {STATUS_TOKEN}"},
    ) as http:
        response = await http.get(f"/provisionings/{request.ticket_id}")
    assert (
        response.status_code == 503 and "no worker answered" in response.json()["error"]["message"]
    )
    assert time.monotonic() - started < 15
    await dev_saga.client.get_workflow_handle(workflow_id_for(request.ticket_id)).terminate()


# -- hangs ---------------------------------------------------------------------------------------


async def test_reconcile_honours_the_queue_and_refuses_without_a_worker(dev_saga: Saga) -> None:
    started = time.monotonic()
    got, _, err = await cli(
        dev_saga, "reconcile", extra_env={"NUMBERFLOW_TASK_QUEUE": "nobody-polls-this-queue"}
    )
    assert got == 1 and "no worker polls task queue 'nobody-polls-this-queue'" in err
    assert one_line(err) and time.monotonic() - started < 30
    running = [
        w
        async for w in dev_saga.client.list_workflows(
            "WorkflowType = 'ReconcileWorkflow' AND TaskQueue = 'nobody-polls-this-queue'"
        )
    ]
    assert running == []
    got, out, err = await cli(dev_saga, "reconcile", "--json")  # the saga world's queue: a worker
    assert got == 0, err


# -- --wait --------------------------------------------------------------------------------------


async def test_wait_ends_with_a_web_ui_link(dev_saga: Saga) -> None:
    ticket = f"T-wait-{os.getpid()}"
    got, out, err = await cli(
        dev_saga,
        "provision",
        "--ticket",
        ticket,
        "--country",
        "US",
        "--auto-approve-below",
        "100",
        "--wait",
        extra_env={"NUMBERFLOW_WEB_UI": "http://ui.example"},
    )
    assert got == 0, err
    assert "outcome: completed" in out
    assert f"http://ui.example/namespaces/default/workflows/provision-{ticket}" in out


async def test_wait_is_bounded_by_wait_timeout(dev_saga: Saga) -> None:
    """Past --wait-timeout the command says the saga goes on (exit 1); the saga does."""
    ticket = f"T-bound-{os.getpid()}"
    args = ("--ticket", ticket, "--country", "US", "--approver", "alice")
    got, _, err = await cli(dev_saga, "provision", *args, "--wait-timeout", "2s")
    assert got == 1 and one_line(err), err
    assert f"{ticket} is still running after 2 s; the saga goes on" in err
    handle = dev_saga.client.get_workflow_handle(workflow_id_for(ticket))
    dev_saga.handles.append(handle)  # terminated when the test ends: nothing left running
    await dev_saga.wait_stage(handle, Stage.AWAITING_APPROVAL)


async def test_ctrl_c_while_waiting_says_the_saga_goes_on(dev_saga: Saga) -> None:
    ticket = f"T-int-{os.getpid()}"
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev_saga.client.service_client.config.target_host,
        "NUMBERFLOW_TASK_QUEUE": dev_saga.task_queue,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "provision",
        "--ticket",
        ticket,
        "--country",
        "US",
        "--approver",
        "alice",
        "--wait",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    handle = dev_saga.client.get_workflow_handle(workflow_id_for(ticket))
    dev_saga.handles.append(handle)
    try:
        for _ in range(300):
            if await _exists(dev_saga.client, handle.id):
                break
            await asyncio.sleep(0.1)
        await dev_saga.wait_for(handle, lambda s: s.stage is Stage.AWAITING_APPROVAL, timeout=30)
        await asyncio.sleep(1)  # the command is following by now
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 130
    assert b"keeps running" in err and b"Traceback" not in err
    assert (await handle.describe()).status is not None


# -- dev -----------------------------------------------------------------------------------------


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.timeout(180)
def test_dev_stops_everything_on_sigterm(tmp_path: Path) -> None:
    import subprocess

    ports = {name: _free_port() for name in ("temporal", "web-ui", "ingress", "emulator")}
    options = [arg for name, port in ports.items() for arg in (f"--port-{name}", str(port))]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACS_", "TEMPORAL_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "dev", "--data-dir", str(tmp_path), *options],
        cwd=ROOT,
        env={**env, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        seen = ""
        while "logs:" not in seen and time.monotonic() < deadline:
            seen += process.stdout.readline()
        assert f"127.0.0.1:{ports['temporal']}" in seen and all(
            _listening(p) for p in ports.values()
        )
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0, seen + rest
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert not any(_listening(p) for p in ports.values())
    from tests.cli.test_demo import _processes_mentioning

    assert _processes_mentioning(str(tmp_path)) == []


def test_dev_says_which_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        got, _, err = _run(
            [
                sys.executable,
                "-m",
                "cli",
                "dev",
                "--data-dir",
                str(tmp_path),
                *("--port-temporal", "0", "--port-web-ui", "0", "--port-emulator", "0"),
                "--port-ingress",
                str(taken),
            ],
            dict(os.environ),
        )
    assert got == 2 and f"port {taken} (ingress) is taken; use --port-ingress" in err
    assert one_line(err)


def test_a_port_left_in_time_wait_by_a_stopped_stack_is_free() -> None:
    """Restarting ``dev`` at once must not say "taken": only a listening socket takes a port."""
    from cli._stack import _port_is_free

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the server side closes first: its end stays in TIME_WAIT
            client.recv(1)
        assert not _port_is_free(port)  # still listening
    assert _port_is_free(port)


# -- help ----------------------------------------------------------------------------------------


COMMANDS = [
    "provision",
    "retry",
    "skip",
    "abort",
    "abandon",
    "approve",
    "reject",
    "cancel",
    "status",
    "release",
    "reconcile",
    "replay",
    "worker",
    "ingress",
    "emulator",
    "demo",
    "dev",
    "list",
    "codec-server",
    "sip show",
    "sip route-test",
]


@pytest.fixture(scope="module")
def helps() -> dict[str, tuple[int, str, str]]:
    """Every command's ``--help`` as the console script prints it; one interpreter start each,
    four at a time (each is about 1.5 s of imports)."""

    def help_of(command: str) -> tuple[int, str, str]:
        env = {**os.environ, "COLUMNS": "200"}
        return _run([sys.executable, "-m", "cli", *command.split(), "--help"], env)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(COMMANDS, pool.map(help_of, COMMANDS), strict=True))


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example_and_no_type_metavars(
    command: str, helps: dict[str, tuple[int, str, str]]
) -> None:
    got, out, err = helps[command]
    assert got == 0, err
    assert "Example: " in out
    for raw in ("<str>", "<int>", "<bool>", "<list[", "<path>", "<float>", "``"):
        assert raw not in out, (command, raw)


def test_version_and_json_everywhere(helps: dict[str, tuple[int, str, str]]) -> None:
    got, out, _ = _run([sys.executable, "-m", "cli", "--version"], dict(os.environ))
    assert got == 0 and out.startswith("numberflow ")
    services = ("worker", "ingress", "emulator", "demo", "dev", "codec-server")
    for command in COMMANDS:
        if command not in (*services, "approve", "reject"):
            assert "--json" in helps[command][1], command
