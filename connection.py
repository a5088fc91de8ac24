"""Connecting to Temporal the project's way.

Shared by the worker, the ingress and the CLI: the standard ``TEMPORAL_*`` configuration
(environment or profile, ``TEMPORAL_API_KEY_FILE`` too) with numberflow's data converter. What
a namespace needs from us once connected is ``namespace_setup``'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from temporalio.client import Client, Interceptor, RPCTimeoutOrCancelledError
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from codec import ENV_VAR as PAYLOAD_KEYS_VAR
from codec import PayloadKeys, data_converter
from settings import SettingsError, variable

__all__ = [
    "RETRY_AFTER_OUTAGE",
    "TemporalConfigError",
    "TemporalUnreachable",
    "connect_temporal",
    "outage_reason",
    "temporal_config",
    "wait_for_temporal",
    "payload_keys_from_environment",
]

API_KEY_VAR = "TEMPORAL_API_KEY"


def payload_keys_from_environment() -> PayloadKeys | None:
    """``NUMBERFLOW_PAYLOAD_KEYS`` or its ``_FILE``, for commands without settings (the CLI)."""
    try:
        return PayloadKeys.parse(variable(PAYLOAD_KEYS_VAR))
    except (ValueError, SettingsError) as error:
        raise ValueError(f"{PAYLOAD_KEYS_VAR}: {error}") from None


class TemporalConfigError(Exception):
    """The ``TEMPORAL_*`` configuration (or profile) is unusable; one line, no values."""


class TemporalUnreachable(Exception):
    """No Temporal server answered at the configured address; one line."""


RETRY_AFTER_OUTAGE = 5
"""Seconds a caller is asked to wait when Temporal did not answer (a restart takes a few)."""

_OUTAGE_STATUSES = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
)
"""gRPC answers that mean "not now" (down, restarting, overloaded), not "no" or a bug."""
_LOST_CONNECTION = ("transport error", "connection reset", "broken pipe", "error trying to connect")
"""What the client says (status UNKNOWN) when the server went away in the middle of a call."""


def outage_reason(error: BaseException) -> str | None:
    """Why Temporal could not take a call, in one line, if that is what ``error`` means.

    A server that restarts or is briefly unreachable is an expected condition: callers answer
    "try again shortly" (HTTP 503, CLI exit 3), never "internal error". ``None``: the error is
    something else (a refusal, a bug) and is handled as such.
    """
    if isinstance(error, RPCTimeoutOrCancelledError):
        return "Temporal did not answer in time"
    if not isinstance(error, RPCError):
        return None
    lost = error.status is RPCStatusCode.UNKNOWN and any(
        sign in error.message.lower() for sign in _LOST_CONNECTION
    )
    if error.status in _OUTAGE_STATUSES or lost:
        return f"Temporal is unavailable ({error.status.name.lower()}: {_reason(error)})"
    return None


def temporal_config() -> dict[str, Any]:
    """The client connect options of the standard environment/profile configuration.

    ``TEMPORAL_API_KEY_FILE`` is read too (a Secret volume), as every numberflow ``_FILE`` is.
    """
    try:
        config = dict(ClientConfig.load_client_connect_config())
        api_key = variable(API_KEY_VAR)
    except SettingsError as error:
        raise TemporalConfigError(str(error)) from None
    except Exception as error:  # noqa: BLE001 - the bridge raises its own ConfigError type
        raise TemporalConfigError(f"Temporal configuration: {error}") from None
    if api_key and not config.get("api_key"):
        config["api_key"] = api_key
    config.setdefault("target_host", "localhost:7233")
    return config


def _reason(error: BaseException) -> str:
    """The gist of a connect failure, without the transport's nested debug text."""
    text = str(error)
    for known in ("Connection refused", "timed out", "dns error", "certificate", "Unauthenticated"):
        if known.lower() in text.lower():
            return known.lower()
    return text.split(":")[0][:120]


async def connect_temporal(
    keys: PayloadKeys | None,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect with the standard environment/profile configuration and our data converter.

    ``keys`` encrypt payloads (``codec``); every process of one deployment must use the same.
    Raises ``TemporalConfigError`` or ``TemporalUnreachable`` with one line each.
    """
    config = temporal_config()
    try:
        return await Client.connect(
            **config,
            data_converter=data_converter(keys),
            runtime=runtime,
            interceptors=interceptors,
        )
    except RuntimeError as error:
        raise TemporalUnreachable(
            f"cannot reach Temporal at {config['target_host']} ({_reason(error)})"
        ) from None


async def wait_for_temporal(
    keys: PayloadKeys | None,
    log: Any,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
    max_backoff: float = 30.0,
) -> Client:
    """Connect, retrying with capped backoff while Temporal is not up yet (worker, ingress).

    A process started before its server (a deploy, a node restart) waits, logging each
    attempt, instead of crashing into a restart loop; a configuration error still stops it.
    """
    delay = 1.0
    while True:
        try:
            return await connect_temporal(keys, runtime, interceptors)
        except TemporalUnreachable as error:
            log.warning("waiting for Temporal", reason=str(error), retry_in_seconds=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff)
