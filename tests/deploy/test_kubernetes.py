"""The Kubernetes manifests, offline: each overlay renders with kustomize, every object is valid
against the Kubernetes schemas, and the rendered objects keep the rules a platform team asks
for (non-root, read-only, probes, resources, grace period, no literal secret, pinned image)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from settings import IngressSettings, Settings

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ("dev", "production")
KUBERNETES_VERSION = "1.32.0"
CUSTOM_RESOURCES = {"monitoring.coreos.com/v1": {"ServiceMonitor"}}
"""Kinds without a schema in kubernetes-validate (CRDs), checked by hand below."""
SECRET_NAMES = re.compile(
    r"SECRET|TOKEN|PASSWORD|PAYLOAD_KEYS|CONNECTION_STRING|API_KEY|ACCESS_KEY"
)
TEMPORAL_VARIABLES = {
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_SERVER_NAME",
    "TEMPORAL_PROFILE",
}


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize) is needed to render deploy/k8s"
    done = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "deploy" / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def of_kind(overlay: str, kind: str) -> list[dict[str, Any]]:
    return [doc for doc in rendered(overlay) if doc["kind"] == kind]


def named(overlay: str, kind: str, name: str) -> dict[str, Any]:
    return next(doc for doc in of_kind(overlay, kind) if doc["metadata"]["name"] == name)


def numberflow_workloads(overlay: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, pod spec) of every Deployment and Job of numberflow itself."""
    for doc in rendered(overlay):
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def known_variables() -> set[str]:
    names = set(TEMPORAL_VARIABLES)
    for settings in (Settings, IngressSettings):
        for name, field in settings.model_fields.items():
            names.add((field.alias or name).upper())
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_kubernetes(overlay: str) -> None:
    docs = rendered(overlay)
    assert len(docs) >= 12
    for doc in docs:
        if doc["kind"] in CUSTOM_RESOURCES.get(doc["apiVersion"], set()):
            assert doc["spec"], doc["metadata"]["name"]
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_non_root_read_only_with_probes_and_resources(overlay: str) -> None:
    for name, pod in numberflow_workloads(overlay):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] >= 10000, name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), name
            assert "memory" in resources["limits"], name
            if name != "numberflow-setup":  # a Job runs to completion: nothing to probe
                assert "livenessProbe" in container and "readinessProbe" in container, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_worker_drains_before_it_is_killed(overlay: str) -> None:
    config = named(overlay, "ConfigMap", "numberflow-config")["data"]
    shutdown = float(
        config.get(
            "NUMBERFLOW_GRACEFUL_SHUTDOWN_SECONDS",
            Settings.model_fields["graceful_shutdown_seconds"].default,
        )
    )
    worker = named(overlay, "Deployment", "numberflow-worker")["spec"]["template"]["spec"]
    assert worker["terminationGracePeriodSeconds"] > shutdown
    container = worker["containers"][0]
    metrics_port = int(config["NUMBERFLOW_METRICS_ADDRESS"].rsplit(":", 1)[1])
    assert {"name": "metrics", "containerPort": metrics_port} in container["ports"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_is_written_in_the_manifests(overlay: str) -> None:
    assert not [d for d in of_kind(overlay, "Secret") if d.get("data") or d.get("stringData")]
    for doc in of_kind(overlay, "ConfigMap"):
        leaked = [key for key in doc["data"] if SECRET_NAMES.search(key)]
        assert not leaked, f"{doc['metadata']['name']}: {leaked}"
    for name, pod in numberflow_workloads(overlay):
        for container in pod["containers"]:
            for variable in container.get("env", []):
                if SECRET_NAMES.search(variable["name"]) and "value" in variable:
                    assert variable["name"].endswith("_FILE"), (name, variable["name"])
                    assert variable["value"].startswith("/var/run/secrets/"), (name, variable)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_config_names_only_settings_that_exist(overlay: str) -> None:
    """A misspelt variable would be ignored silently by the process: none may be."""
    known = known_variables()
    config = named(overlay, "ConfigMap", "numberflow-config")["data"]
    assert set(config) <= known, sorted(set(config) - known)
    for _, pod in numberflow_workloads(overlay):
        for container in pod["containers"]:
            for variable in container.get("env", []):
                base = variable["name"].removesuffix("_FILE")
                if base.startswith(("NUMBERFLOW_", "ACS_", "TEMPORAL_")):
                    assert base in known or base == "TEMPORAL_API_KEY", variable["name"]


def test_production_pins_its_image_and_talks_tls_to_an_external_temporal() -> None:
    for name, pod in numberflow_workloads("production"):
        for container in pod["containers"]:
            image = container["image"]
            assert re.fullmatch(r"[\w.\-/]+:[\w.\-]+", image), (name, image)
            assert not image.endswith(":latest"), (name, image)
            mounts = {m["name"] for m in container["volumeMounts"]}
            assert "temporal-tls" in mounts, name
    config = named("production", "ConfigMap", "numberflow-config")["data"]
    assert config["TEMPORAL_TLS"] == "true"
    assert not config["TEMPORAL_ADDRESS"].startswith("numberflow-")  # not the dev server


def test_production_scales_and_survives_disruption() -> None:
    worker = named("production", "Deployment", "numberflow-worker")
    labels = worker["spec"]["template"]["metadata"]["labels"]
    hpa = named("production", "HorizontalPodAutoscaler", "numberflow-worker")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "numberflow-worker"
    assert hpa["minReplicas"] >= 2
    pdb = named("production", "PodDisruptionBudget", "numberflow-worker")["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert labels["azure.workload.identity/use"] == "true"
    account = named("production", "ServiceAccount", "numberflow")
    assert "azure.workload.identity/client-id" in account["metadata"]["annotations"]
    env = {v["name"] for v in worker["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "ACS_CONNECTION_STRING_FILE" not in env  # Entra ID instead of an access key


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_and_policies_select_pods_that_exist(overlay: str) -> None:
    pod_labels = [
        doc["spec"]["template"]["metadata"]["labels"] for doc in of_kind(overlay, "Deployment")
    ]
    for service in of_kind(overlay, "Service"):
        selector = service["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in pod_labels), service
    policies = of_kind(overlay, "NetworkPolicy")
    deny = next(p for p in policies if p["metadata"]["name"] == "numberflow-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    worker = next(p for p in policies if p["metadata"]["name"] == "numberflow-worker")
    public = worker["spec"]["egress"][0]["to"][0]["ipBlock"]
    assert "169.254.0.0/16" in public["except"] and "10.0.0.0/8" in public["except"]
