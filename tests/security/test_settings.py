"""Finding 6: a misconfigured process names the variable and the problem, never a value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from settings import IngressSettings, Settings, SettingsError, load

ROOT = Path(__file__).resolve().parents[2]
SECRET = "cb-secret-" + "Zq8v4Lw2Xk9T"


def _fragments(value: str, size: int = 4) -> list[str]:
    return [value[i : i + size] for i in range(len(value) - size + 1)]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"NUMBERFLOW_CALLBACK_SECRET": SECRET}, "ACS_CONNECTION_STRING"),
        (
            {
                "NUMBERFLOW_CALLBACK_SECRET": SECRET,
                "ACS_CONNECTION_STRING": SECRET,
                "ACS_ENDPOINT": SECRET,
            },
            "ACS_CONNECTION_STRING",
        ),
        (
            {"ACS_ENDPOINT": "https://x", "NUMBERFLOW_PAYLOAD_KEYS": f"k1:{SECRET}"},
            "NUMBERFLOW_PAYLOAD_KEYS",
        ),
        ({"ACS_ENDPOINT": "https://x", "NUMBERFLOW_LOG_JSON": SECRET}, "NUMBERFLOW_LOG_JSON"),
    ],
)
def test_errors_name_the_variable_not_the_value(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key in ("ACS_CONNECTION_STRING", "ACS_ENDPOINT", "NUMBERFLOW_PAYLOAD_KEYS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as error:
        load(Settings)
    message = str(error.value)
    assert named in message and "\n" not in message
    assert not [f for f in _fragments(SECRET) if f in message.replace("NUMBERFLOW", "")]


def test_a_missing_ingress_secret_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUMBERFLOW_WEBHOOK_SECRETS", raising=False)
    with pytest.raises(SettingsError, match="NUMBERFLOW_WEBHOOK_SECRETS"):
        load(IngressSettings)


def test_the_worker_process_prints_one_line_without_the_secret() -> None:
    """``python -m worker`` (the image's command) with a secret set and no ACS settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACS_")}
    env["NUMBERFLOW_CALLBACK_SECRET"] = SECRET
    done = subprocess.run(
        [sys.executable, "-m", "worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "ACS_CONNECTION_STRING" in done.stderr
    assert not [f for f in _fragments(SECRET) if f in done.stderr + done.stdout]
