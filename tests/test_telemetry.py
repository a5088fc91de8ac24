"""The worker's metrics and probes: a real ``python -m worker`` with NUMBERFLOW_METRICS_ADDRESS,
a saga through it, and a scrape of what an operator's Prometheus would read."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import yaml
from prometheus_client import CollectorRegistry, generate_latest, make_asgi_app
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RetryConfig
from temporalio.testing import WorkflowEnvironment

from acs import PhoneNumbersClient
from contracts import metrics
from contracts.ids import workflow_id_for
from contracts.provision import Intervention, InterventionKind, ProvisionRequest, Rejection, Stage
from emulator import EmulatorServer
from ingress import create_app
from provisioning import intervene, start_release
from telemetry import acs_request_hooks, metrics_runtime, probe_app
from tests.conftest import FAST, EmulatorEnv
from tests.deploy.test_alert_rules import series_in_unit_tests
from tests.leaks import SCANNER
from tests.loopback import LoopbackServer
from tests.prometheus import Prometheus, running_prometheus
from tests.world import CONVERTER, base_request
from workflows import ProvisionNumbersWorkflow

ROOT = Path(__file__).resolve().parents[1]
AUTO = {"mode": "auto_under_cost", "auto_approve_below": "100"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:_total)?(\{{.*\}})?\s+([0-9.e+-]+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


UNVERIFIED = {"trunks": [{"fqdn": "sbc.unverified.net", "port": 5061}]}
RELEASE_LOCKED = {
    "operation": "PhoneNumbers_ReleasePhoneNumber",
    "action": {"type": "status", "status": 403, "code": "InsufficientPermissions"},
}
THROTTLED_ONCE = {
    "method": "GET",
    "path": "^/phoneNumbers/",
    "times": 1,
    "action": {"type": "status", "status": 429, "code": "TooManyRequests", "retryAfter": 1},
}


async def _until(handle: WorkflowHandle[Any, Any], stage: Stage, step: str | None = None) -> None:
    for _ in range(300):
        status = await handle.query(ProvisionNumbersWorkflow.status)
        if status.stage is stage and (
            step is None or (status.attention and status.attention.step == step)
        ):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{handle.id} never reached {stage} {step or ''}")


async def _scrape_until(http: httpx.AsyncClient, name: str, value: float, **labels: str) -> str:
    """The worker's metrics once ``name`` reads ``value`` (a gauge set every half second)."""
    for _ in range(100):
        text = (await http.get("/metrics")).text
        if _value(text, name, **labels) == value:
            return text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} {labels} never read {value}")


