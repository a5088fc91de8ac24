"""The production-like compose file and the image, offline: the compose specification's schema,
healthchecks and restart policies, secrets only from the env file, and a Dockerfile that copies
every module the package is made of (no container engine here: nothing is built or run)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
ENV_EXAMPLE = ROOT / "deploy" / "compose.env.example"
SECRET_NAMES = re.compile(r"SECRET|TOKEN|PASSWORD|PWD|PAYLOAD_KEYS|CONNECTION_STRING|ACCESS_KEY")
FROM_ENV_FILE = re.compile(r"\$\{([A-Z_]+):[?-][^}]*\}")


def services() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def test_compose_follows_the_compose_specification() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_service_is_health_checked_and_restarted() -> None:
    stack = services()
    assert {"postgresql", "temporal", "temporal-ui", "setup", "worker", "ingress", "emulator"} <= (
        stack.keys()
    )
    assert stack["worker"]["deploy"]["replicas"] == 2
    one_shots = {
        name
        for name, service in stack.items()
        for dependant in stack.values()
        if (dependant.get("depends_on") or {}).get(name, {}).get("condition")
        == "service_completed_successfully"
    }
    for name, service in stack.items():
        assert service.get("restart") in ("unless-stopped", "on-failure"), name
        check = service["healthcheck"]
        if name in one_shots:
            assert check == {"disable": True} and service["restart"] == "on-failure", name
        else:
            assert check["test"] and check["interval"], name
        for dependency, condition in (service.get("depends_on") or {}).items():
            wanted = (
                "service_completed_successfully" if dependency in one_shots else ("service_healthy")
            )
            assert condition == {"condition": wanted}, (name, dependency)


def test_secrets_come_only_from_the_env_file() -> None:
    documented = set(re.findall(r"^([A-Z_]+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    referenced: set[str] = set()
    for name, service in services().items():
        for variable, value in (service.get("environment") or {}).items():
            if SECRET_NAMES.search(variable):
                match = FROM_ENV_FILE.fullmatch(str(value))
                assert match, (name, variable, "must be ${NAME:?...} from the env file")
                referenced.add(match.group(1))
        referenced |= set(FROM_ENV_FILE.findall(str(service.get("command", ""))))
    assert referenced <= documented, sorted(referenced - documented)
    assert "accesskey=ZW" not in COMPOSE.read_text()  # the emulator's key is not written down
    for line in ENV_EXAMPLE.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            name, value = line.split("=", 1)
            assert not value.removeprefix("endpoint=http://emulator:8787;accesskey="), name


def test_the_image_copies_every_module_of_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {name.rstrip("*") for name in project["packages"]["find"]["include"]}
    modules = {f"{name}.py" for name in project["py-modules"]}
    copied: set[str] = set()
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copied |= {part.rstrip("/") for part in line.split()[1:-1]}
    assert packages | modules <= copied, sorted((packages | modules) - copied)
    assert re.search(r"^USER \d+:\d+$", DOCKERFILE.read_text(), re.MULTILINE), "numeric user"
    assert ":latest" not in DOCKERFILE.read_text()
