"""SIP helpers of the suite: unique trunk names under a verified domain, a clean configuration.

Trunk FQDNs must sit under a SIP domain the resource has verified; the harness verifies
``AZURE_TEST_DOMAIN`` through the emulator's admin API, as a portal's DNS check would.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from typing import Any

from azure.communication.phonenumbers.siprouting import SipRoutingClient, SipTrunk, SipTrunkRoute
from devtools_testutils import is_live

__all__ = [
    "assert_routes_are_equal",
    "assert_trunks_are_equal",
    "get_unique_fqdn",
    "setup_configuration",
]


def get_unique_fqdn(trunk_id: str) -> str:
    """A trunk FQDN of this run, under the verified test domain."""
    agent = os.environ.get("AZURE_TEST_AGENT")
    domain_variable = f"AZURE_TEST_DOMAIN_{agent}" if agent else "AZURE_TEST_DOMAIN"
    return f"{trunk_id}-{uuid.uuid4().hex}.{os.environ.get(domain_variable, 'testdomain.com')}"


def assert_trunks_are_equal(got: Sequence[Any], sent: Sequence[SipTrunk]) -> None:
    """The same trunks in the same order (FQDN and port)."""
    assert len(got) == len(sent), "number of trunks differs"
    for have, want in zip(got, sent, strict=True):
        assert (have.fqdn, have.sip_signaling_port) == (want.fqdn, want.sip_signaling_port)


def assert_routes_are_equal(got: Sequence[Any], sent: Sequence[SipTrunkRoute]) -> None:
    """The same routes in the same order (name, description, pattern, trunks)."""
    assert len(got) == len(sent), "number of routes differs"
    for have, want in zip(got, sent, strict=True):
        assert (have.name, have.description, have.number_pattern) == (
            want.name,
            want.description,
            want.number_pattern,
        )
        assert list(have.trunks or []) == list(want.trunks or [])


def setup_configuration(
    connection_str: str,
    skip_update_trunks: bool = False,
    trunks: Sequence[SipTrunk] = (),
    routes: Sequence[SipTrunkRoute] = (),
) -> None:
    """Routes first (so trunks can be replaced), then trunks: each test starts from these."""
    if not is_live():
        return
    client = SipRoutingClient.from_connection_string(connection_str)
    client.set_routes(list(routes))
    if not skip_update_trunks:
        client.set_trunks(list(trunks))
