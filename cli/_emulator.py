"""``numberflow emulator``: serve the local ACS emulator on loopback."""

from __future__ import annotations

from typing import Annotated

import typer

from emulator import DEFAULT_ACCESS_KEY, EmulatorConfig, EmulatorServer, TenantLimits

__all__ = ["emulator"]


def emulator(
    host: Annotated[str, typer.Option(help="Address to bind; keep it on loopback.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.", min=0, max=65535)] = 0,
    access_key: Annotated[
        str, typer.Option(help="base64 key that request signatures are checked against.")
    ] = DEFAULT_ACCESS_KEY,
    seed: Annotated[int, typer.Option(help="Seed of the inventory and random choices.")] = 0,
    lro_seconds: Annotated[
        float, typer.Option(help="Seconds a long-running operation takes.", min=0)
    ] = 2.0,
    search_hold_seconds: Annotated[
        float, typer.Option(help="Seconds a search holds its numbers.", min=1)
    ] = 16 * 60,
    verified_domain: Annotated[
        list[str] | None,
        typer.Option(help="Domain whose hosts may be SIP trunks (repeatable)."),
    ] = None,
    bearer_token: Annotated[
        list[str] | None,
        typer.Option(help="Accept this Entra ID bearer token too (repeatable)."),
    ] = None,
    numbers_per_area_code: Annotated[
        int, typer.Option(help="Inventory size per area code.", min=1, max=100_000)
    ] = EmulatorConfig.numbers_per_area_code,
    limits: Annotated[
        str,
        typer.Option(
            help="Tenant limits: none, or new-tenant (5 searches and 1 purchase a week, as "
            "a tenant Microsoft has not raised)."
        ),
    ] = "none",
    release_quarantine_seconds: Annotated[
        float, typer.Option(help="Seconds a released number is not offered again.", min=0)
    ] = EmulatorConfig.release_quarantine_seconds,
    service_desk_release: Annotated[
        list[str] | None,
        typer.Option(
            help="Country (ISO code) whose releases go through Microsoft's service desk: the "
            "release API refuses them (repeatable)."
        ),
    ] = None,
) -> None:
    """Serve both ACS APIs over plain HTTP and print the connection string."""
    try:
        tenant = TenantLimits.preset(limits)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--limits") from None
    config = EmulatorConfig(
        access_key=access_key,
        seed=seed,
        lro_seconds=lro_seconds,
        search_hold_seconds=search_hold_seconds,
        verified_domains=tuple(verified_domain or ("example.com",)),
        bearer_tokens=frozenset(bearer_token or ()),
        numbers_per_area_code=numbers_per_area_code,
        limits=tenant,
        release_quarantine_seconds=release_quarantine_seconds,
        service_desk_release_countries=frozenset(c.upper() for c in service_desk_release or ()),
    )
    server = EmulatorServer(config, host=host, port=port)
    typer.echo(server.connection_string, nl=True)
    typer.echo(f"admin API: {server.endpoint}/_emulator/state", err=True)
    server.serve_forever()
