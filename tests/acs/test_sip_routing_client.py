"""Every SipRoutingClient method against the emulator (stable and preview API)."""

from __future__ import annotations

import pytest

from acs import (
    AcsNotFoundError,
    AcsValidationError,
    SipDomain,
    SipRoutingClient,
    SipTrunk,
    SipTrunkRoute,
)
from tests.conftest import EmulatorEnv

SBC1 = SipTrunk(fqdn="sbc1.example.com", sip_signaling_port=5061)
SBC2 = SipTrunk(fqdn="sbc2.example.com", sip_signaling_port=5062)
US = SipTrunkRoute(name="us", number_pattern=r"^\+1\d{10}$", trunks=["sbc1.example.com"])


async def test_empty_configuration(sip: SipRoutingClient) -> None:
    """A fresh resource has no trunks and no routes."""
    config = await sip.get_sip_configuration()
    assert (config.trunks, config.routes) == ({}, [])


async def test_set_get_delete_trunk(sip: SipRoutingClient) -> None:
    """set_trunk upserts one trunk, get_trunk finds it, delete_trunk removes it."""
    await sip.set_trunk(SBC1)
    await sip.set_trunk(SBC2)
    assert await sip.get_trunk("sbc2.example.com") == SBC2
    assert [t.fqdn for t in await sip.list_trunks()] == ["sbc1.example.com", "sbc2.example.com"]
    await sip.delete_trunk("sbc1.example.com")
    with pytest.raises(AcsNotFoundError):
        await sip.get_trunk("sbc1.example.com")
    await sip.delete_trunk("absent.example.com")  # deleting a missing trunk succeeds


async def test_set_trunks_replaces_the_list(
    sip: SipRoutingClient, emulator_env: EmulatorEnv
) -> None:
    """set_trunks leaves exactly the given trunks (GET, then PATCH with nulls)."""
    await sip.set_trunks([SBC1, SBC2])
    await sip.set_trunks([SBC2])
    assert await sip.list_trunks() == [SBC2]
    assert list(emulator_env.state["sip"]["trunks"]) == ["sbc2.example.com"]


async def test_set_and_list_routes(sip: SipRoutingClient) -> None:
    """Routes are replaced wholesale, in order."""
    await sip.set_trunks([SBC1, SBC2])
    seattle = SipTrunkRoute(
        name="seattle", number_pattern=r"^\+1425\d{7}$", trunks=["sbc2.example.com"]
    )
    await sip.set_routes([seattle, US])
    assert await sip.list_routes() == [seattle, US]
    await sip.set_routes([US])
    assert await sip.list_routes() == [US]


async def test_trunk_in_use_cannot_be_deleted(sip: SipRoutingClient) -> None:
    """The service refuses to delete a trunk a route uses (422 MissingTrunk)."""
    await sip.set_trunk(SBC1)
    await sip.set_routes([US])
    with pytest.raises(AcsValidationError) as caught:
        await sip.delete_trunk("sbc1.example.com")
    assert (caught.value.status_code, caught.value.inner_code) == (422, "MissingTrunk")
    await sip.set_routes([])
    await sip.delete_trunk("sbc1.example.com")
    assert await sip.list_trunks() == []


async def test_client_validates_before_sending(
    sip: SipRoutingClient, emulator_env: EmulatorEnv
) -> None:
    """Bad FQDN, port, regex or duplicate names fail locally; nothing reaches the service."""
    with pytest.raises(ValueError, match="FQDN"):
        await sip.set_trunk(SipTrunk(fqdn="-1", sip_signaling_port=5061))
    with pytest.raises(ValueError, match="port"):
        await sip.set_trunk(SipTrunk(fqdn="sbc.example.com", sip_signaling_port=0))
    with pytest.raises(ValueError, match="compile"):
        await sip.set_routes([SipTrunkRoute(name="bad", number_pattern="^(\\+1")])
    with pytest.raises(ValueError, match="twice"):
        await sip.set_routes([US, US])
    assert "SipRouting_Update" not in emulator_env.state["requestCounts"]


