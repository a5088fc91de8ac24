"""``numberflow demo`` end to end in a subprocess: exit 0, the outcome printed, nothing left running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.leaks import SCANNER

ROOT = Path(__file__).resolve().parents[2]


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
            except OSError:
                continue
            if text in command and "pytest" not in command:
                found.append(command)
    return found


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """A fresh data folder, free ports, a completed sample ticket, and a clean exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACS_", "TEMPORAL_"))}
    env["COLUMNS"] = "200"
    completed = subprocess.run(
        [sys.executable, "-m", "cli", "demo", "--data-dir", str(tmp_path / "data")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "outcome: completed" in completed.stdout
    assert "route: ticket-DEMO-" in completed.stdout and "sbc1.example.com" in completed.stdout
    assert "numberflow dev` keeps a stack and its Web UI running" in completed.stdout
    assert "signed callbacks received: reserving, awaiting_approval, purchasing" in completed.stdout
    assert (tmp_path / "data" / "temporal.db").exists()
    log = (tmp_path / "data" / "numberflow.log").read_text()
    assert '"level": "info"' in log
    SCANNER.scan_log_file("demo log", log)
    assert _processes_mentioning(str(tmp_path)) == []


def test_dev_keeps_running_until_interrupted(tmp_path: Path) -> None:
    """``numberflow dev`` prints where everything listens, serves, and stops on Ctrl-C."""
    import signal
    import time

    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACS_", "TEMPORAL_"))}
    env["COLUMNS"] = "200"
    process = subprocess.Popen(
        [
            *(
                sys.executable,
                "-m",
                "cli",
                "dev",
                "--encrypt",
                "--data-dir",
                str(tmp_path / "data"),
            ),
            *("--port-temporal", "0", "--port-web-ui", "0", "--port-ingress", "0"),
            *("--port-emulator", "0"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while not any("logs:" in line for line in lines) and time.monotonic() < deadline:
            lines.append(process.stdout.readline())
        ingress = (
            next(line for line in lines if "ingress:" in line).split("ingress:")[1].strip(" │\n")
        )
        assert httpx.get(f"{ingress}/readyz", timeout=10).status_code == 200
        assert httpx.get(f"{ingress}/provisionings/T-1", timeout=10).status_code == 401
        assert any("payloads: encrypted; codec server http://127.0.0.1:" in line for line in lines)
        temporal = next(line for line in lines if "Temporal:" in line).split("Temporal:")[1]
        check = subprocess.run(  # the stack is what a worker makes at start: nothing to set up
            [sys.executable, "-m", "cli", "setup", "--check", "--json"],
            cwd=ROOT,
            env={**env, "TEMPORAL_ADDRESS": temporal.strip(" │\n")},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert _processes_mentioning(str(tmp_path)) == []
