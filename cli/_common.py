"""What every operator command shares: connecting, clear failures, JSON or rich output."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.text import Text
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from acs import parse_connection_string
from codec import PayloadKeys
from connection import (
    TemporalConfigError,
    TemporalUnreachable,
    connect_temporal,
    outage_reason,
    payload_keys_from_environment,
)
from contracts.callback_hosts import ENV_VAR as CALLBACK_HOSTS_VAR
from contracts.callback_hosts import CallbackHosts, CallbackRefused
from contracts.problems import first_problem
from contracts.provision import TrunkSpec
from contracts.task_queues import TASK_QUEUE
from provisioning import NoWorkerAnswered, ProvisioningNotFound, ProvisioningRefused
from settings import SettingsError, variable

__all__ = [
    "JsonFlag",
    "Resource",
    "acs_resource",
    "trunk_fields",
    "callback_hosts_from_environment",
    "console",
    "default_task_queue",
    "emit",
    "fail",
    "note",
    "parse_duration",
    "payload_keys",
    "run_async",
    "web_ui_link",
]

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
"""Every command's ``--json``: the same answer, machine-readable."""
Resource = Annotated[
    str | None,
    typer.Option(help="ACS endpoint; defaults to ACS_CONNECTION_STRING / ACS_ENDPOINT."),
]
"""The ACS resource a command is about (its SIP writer, its quota keeper)."""

_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """The CLI's one duration form: ``7d``, ``12h``, ``30m``, ``45s``."""
    match = re.fullmatch(r"(\d+)([dhms])", text.strip())
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a duration such as 7d, 12h, 30m or 45s")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


def default_task_queue() -> str:
    """``NUMBERFLOW_TASK_QUEUE`` or ``numberflow``."""
    return os.environ.get("NUMBERFLOW_TASK_QUEUE", TASK_QUEUE)


def web_ui_link(workflow_id: str) -> str | None:
    """The run's page in the Web UI at ``NUMBERFLOW_WEB_UI`` (unset: no link)."""
    base = os.environ.get("NUMBERFLOW_WEB_UI", "").rstrip("/")
    if not base:
        return None
    namespace = os.environ.get("TEMPORAL_NAMESPACE", "default")
    return f"{base}/namespaces/{namespace}/workflows/{workflow_id}"


def acs_resource(resource: str | None) -> str:
    """``--resource``, else the endpoint the worker's variables name; exit 2 when neither."""
    if resource is None:
        try:
            connection_string = variable("ACS_CONNECTION_STRING")
        except SettingsError as error:
            fail(f"configuration: {error}", 2)
        if connection_string is not None:
            try:
                resource = parse_connection_string(connection_string).endpoint
            except ValueError:
                fail("ACS_CONNECTION_STRING is not endpoint=...;accesskey=...", 2)
        else:
            resource = os.environ.get("ACS_ENDPOINT")
    if not resource:
        fail("give --resource or set ACS_CONNECTION_STRING / ACS_ENDPOINT", 2)
    return resource


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line reason on stderr and exit non-zero (never wrapped, never markup)."""
    one_line = " ".join(message.split())
    err_console.print(Text.assemble(("error: ", "red"), one_line), soft_wrap=True)
    raise typer.Exit(code)


def fail_each(messages: list[str], code: int = 1) -> NoReturn:
    """Print one reason per line on stderr (each mistake of a file), then exit non-zero."""
    for message in messages:
        err_console.print(
            Text.assemble(("error: ", "red"), " ".join(message.split())), soft_wrap=True
        )
    raise typer.Exit(code)


def note(message: str) -> None:
    """A one-line hint on stderr that does not change the outcome."""
    err_console.print(Text.assemble(("note: ", "yellow"), message), soft_wrap=True)


def callback_hosts_from_environment() -> CallbackHosts | None:
    """The callback allow-list when this environment sets one; None leaves it to the worker."""
    text = os.environ.get(CALLBACK_HOSTS_VAR)
    if text is None:
        return None
    try:
        return CallbackHosts.parse(text)
    except ValueError as error:
        fail(str(error), 2)


def payload_keys() -> PayloadKeys | None:
    """The payload keys of the environment, or a one-line exit 2 when they are malformed."""
    try:
        return payload_keys_from_environment()
    except ValueError as error:
        fail(str(error), 2)


def run_async(action: Callable[[Client], Awaitable[T]]) -> T:
    """Connect to Temporal, run the action, and turn every known failure into a one-line exit.

    Exit codes: 2 bad input or configuration, 3 Temporal unreachable, 4 not found,
    1 refused or failed.
    """

    async def main() -> T:
        client = await connect_temporal(payload_keys())
        return await action(client)

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        err_console.print(
            "interrupted; anything already started keeps running in Temporal "
            "(numberflow status <ticket> shows where it is)",
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    except TemporalConfigError as error:
        fail(str(error), 2)
    except TemporalUnreachable as error:
        fail(f"{error}; check TEMPORAL_ADDRESS or TEMPORAL_PROFILE", 3)
    except ProvisioningNotFound as missing:
        fail(f"not found: {missing}", 4)
    except (ProvisioningRefused, NoWorkerAnswered) as refusal:
        fail(f"refused: {refusal}" if isinstance(refusal, ProvisioningRefused) else str(refusal))
    except CallbackRefused as refusal:
        fail(f"invalid request: callback_url: {refusal}", 2)
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        fail(f"refused: {getattr(cause, 'message', None) or cause or error}")
    except WorkflowFailureError as error:
        fail(f"the workflow ended without success: {getattr(error.cause, 'message', error.cause)}")
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            fail(f"not found: {error.message}", 4)
        if error.status is RPCStatusCode.INVALID_ARGUMENT:
            fail(f"invalid input: {error.message}", 2)
        outage = outage_reason(error)
        if outage is not None:
            fail(f"{outage}; try again shortly (numberflow status shows what took effect)", 3)
        fail(f"Temporal refused the call: {error.message}")
    except RPCTimeoutOrCancelledError as error:
        fail(
            f"{outage_reason(error)}; try again shortly (numberflow status shows what took effect)",
            3,
        )
    except ValidationError as error:
        fail(f"invalid input: {first_problem(error)}", 2)


def emit(value: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print JSON for scripts, or the rich rendering for people."""
    if as_json:
        data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        render(value)


def trunk_fields(text: str) -> dict[str, Any]:
    """``fqdn[:port]`` as a trunk's fields; the request model validates them."""
    return dict(TrunkSpec.fields_of(text))