async def test_sagas_show_in_the_worker_metrics_and_the_dashboards_read_them(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """One worker process; sagas completed, released, rejected, throttled, parked, abandoned.

    Every metric the Grafana dashboard and the alert rules query is one this scrape (or the
    ingress's) really holds; and a real Prometheus scraping the worker and the ingress sees
    the alerts the faults cause (a saga parked: pending; one ending compensation_failed:
    firing) and answers every dashboard query with data.
    """
    port, queue = _free_port(), f"metrics-{uuid.uuid4().hex[:8]}"
    acs = EmulatorServer(FAST).start()
    ingress_registry = CollectorRegistry()
    closing = contextlib.ExitStack()  # closed with the worker, in the finally below
    ingress_metrics = closing.enter_context(LoopbackServer(make_asgi_app(ingress_registry)))
    prometheus = closing.enter_context(
        running_prometheus(
            tmp_path / "prometheus",
            {"worker": f"127.0.0.1:{port}", "ingress": ingress_metrics.url.split("//")[1]},
            [OBSERVABILITY / "alerts.yaml"],
        )
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ACS_")},
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "ACS_CONNECTION_STRING": acs.connection_string,
        "NUMBERFLOW_TASK_QUEUE": queue,
        "NUMBERFLOW_METRICS_ADDRESS": f"127.0.0.1:{port}",
        "NUMBERFLOW_STAGE_COUNT_SECONDS": "0.5",
        "NUMBERFLOW_LOG_JSON": "true",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    client = dev_env.client

    async def start(request: ProvisionRequest) -> WorkflowHandle[Any, Any]:
        return await client.start_workflow(
            ProvisionNumbersWorkflow.run,
            request,
            id=workflow_id_for(request.ticket_id),
            task_queue=queue,
        )

    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(200):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            acs.app.emulator.faults.add(THROTTLED_ONCE)
            completed = base_request(approval=AUTO)
            assert (await (await start(completed)).result()).outcome is Stage.COMPLETED
            release = (await start_release(client, completed.ticket_id, queue)).handle
            assert len((await release.result()).numbers_released) == 2

            rejected = await start(base_request())
            await _until(rejected, Stage.AWAITING_APPROVAL)
            await _scrape_until(http, metrics.PROVISIONINGS_IN_STAGE, 1, stage="awaiting_approval")
            await rejected.execute_update(
                ProvisionNumbersWorkflow.reject, Rejection(approver="carol", reason="no")
            )
            assert (await rejected.result()).outcome is Stage.REJECTED

            acs.app.emulator.faults.add(RELEASE_LOCKED)
            parked_request = base_request(routing=UNVERIFIED, approval=AUTO)
            parked = await start(parked_request)
            await _until(parked, Stage.NEEDS_ATTENTION, "routing")
            await _scrape_until(http, metrics.PROVISIONINGS_IN_STAGE, 1, stage="needs_attention")
            await prometheus.until_alert("NumberflowNeedsAttention", {"pending"})
            give_up = Intervention(action=InterventionKind.ABORT, by="ops", reason="give up")
            await intervene(client, parked_request.ticket_id, give_up)
            await _until(parked, Stage.NEEDS_ATTENTION, "compensation")
            by_hand = Intervention(action=InterventionKind.ABANDON, by="ops", reason="by hand")
            await intervene(client, parked_request.ticket_id, by_hand)
            await _until(parked, Stage.COMPENSATION_FAILED)
            text = await _scrape_until(
                http, metrics.PROVISIONINGS_IN_STAGE, 0, stage="needs_attention"
            )
            await _ingress_requests(client, ingress_registry)
            await prometheus.until_alert("NumberflowCompensationFailed", {"firing"})
            await _assert_dashboard_answers(prometheus, queue)
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
        SCANNER.scan_log_file("metrics worker", err)
        acs.stop()
        closing.close()
    ours = {"task_queue": queue}
    assert _value(text, metrics.PROVISIONINGS_STARTED, **ours) == 3
    assert _value(text, metrics.PROVISIONINGS_ENDED, outcome="completed", **ours) == 1
    assert _value(text, metrics.PROVISIONINGS_ENDED, outcome="rejected", **ours) == 1
    assert _value(text, metrics.PROVISIONINGS_ENDED, outcome="failed", **ours) == 1
    assert _value(text, metrics.NUMBERS_PURCHASED, **ours) == 4
    assert _value(text, metrics.MONTHLY_COST_COMMITTED, currency="USD", **ours) == 400
    assert _value(text, metrics.NUMBERS_RELEASED, **ours) == 2
    assert _value(text, metrics.STAGE_SECONDS + "_count", stage="purchasing", **ours) == 2
    assert _value(text, metrics.COMPENSATIONS, step="hold", result="succeeded", **ours) == 2
    assert _value(text, metrics.COMPENSATIONS, step="numbers", result="failed", **ours) >= 1
    assert _value(text, metrics.NEEDS_ATTENTION, step="routing", error_code="MissingDomain") == 1
    assert _value(text, metrics.COMPENSATION_FAILED, **ours) == 1
    assert _value(text, metrics.ACS_LRO_POLLS, operation="reservationPurchase", **ours) >= 1
    assert _value(text, metrics.ACS_LRO_POLLS, operation="release", **ours) >= 2
    assert _value(text, metrics.ACS_THROTTLED) == 1
    assert "temporal_workflow_completed" in text  # the SDK's own metrics, same endpoint
    assert _value(text, metrics.ACS_REQUESTS, status_class="2xx") > 5
    assert 'operation="GET /phoneNumbers/{number}"' in text
    assert not re.search(r"(%2B|\+)\d{8,}", text), "a phone number became a label"
    _assert_dashboards_read(text + await _ingress_scrape())
    _assert_alert_tests_use_scraped_label_sets(text)


async def test_readyz_fails_while_temporal_is_down() -> None:
    unreachable = await Client.connect(
        f"127.0.0.1:{_free_port()}",
        lazy=True,
        data_converter=CONVERTER,
        retry_config=RetryConfig(max_retries=0),
    )
    running = True
    app = probe_app("http://127.0.0.1:1/metrics", unreachable, lambda: running)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://w"
    ) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 503
        running = False
        assert (await http.get("/healthz")).status_code == 503


async def test_throttled_answers_and_their_retry_after_are_measured(asgi_env: EmulatorEnv) -> None:
    runtime, scrape_url = metrics_runtime()
    async with asgi_env.admin() as admin:
        await admin.post(
            "/faults",
            json={
                "path": "^/phoneNumbers$",
                "times": 1,
                "action": {"type": "status", "status": 429, "retryAfter": 1},
            },
        )
    async with (
        httpx.AsyncClient(
            transport=asgi_env.transport, event_hooks=acs_request_hooks(runtime)
        ) as http,
        PhoneNumbersClient.from_connection_string(
            asgi_env.connection_string, http_client=http
        ) as numbers,
    ):
        assert [n async for n in numbers.list_purchased_phone_numbers()] == []
        async with httpx.AsyncClient() as scrape:
            text = (await scrape.get(scrape_url)).text
    listing = {"operation": "GET /phoneNumbers"}
    assert _value(text, metrics.ACS_THROTTLED, **listing) == 1
    assert _value(text, metrics.ACS_RETRY_AFTER_SECONDS + "_sum", **listing) == 1
    assert _value(text, metrics.ACS_REQUESTS, status_class="2xx", **listing) == 1


OBSERVABILITY = ROOT / "deploy" / "observability"
_TEMPLATE_VARIABLE = re.compile(r"\$\{?(\w+)\}?")


async def _ingress_scrape() -> str:
    """What the ingress's own metrics listener serves after a request."""
    registry = CollectorRegistry()
    unreachable = await Client.connect(
        "127.0.0.1:1", lazy=True, data_converter=CONVERTER, retry_config=RetryConfig(max_retries=0)
    )
    app = create_app(unreachable, ["s" * 16], metrics_registry=registry)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://i.test"
    ) as http:
        await http.get("/healthz")
    return generate_latest(registry).decode()


