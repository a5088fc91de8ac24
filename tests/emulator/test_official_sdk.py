"""The official azure-communication-phonenumbers SDK (sync and aio), unchanged, against the emulator.

The SDK is built as sdk-wire.md §1 says works for plain HTTP: the constructor with
``http://127.0.0.1:PORT`` and an ``AzureKeyCredential``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from azure.communication.phonenumbers import (
    OperatorInformationOptions,
    PhoneNumberCapabilities,
    PhoneNumbersClient,
)
from azure.communication.phonenumbers.aio import PhoneNumbersClient as AioPhoneNumbersClient
from azure.communication.phonenumbers.siprouting import SipRoutingClient, SipTrunk, SipTrunkRoute
from azure.communication.phonenumbers.siprouting.aio import SipRoutingClient as AioSipRoutingClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError

from emulator import EmulatorServer

FAST: dict[str, Any] = {"polling_interval": 0.01}
TOLL_FREE = PhoneNumberCapabilities(calling="inbound+outbound", sms="inbound+outbound")


@pytest.fixture
def server(loopback_server: EmulatorServer) -> Iterator[EmulatorServer]:
    """The loopback emulator, reset before and after the test."""
    loopback_server.app.emulator.reset()
    yield loopback_server
    loopback_server.app.emulator.reset()


@pytest.fixture
def key(server: EmulatorServer) -> AzureKeyCredential:
    return AzureKeyCredential(server.config.access_key)


class TestSyncPhoneNumbersClient:
    """Every public method of the sync PhoneNumbersClient."""

    def test_catalog(self, server: EmulatorServer, key: AzureKeyCredential) -> None:
        """Countries, localities, area codes and offerings list through the SDK's pagers."""
        client = PhoneNumbersClient(server.endpoint, key)
        assert "DK" in [c.country_code for c in client.list_available_countries()]
        localities = list(client.list_available_localities("US", administrative_division="WA"))
        assert [loc.localized_name for loc in localities] == ["Seattle"]
        codes = client.list_available_area_codes(
            "US",
            "geographic",
            assignment_type="application",
            locality="Seattle",
            administrative_division="WA",
        )
        assert [a.area_code for a in codes] == ["206", "425"]
        offerings = list(
            client.list_available_offerings(
                "FR", phone_number_type="tollFree", assignment_type="application"
            )
        )
        # as recorded: FR toll-free is quoted in USD, calling without SMS
        assert (offerings[0].cost.currency_code, offerings[0].cost.amount) == ("USD", 8.0)
        capabilities = offerings[0].available_capabilities
        assert (capabilities.calling, capabilities.sms) == ("inbound+outbound", "none")

    def test_search_purchase_update_release(
        self, server: EmulatorServer, key: AzureKeyCredential
    ) -> None:
        """The classic flow: search → purchase → get/list → update capabilities → release."""
        client = PhoneNumbersClient(server.endpoint, key)
        search = client.begin_search_available_phone_numbers(
            "US", "tollFree", "application", TOLL_FREE, quantity=2, **FAST
        ).result()
        assert len(search.phone_numbers) == 2 and search.search_expires_by is not None
        assert client.begin_purchase_phone_numbers(search.search_id, **FAST).result() is None
        number = search.phone_numbers[0]
        assert client.get_purchased_phone_number(number).phone_number == number
        assert [
            n.phone_number for n in client.list_purchased_phone_numbers(top=1)
        ] == search.phone_numbers
        updated = client.begin_update_phone_number_capabilities(
            number, sms="inbound", calling="outbound", **FAST
        ).result()
        assert (updated.capabilities.sms, updated.capabilities.calling) == ("inbound", "outbound")
        client.begin_release_phone_number(number, **FAST).result()
        assert [
            n.phone_number for n in client.list_purchased_phone_numbers()
        ] == search.phone_numbers[1:]

    def test_browse_and_reservations(self, server: EmulatorServer, key: AzureKeyCredential) -> None:
        """Browse, reserve, list, get, remove, purchase (with the no-resell agreement), delete."""
        client = PhoneNumbersClient(server.endpoint, key)
        browse = client.browse_available_phone_numbers(
            country_code="FR",
            phone_number_type="tollFree",
            assignment_type="application",
            calling_capability="inbound",
            phone_number_prefixes=["33800"],
        )
        assert browse.phone_numbers and browse.phone_numbers[0].is_agreement_to_not_resell_required
        rid = str(uuid.uuid4())
        reservation = client.create_or_update_reservation(
            reservation_id=rid, numbers_to_add=browse.phone_numbers[:2]
        )
        assert reservation.status == "active" and len(reservation.phone_numbers) == 2
        reservation = client.create_or_update_reservation(
            reservation_id=rid, numbers_to_remove=[browse.phone_numbers[1].id]
        )
        assert list(reservation.phone_numbers) == [browse.phone_numbers[0].id]
        assert [r.id for r in client.list_reservations(max_page_size=10)] == [rid]
        with pytest.raises(HttpResponseError, match="Consent not provided"):
            client.begin_purchase_reservation(rid, **FAST)
        client.begin_purchase_reservation(rid, agree_to_not_resell=True, **FAST).result()
        done = client.get_reservation(rid)
        assert done.status == "completed"
        assert done.phone_numbers[browse.phone_numbers[0].id].status == "purchased"
        other = str(uuid.uuid4())
        client.create_or_update_reservation(
            reservation_id=other, numbers_to_add=browse.phone_numbers[1:2]
        )
        client.delete_reservation(other)
        with pytest.raises(HttpResponseError, match="ReservationNotFound"):
            client.get_reservation(other)

    def test_operator_information(self, server: EmulatorServer, key: AzureKeyCredential) -> None:
        """Operator lookup with and without the billed details."""
        client = PhoneNumbersClient(server.endpoint, key)
        result = client.search_operator_information(
            ["+14255550123"],
            options=OperatorInformationOptions(include_additional_operator_details=True),
        )
        assert result.values[0].iso_country_code == "US" and result.values[0].operator_details.name
        assert client.search_operator_information("+4520123456").values[0].iso_country_code == "DK"

    def test_sdk_errors_map_from_envelopes(
        self, server: EmulatorServer, key: AzureKeyCredential
    ) -> None:
        """The SDK reads the emulator's error envelope (404 NotFound, 403 not owned)."""
        client = PhoneNumbersClient(server.endpoint, key)
        with pytest.raises(HttpResponseError, match="cannot be found"):
            client.get_purchased_phone_number("+14255550123")
        with pytest.raises(HttpResponseError, match="not owned"):
            client.begin_update_phone_number_capabilities("+14255550123", sms="inbound", **FAST)


