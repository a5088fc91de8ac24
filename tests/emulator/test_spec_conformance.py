"""Every emulator response body validates against the official OpenAPI definitions.

A scenario drives every operation of both specs (successes and errors) through an ASGI wrapper
that records what the emulator answered; each body is then validated against the schema the
spec declares for that status (``default`` for errors). 202 bodies are not validated: the
service sends none (or ``{"capabilitiesUpdateId"}``) whatever the spec declares (sdk-wire.md §8).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from acs import (
    AcsError,
    PhoneNumberCapabilities,
    PhoneNumbersClient,
    PollSchedule,
    SipRoutingApiVersion,
    SipRoutingClient,
    SipTrunk,
    SipTrunkRoute,
)
from emulator import EmulatorApp, EmulatorConfig, create_app
from tests.specs import SPEC_FILES, find_operation, operations

PN, SIP_STABLE, SIP_PREVIEW = SPEC_FILES
CAPS = PhoneNumberCapabilities(calling="inbound+outbound", sms="inbound+outbound")


@dataclass
class Exchange:
    method: str
    path: str
    api_version: str
    status: int
    body: bytes


class Recorder:
    """ASGI middleware that keeps every request line and the response it got."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        record = Exchange(scope["method"], scope["path"], "", 0, b"")
        query = dict(
            x.split("=", 1) for x in scope.get("query_string", b"").decode().split("&") if "=" in x
        )
        record.api_version = query.get("api-version", "")

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            elif message["type"] == "http.response.body":
                record.body += message.get("body", b"")
            await send(message)

        await self.app(scope, receive, capture)
        self.exchanges.append(record)


async def _expect_error(call: Any) -> None:
    with pytest.raises(AcsError):
        await call


async def run_scenario(
    pn: PhoneNumbersClient, sip: SipRoutingClient, preview: SipRoutingClient
) -> None:
    """Touch every operation, with successes and the main error answers."""
    [c async for c in pn.list_available_countries(max_page_size=3)]
    [x async for x in pn.list_available_localities("US")]
    [x async for x in pn.list_available_area_codes("US", "geographic", locality="Seattle")]
    [x async for x in pn.list_available_offerings("FR")]
    browse = await pn.browse_available_phone_numbers(
        country_code="FR", phone_number_type="tollFree"
    )
    rid = uuid.uuid4()
    await pn.create_or_update_reservation(
        reservation_id=rid, numbers_to_add=browse.phone_numbers[:2]
    )
    await pn.create_or_update_reservation(
        reservation_id=rid, numbers_to_add=browse.phone_numbers[:1]
    )
    [r async for r in pn.list_reservations()]
    await pn.get_reservation(rid)
    await _expect_error(pn.begin_purchase_reservation(rid))  # no-resell consent missing
    await pn.wait(
        await pn.begin_purchase_reservation(rid, agree_to_not_resell=True),
        schedule=PollSchedule(0.01, 0.01),
    )
    await pn.get_reservation(rid)
    other = uuid.uuid4()
    await pn.create_or_update_reservation(
        reservation_id=other, numbers_to_add=browse.phone_numbers[2:3]
    )
    await pn.delete_reservation(other)
    await _expect_error(pn.get_reservation(other))
    await _expect_error(pn.begin_search_available_phone_numbers("XX", "tollFree", "person", CAPS))
    search = await pn.begin_search_available_phone_numbers(
        "US", "tollFree", "application", CAPS, quantity=2
    )
    await pn.get_operation(search)
    await pn.wait(search, schedule=PollSchedule(0.01, 0.01))
    result = await pn.get_search_result(str(search.resource_id))
    purchase = await pn.begin_purchase_phone_numbers(result.search_id)
    await pn.wait(purchase, schedule=PollSchedule(0.01, 0.01))
    number = result.phone_numbers[0]
    await pn.get_purchased_phone_number(number)
    [n async for n in pn.list_purchased_phone_numbers(top=1)]
    caps = await pn.begin_update_phone_number_capabilities(number, sms="inbound")
    await pn.wait(caps, schedule=PollSchedule(0.01, 0.01))
    await pn.fetch_result(caps)
    await _expect_error(pn.begin_update_phone_number_capabilities("+14255550000", sms="inbound"))
    release = await pn.begin_release_phone_number(number)
    await pn.wait(release, schedule=PollSchedule(0.01, 0.01))
    await pn.cancel_operation(release.operation_id)
    await _expect_error(pn.get_operation(release.operation_id))
    await _expect_error(pn.get_purchased_phone_number(number))
    await pn.search_operator_information(["+14255550123"])
    await sip.get_sip_configuration()
    await sip.set_trunk(SipTrunk(fqdn="sbc1.example.com", sip_signaling_port=5061))
    await sip.set_routes(
        [SipTrunkRoute(name="us", number_pattern=r"^\+1\d{10}$", trunks=["sbc1.example.com"])]
    )
    await _expect_error(sip.delete_trunk("sbc1.example.com"))
    await preview.get_sip_configuration(include_health=True)
    await preview.set_trunk(
        SipTrunk(
            fqdn="sbc2.example.com", sip_signaling_port=5062, enabled=True, privacy_header="id"
        )
    )
    await preview.get_routes_for_number("+14255550123")
    await _expect_error(preview.update_sip_configuration({"domains": {"-1": {"enabled": True}}}))