async def _ingress_requests(client: Client, registry: CollectorRegistry) -> None:
    """A few requests through an ingress that counts into ``registry`` (served to Prometheus)."""
    app = create_app(client, ["s" * 16], metrics_registry=registry)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://i.test"
    ) as http:
        for _ in range(3):
            await http.get("/healthz")
            await http.post("/webhooks/tickets", content=b"{}")  # unsigned: 401


def _dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    return [
        (f"panel {panel['title']!r}", target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


async def _assert_dashboard_answers(prometheus: Prometheus, queue: str) -> None:
    """Every panel's query, as Grafana sends it for this task queue, answers with data."""
    await asyncio.sleep(3)  # a few more scrapes after the last change: rates have two samples
    for where, expr in _dashboard_queries():
        concrete = expr.replace("$task_queue", queue).replace("$__rate_interval", "1m")
        answer = await prometheus.query(concrete)
        assert answer["status"] == "success", f"{where}: {answer.get('error')}"
        assert answer["data"]["result"], f"{where}: no data for {concrete}"


def _queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every dashboard panel and alert rule."""
    found = _dashboard_queries()
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert {"alert", "expr", "for", "labels", "annotations"} <= rule.keys(), rule
            assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["runbook"], rule["alert"]
            found.append((f"alert {rule['alert']}", rule["expr"]))
    return found


def _metric_names(node: Any) -> set[str]:
    """The metric names a parsed PromQL expression selects."""
    if isinstance(node, promql_parser.VectorSelector):
        return {node.name} if node.name else set()
    names: set[str] = set()
    for attribute in ("lhs", "rhs", "expr", "param", "vector_selector"):
        child = getattr(node, attribute, None)
        if child is not None:
            names |= _metric_names(child)
    for argument in getattr(node, "args", None) or ():
        names |= _metric_names(argument)
    return names


def _assert_alert_tests_use_scraped_label_sets(scraped: str) -> None:
    """The alert rules' unit tests feed series a real worker serves, with its label names.

    A rule can match its metric's name and still never fire when it selects or groups by a
    label the series never carry; series made up in a unit test would hide that.
    """
    served: dict[str, set[frozenset[str]]] = {}
    for line in scraped.splitlines():
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}\s", line)
        if match:
            labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', match.group(2)))
            served.setdefault(match.group(1), set()).add(labels)
    for name, labels in series_in_unit_tests():
        assert name in served, f"the alert tests feed {name}, which no worker serves"
        assert labels in served[name], f"{name}{sorted(labels)}: served as {served[name]}"


def _assert_dashboards_read(scraped: str) -> None:
    exported = {
        line.split("{")[0].split(" ")[0]
        for line in scraped.splitlines()
        if line and not line.startswith("#")
    }
    queries = _queries()
    assert len(queries) >= 10
    for where, expr in queries:
        concrete = expr.replace("$__rate_interval", "5m")
        names = _metric_names(promql_parser.parse(_TEMPLATE_VARIABLE.sub("x", concrete)))
        assert names, f"{where}: selects no metric"
        missing = names - exported
        assert not missing, f"{where}: {sorted(missing)} are not exported"