class TestSyncSipRoutingClient:
    """Every public method of the sync SipRoutingClient."""

    def test_trunks_and_routes(self, server: EmulatorServer, key: AzureKeyCredential) -> None:
        """set_trunks/set_trunk/get_trunk/list_trunks/set_routes/list_routes/delete_trunk."""
        with SipRoutingClient(server.endpoint, key) as client:
            client.set_trunks(
                [
                    SipTrunk(fqdn="sbc1.example.com", sip_signaling_port=5061),
                    SipTrunk(fqdn="sbc2.example.com", sip_signaling_port=5062),
                ]
            )
            client.set_trunk(SipTrunk(fqdn="sbc3.example.com", sip_signaling_port=5063))
            assert [t.fqdn for t in client.list_trunks()] == [
                "sbc1.example.com",
                "sbc2.example.com",
                "sbc3.example.com",
            ]
            assert client.get_trunk("sbc2.example.com").sip_signaling_port == 5062
            route = SipTrunkRoute(
                name="us",
                description="US numbers",
                number_pattern=r"^\+1[0-9]{10}$",
                trunks=["sbc1.example.com"],
            )
            client.set_routes([route])
            assert [r.name for r in client.list_routes()] == ["us"]
            with pytest.raises(HttpResponseError, match="UnprocessableConfiguration"):
                client.delete_trunk("sbc1.example.com")
            client.delete_trunk("sbc3.example.com")
            client.set_trunks([SipTrunk(fqdn="sbc1.example.com", sip_signaling_port=5070)])
            assert [(t.fqdn, t.sip_signaling_port) for t in client.list_trunks()] == [
                ("sbc1.example.com", 5070)
            ]
            with pytest.raises(KeyError):
                client.get_trunk("sbc2.example.com")


