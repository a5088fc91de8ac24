"""A local stand-in for the Azure Communication Services Phone Numbers and SIP Routing APIs.

It serves both APIs over plain HTTP (or HTTPS, given a certificate), checks HMAC signatures
like the service, keeps a seeded inventory, holds the tenant to its limits when configured,
runs LROs on an advanceable clock, and injects faults on request. It imports nothing
from the rest of the project: its wire shapes come from the REST specs, not from the client,
so a client serialisation bug cannot be mirrored here and hidden.
"""

from ._app import ConnectionDropped, Emulator, EmulatorApp, create_app
from ._config import DEFAULT_ACCESS_KEY, EmulatorConfig
from ._limits import QUOTA_EXCEEDED, TenantLimits
from ._numbers import RELEASE_BY_SERVICE_DESK
from ._server import EmulatorServer

__all__ = [
    "DEFAULT_ACCESS_KEY",
    "QUOTA_EXCEEDED",
    "RELEASE_BY_SERVICE_DESK",
    "ConnectionDropped",
    "Emulator",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorServer",
    "TenantLimits",
    "create_app",
]