async def test_preview_trunk_settings_and_health(sip_preview: SipRoutingClient) -> None:
    """The preview carries enabled/directTransfer/privacyHeader/ipAddressVersion and health."""
    trunk = SipTrunk(
        fqdn="sbc1.example.com",
        sip_signaling_port=5061,
        enabled=True,
        direct_transfer=True,
        privacy_header="none",
        ip_address_version="ipv6",
    )
    await sip_preview.set_trunk(trunk)
    plain = await sip_preview.get_trunk("sbc1.example.com")
    assert plain == trunk
    healthy = await sip_preview.get_trunk("sbc1.example.com", include_health=True)
    assert healthy.health is not None and healthy.health.overall.status == "inactive"


async def test_preview_domains(sip_preview: SipRoutingClient) -> None:
    """Domains can be listed, added, replaced and deleted; trunks need an enabled domain."""
    assert await sip_preview.list_domains() == [SipDomain(fqdn="example.com", enabled=True)]
    await sip_preview.set_domain(SipDomain(fqdn="contoso.com", enabled=True))
    assert await sip_preview.get_domain("contoso.com") == SipDomain(
        fqdn="contoso.com", enabled=True
    )
    await sip_preview.set_trunk(SipTrunk(fqdn="sbc.contoso.com", sip_signaling_port=5061))
    with pytest.raises(AcsValidationError) as caught:  # the trunk on contoso.com needs it
        await sip_preview.set_domains([SipDomain(fqdn="example.com", enabled=True)])
    assert caught.value.inner_code == "MissingDomain"
    await sip_preview.set_domains(
        [
            SipDomain(fqdn="example.com", enabled=True),
            SipDomain(fqdn="contoso.com", enabled=True),
            SipDomain(fqdn="fabrikam.com", enabled=False),
        ]
    )
    with pytest.raises(AcsValidationError) as caught:  # a disabled domain does not count
        await sip_preview.set_trunk(SipTrunk(fqdn="sbc.fabrikam.com", sip_signaling_port=5061))
    assert caught.value.inner_code == "MissingDomain"
    await sip_preview.delete_trunk("sbc.contoso.com")
    await sip_preview.delete_domain("contoso.com")
    await sip_preview.delete_trunk("sbc.contoso.com")
    await sip_preview.delete_domain("fabrikam.com")
    assert [d.fqdn for d in await sip_preview.list_domains()] == ["example.com"]


async def test_preview_routes_for_number(sip_preview: SipRoutingClient) -> None:
    """testRoutesWithNumber lists the matching routes in order, stored or given."""
    await sip_preview.set_trunk(SBC1)
    seattle = SipTrunkRoute(
        name="seattle", number_pattern=r"^\+1425\d{7}$", trunks=["sbc1.example.com"]
    )
    await sip_preview.set_routes([seattle, US])
    assert [r.name for r in await sip_preview.get_routes_for_number("+14255550123")] == [
        "seattle",
        "us",
    ]
    assert [r.name for r in await sip_preview.get_routes_for_number("+12065550123")] == ["us"]
    only = await sip_preview.get_routes_for_number("+14255550123", routes=[US])
    assert [r.name for r in only] == ["us"]


async def test_preview_features_need_the_preview_version(sip: SipRoutingClient) -> None:
    """On 2023-03-01 the preview-only methods refuse locally with a clear message."""
    with pytest.raises(ValueError, match="2024-11-15-preview"):
        await sip.list_domains()
    with pytest.raises(ValueError, match="2024-11-15-preview"):
        await sip.get_routes_for_number("+14255550123")


async def test_clients_share_one_http_client(emulator_env: EmulatorEnv) -> None:
    """Both clients can use one pooled httpx.AsyncClient, which stays open after they close."""
    import httpx

    from acs import PhoneNumbersClient

    async with httpx.AsyncClient(transport=emulator_env.transport) as shared:
        conn = emulator_env.connection_string
        async with PhoneNumbersClient.from_connection_string(conn, http_client=shared) as numbers:
            assert [c async for c in numbers.list_available_countries()]
        async with SipRoutingClient.from_connection_string(conn, http_client=shared) as sip:
            assert await sip.list_trunks() == []
        assert not shared.is_closed