@pytest.fixture
async def aio_numbers(
    server: EmulatorServer, key: AzureKeyCredential
) -> AsyncIterator[AioPhoneNumbersClient]:
    async with AioPhoneNumbersClient(server.endpoint, key) as client:
        yield client


class TestAioPhoneNumbersClient:
    """Every public method of the aio PhoneNumbersClient (aiohttp transport)."""

    async def test_catalog(self, aio_numbers: AioPhoneNumbersClient) -> None:
        """The four catalogue lists page through the async pagers."""
        assert len([c async for c in aio_numbers.list_available_countries()]) == 8
        assert [
            loc.localized_name async for loc in aio_numbers.list_available_localities("CA")
        ] == ["Toronto", "Vancouver"]
        assert [
            a.area_code async for a in aio_numbers.list_available_area_codes("AU", "tollFree")
        ] == ["1800"]
        assert len([o async for o in aio_numbers.list_available_offerings("DK")]) == 3

    async def test_search_purchase_update_release(self, aio_numbers: AioPhoneNumbersClient) -> None:
        """The classic flow through AsyncLROPollers."""
        poller = await aio_numbers.begin_search_available_phone_numbers(
            "CA", "tollFree", "application", TOLL_FREE, quantity=1, **FAST
        )
        search = await poller.result()
        await (await aio_numbers.begin_purchase_phone_numbers(search.search_id, **FAST)).result()
        number = search.phone_numbers[0]
        assert (await aio_numbers.get_purchased_phone_number(number)).country_code == "CA"
        assert [n.phone_number async for n in aio_numbers.list_purchased_phone_numbers()] == [
            number
        ]
        updated = await (
            await aio_numbers.begin_update_phone_number_capabilities(number, sms="none", **FAST)
        ).result()
        assert updated.capabilities.sms == "none"
        await (await aio_numbers.begin_release_phone_number(number, **FAST)).result()
        assert [n async for n in aio_numbers.list_purchased_phone_numbers()] == []

    async def test_browse_and_reservations(self, aio_numbers: AioPhoneNumbersClient) -> None:
        """Browse, reserve, list, get, purchase and delete asynchronously."""
        browse = await aio_numbers.browse_available_phone_numbers(
            country_code="GB", phone_number_type="mobile", assignment_type="person"
        )
        rid = str(uuid.uuid4())
        await aio_numbers.create_or_update_reservation(
            reservation_id=rid, numbers_to_add=browse.phone_numbers[:1]
        )
        assert [r.id async for r in aio_numbers.list_reservations()] == [rid]
        await (await aio_numbers.begin_purchase_reservation(rid, **FAST)).result()
        assert (await aio_numbers.get_reservation(rid)).status == "completed"
        other = str(uuid.uuid4())
        await aio_numbers.create_or_update_reservation(
            reservation_id=other, numbers_to_add=browse.phone_numbers[1:2]
        )
        await aio_numbers.delete_reservation(other)
        assert [r.id async for r in aio_numbers.list_reservations()] == [rid]

    async def test_operator_information(self, aio_numbers: AioPhoneNumbersClient) -> None:
        """Operator lookup."""
        result = await aio_numbers.search_operator_information(["+61212345678"])
        assert result.values[0].iso_country_code == "AU"


class TestAioSipRoutingClient:
    """Every public method of the aio SipRoutingClient."""

    async def test_trunks_and_routes(self, server: EmulatorServer, key: AzureKeyCredential) -> None:
        """The same calls as the sync test, through aiohttp."""
        async with AioSipRoutingClient(server.endpoint, key) as client:
            await client.set_trunks([SipTrunk(fqdn="sbc1.example.com", sip_signaling_port=5061)])
            await client.set_trunk(SipTrunk(fqdn="sbc2.example.com", sip_signaling_port=5062))
            assert [t.fqdn async for t in client.list_trunks()] == [
                "sbc1.example.com",
                "sbc2.example.com",
            ]
            assert (await client.get_trunk("sbc1.example.com")).sip_signaling_port == 5061
            await client.set_routes(
                [SipTrunkRoute(name="all", number_pattern=r"^\+\d+$", trunks=["sbc2.example.com"])]
            )
            assert [r.name async for r in client.list_routes()] == ["all"]
            await client.set_routes([])
            await client.delete_trunk("sbc2.example.com")
            assert [t.fqdn async for t in client.list_trunks()] == ["sbc1.example.com"]
