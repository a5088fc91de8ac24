"""The typer application and its sub-commands."""

from __future__ import annotations

import os
import sys

import typer

from ._demo import demo, dev
from ._emulator import emulator
from ._reconcile import reconcile
from ._replay import replay
from ._saga import approve, cancel, list_provisionings, provision, reject, release, status
from ._services import codec_server, ingress, worker
from ._sip import sip_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="numberflow",
    help="Durable phone-number provisioning for Azure Communication Services.",
    no_args_is_help=True,
    add_completion=False,
)
for command in (
    provision,
    approve,
    reject,
    cancel,
    status,
    release,
    reconcile,
    replay,
    worker,
    ingress,
    emulator,
    demo,
    dev,
):
    app.command()(command)
app.command(name="list")(list_provisionings)
app.command(name="codec-server")(codec_server)
app.add_typer(sip_app, name="sip")


@app.callback()
def _root() -> None:
    """Durable phone-number provisioning for Azure Communication Services."""


def main() -> None:
    """Entry point of the ``numberflow`` console script.

    Exits with ``os._exit`` once the command is done and its output flushed: the Temporal
    client's native runtime was seen to abort (SIGABRT) during interpreter teardown after a
    successful command, which would turn a success into a failure for scripts.
    """
    try:
        app()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
