"""The typer application and its sub-commands."""

from __future__ import annotations

import typer

from ._emulator import emulator
from ._reconcile import reconcile

__all__ = ["app", "main"]

app = typer.Typer(
    name="numberflow",
    help="Durable phone-number provisioning for Azure Communication Services.",
    no_args_is_help=True,
    add_completion=False,
)
app.command(name="emulator")(emulator)
app.command(name="reconcile")(reconcile)


@app.callback()
def _root() -> None:
    """Durable phone-number provisioning for Azure Communication Services."""


def main() -> None:
    """Entry point of the ``numberflow`` console script."""
    app()