@pytest.fixture
async def recorded() -> list[Exchange]:
    """The emulator's answers to the whole scenario."""
    recorder = Recorder(create_app(EmulatorConfig(lro_seconds=0.02)))
    transport = httpx.ASGITransport(app=recorder)
    key = recorder.app.emulator.config.access_key
    conn = f"endpoint=http://acs.test;accesskey={key}"
    async with (
        PhoneNumbersClient.from_connection_string(conn, transport=transport) as pn,
        SipRoutingClient.from_connection_string(conn, transport=transport) as sip,
        SipRoutingClient.from_connection_string(
            conn, transport=transport, api_version=SipRoutingApiVersion.V2024_11_15_PREVIEW
        ) as preview,
    ):
        await run_scenario(pn, sip, preview)
    return recorder.exchanges


def _spec_for(exchange: Exchange) -> str:
    if not exchange.path.startswith("/sip"):
        return PN
    return SIP_PREVIEW if exchange.api_version == "2024-11-15-preview" else SIP_STABLE


async def test_every_response_body_matches_the_spec(recorded: list[Exchange]) -> None:
    """Each recorded body validates against its operation's declared schema."""
    validated = 0
    for exchange in recorded:
        if exchange.status in (202, 204):
            assert exchange.status != 204 or exchange.body == b""
            continue
        operation = find_operation(_spec_for(exchange), exchange.method, exchange.path)
        operation.validate(exchange.status, json.loads(exchange.body))
        validated += 1
    assert validated > 40


async def test_scenario_covers_every_operation_of_both_specs(recorded: list[Exchange]) -> None:
    """No operation of the three spec files is left unexercised."""
    seen = {
        (spec, find_operation(spec, e.method, e.path).operation_id)
        for e in recorded
        for spec in [_spec_for(e)]
    }
    wanted = {(spec, op.operation_id) for spec in SPEC_FILES for op in operations(spec)}
    assert wanted - seen == set()


async def test_error_answers_use_the_envelope(recorded: list[Exchange]) -> None:
    """The error answers seen carry the documented codes, with the SIP code inside innererror."""
    errors = {(e.status, json.loads(e.body)["error"]["code"]) for e in recorded if e.status >= 400}
    assert {
        (400, "BadRequest"),
        (404, "ReservationNotFound"),
        (400, "InvalidInput"),
        (403, "InsufficientPermissions"),
        (404, "NotFound"),
        (422, "UnprocessableConfiguration"),
    } <= errors
