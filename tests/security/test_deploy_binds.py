"""Finding 4 in deployment: published ports bind to loopback, and no secret is written down."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yaml"
SECRET_VARIABLES = (
    "NUMBERFLOW_WEBHOOK_SECRETS",
    "NUMBERFLOW_STATUS_TOKENS",
    "NUMBERFLOW_CALLBACK_SECRET",
    "NUMBERFLOW_PAYLOAD_KEYS",
)


def test_compose_publishes_on_loopback_only() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    published = [port for service in services.values() for port in service.get("ports", [])]
    assert published
    assert all(str(port).startswith("127.0.0.1:") for port in published), published


def test_compose_takes_secrets_from_the_environment() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for service in services.values():
        for name, value in (service.get("environment") or {}).items():
            if name in SECRET_VARIABLES:
                assert re.fullmatch(r"\$\{[A-Z_]+:[?-][^}]*\}", str(value)), (name, value)
