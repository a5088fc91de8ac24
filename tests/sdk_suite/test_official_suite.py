"""The official SDK's own live tests, unchanged, against the emulator: the emulator's fidelity check.

``azure-communication-phonenumbers`` ships its live test suite in its source distribution on
the package index. This test fetches that distribution for the installed SDK version (cached in
``.numberflow/sdk-suite/``), takes its four live test files (phone numbers and SIP routing, sync
and async) and runs them with pytest in live mode against an emulator on 127.0.0.1, with:

* the smallest stand-ins for the helpers the suite imports but the index does not carry
  (``standins/``: numberflow's own code, nothing of the suite is copied into the repository);
* HTTPS, as the suite always uses (the SDK prepends ``https://`` to the endpoint), through a
  throwaway CA (``trustme``) the SDK's transports are told to trust;
* what a live resource already has, set up through the emulator's admin API: one owned number,
  one reservation, a verified SIP domain; and a bearer token the emulator accepts, for the
  suite's "managed identity" tests;
* a guard that refuses any connection leaving loopback.

It fails on any failed test, and on any skip but the suite's own: it never buys numbers live.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import secrets
import ssl
import subprocess
import sys
import tarfile
import uuid
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

import httpx
import pytest
import trustme

from emulator import EmulatorConfig, EmulatorServer

pytestmark = pytest.mark.slow

SDK = "azure-communication-phonenumbers"
SUITE = (
    "test_phone_number_administration_client.py",
    "test_phone_number_administration_client_async.py",
    "test_sip_routing_client_e2e.py",
    "test_sip_routing_client_e2e_async.py",
)
SUITES_OWN_SKIP = "Phone numbers shouldn't be purchased in live tests"
"""The suite skips its purchase tests in every live run (three sync, three async)."""
SUITES_OWN_SKIPS = 6
SIP_DOMAIN = "testdomain.com"
AGENT = "numberflow"
ROOT = Path(__file__).resolve().parents[2]
STANDINS = Path(__file__).parent / "standins"


def official_tests(into: Path) -> None:
    """The suite's files of the installed SDK version, from its source distribution."""
    version = importlib.metadata.version(SDK)
    cache = ROOT / ".numberflow" / "sdk-suite" / version
    archive = next(cache.glob("*.tar.gz"), None)
    if archive is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", f"{SDK}=={version}", "--no-binary",
             ":all:", "--no-deps", "--quiet", "--dest", str(cache)],
            check=True,
            timeout=300,
        )  # fmt: skip
        archive = next(cache.glob("*.tar.gz"))
    with tarfile.open(archive) as sdist:
        members = {Path(m.name).name: m for m in sdist.getmembers() if "/test/" in m.name}
        for name in SUITE:
            source = sdist.extractfile(members[name])
            assert source is not None, f"{name} is not a file in {archive.name}"
            (into / name).write_bytes(source.read())
    (into / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "addopts = -p loopback_guard -p no:cacheprovider\n"
    )


async def owned_number_and_reservation(server: EmulatorServer, ca: Path) -> str:
    """What a live resource already has: an owned US toll-free number and a reservation."""
    trusted = ssl.create_default_context(cafile=str(ca))
    number = next(
        n
        for n in server.app.emulator.numbers.inventory.values()
        if (n.country_code, n.phone_number_type) == ("US", "tollFree")
    ).phone_number
    async with httpx.AsyncClient(base_url=server.endpoint, verify=trusted) as admin:
        bought = await admin.post("/_emulator/numbers/purchase", json={"phoneNumber": number})
        assert bought.status_code == 201, bought.text
        held = await admin.post("/_emulator/reservations", json={"id": str(uuid.uuid4())})
        assert held.status_code == 201, held.text
        domain = await admin.post("/_emulator/sip/domains", json={"domain": SIP_DOMAIN})
        assert domain.status_code == 201, domain.text
    return number


def suite_environment(server: EmulatorServer, ca: Path, token: str, number: str) -> dict[str, str]:
    """The variables the suite reads in live mode, all pointing at the emulator."""
    connection = f"endpoint={server.endpoint}/;accesskey={server.config.access_key}"
    quiet = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    return {
        **quiet,
        "PYTHONPATH": str(STANDINS),
        "AZURE_TEST_RUN_LIVE": "true",
        "AZURE_SKIP_LIVE_RECORDING": "true",
        "COMMUNICATION_LIVETEST_STATIC_CONNECTION_STRING": connection,
        "COMMUNICATION_LIVETEST_DYNAMIC_CONNECTION_STRING": connection,
        "AZURE_TEST_AGENT": AGENT,
        f"AZURE_PHONE_NUMBER_{AGENT}": number,
        f"AZURE_TEST_DOMAIN_{AGENT}": SIP_DOMAIN,
        "AZURE_COMMUNICATION_SERVICE_COUNTRY_CODE": "US",
        "NUMBERFLOW_EMULATOR_TOKEN": token,
        "REQUESTS_CA_BUNDLE": str(ca),  # requests (the sync clients)
        "SSL_CERT_FILE": str(ca),  # aiohttp's default context (the async clients)
        "NO_PROXY": "*",
    }


def outcomes(report: Path) -> tuple[Counter[str], list[str], list[str]]:
    """Counts by outcome, the failures (with their first line), the skip reasons."""
    counts: Counter[str] = Counter()
    failures: list[str] = []
    skips: list[str] = []
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}.{case.get('name')}"
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        skipped = case.find("skipped")
        if problem is not None:
            counts["failed"] += 1
            failures.append(f"{name}: {(problem.get('message') or '').splitlines()[0][:300]}")
        elif skipped is not None:
            counts["skipped"] += 1
            skips.append(skipped.get("message") or "")
        else:
            counts["passed"] += 1
    return counts, failures, skips


@pytest.mark.timeout(900)
async def test_the_official_live_suite_passes_against_the_emulator(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    await asyncio.to_thread(official_tests, suite)
    ca = trustme.CA()
    chain, key, ca_file = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    served = ca.issue_cert("127.0.0.1", "localhost")
    served.cert_chain_pems[0].write_to_path(str(chain))
    for more in served.cert_chain_pems[1:]:
        more.write_to_path(str(chain), append=True)
    served.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    token = secrets.token_urlsafe(24)
    # Retry-After on polls: the SDK's pollers wait that instead of their 5 s default. Timing
    # only (the service sends none); the suite checks what the answers say, not when.
    config = EmulatorConfig(lro_seconds=0.1, bearer_tokens=frozenset({token}), lro_retry_after=1)
    with EmulatorServer(config, tls=(chain, key)) as server:
        number = await owned_number_and_reservation(server, ca_file)
        report = tmp_path / "junit.xml"
        run = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "pytest", "-q", f"--junitxml={report}", *SUITE],
            cwd=suite,
            env=suite_environment(server, ca_file, token, number),
            capture_output=True,
            text=True,
            timeout=840,
        )
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    counts, failures, skips = outcomes(report)
    assert failures == [], "\n".join(failures)
    assert skips == [SUITES_OWN_SKIP] * SUITES_OWN_SKIPS, skips
    assert counts["passed"] > 100, (counts, run.stdout[-2000:])
