"""The operator's real path to a saga's payloads: the Temporal Web UI in a browser, decoding
through numberflow's codec server, as ``numberflow dev --encrypt`` sets them up.

Headless Chromium (Debian's package, ``make tools``) driven by Playwright opens the saga's
history page. With the codec server the request shows decoded (its fields are on the page);
with the browser cut off from the codec server the same page shows only ciphertext. A
screenshot of each is left in ``.numberflow/artifacts/``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Route, async_playwright

from cli._stack import LocalStack, local_stack
from provisioning import start_provisioning
from tests.world import base_request

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".numberflow" / "artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # this machine's network is closed: no calls home
    "--disable-component-update",
    "--disable-sync",
]
CIPHERTEXT = re.compile(r"[A-Za-z0-9+/]{200,}")
"""How an encrypted payload looks on the page: its base64, nothing readable."""
RENDERED = 30_000
"""Milliseconds the page may take to show the input (the UI loads, then decodes)."""


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is missing: make tools installs Debian's chromium package")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


async def _history_page(
    browser: Browser, stack: LocalStack, url: str, screenshot: Path, codec: bool
) -> str:
    """The text of the saga's history page once its input is shown; a screenshot of it."""
    page = await browser.new_page(viewport={"width": 1400, "height": 1600})
    try:
        if not codec:  # the codec server switched off, as the browser sees it

            async def unreachable(route: Route) -> None:
                await route.abort("connectionrefused")

            assert stack.codec_url is not None
            await page.route(f"{stack.codec_url}/**", unreachable)
        await page.goto(url, wait_until="load")
        if codec:  # the request's fields, once the UI has had them decoded
            await page.get_by_text('"assignment_type"').first.wait_for(timeout=RENDERED)
        else:  # the input is one long base64 string: wait until the page shows it
            await page.get_by_text(CIPHERTEXT).first.wait_for(timeout=RENDERED)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(screenshot), full_page=True)
        return await page.inner_text("body")
    finally:
        await page.close()


@pytest.mark.timeout(180)
async def test_the_web_ui_shows_decoded_payloads_only_through_the_codec_server(
    browser: Browser, tmp_path: Path
) -> None:
    async with local_stack(tmp_path / "dev", encrypt=True) as stack:
        request = base_request(ticket_id="T-WEB-UI-1")
        run = await start_provisioning(stack.client, request, stack.task_queue)
        url = f"{stack.web_ui}/namespaces/default/workflows/{run.workflow_id}/{run.run_id}/history"
        decoded = await _history_page(
            browser, stack, url, ARTIFACTS / "web-ui-decoded.png", codec=True
        )
        encrypted = await _history_page(
            browser, stack, url, ARTIFACTS / "web-ui-encrypted.png", codec=False
        )
    assert '"assignment_type": "application"' in decoded
    assert '"phone_number_type": "tollFree"' in decoded
    assert "assignment_type" not in encrypted and "tollFree" not in encrypted
    assert run.workflow_id in encrypted  # the same page, only its payloads are unreadable
