"""The typer application, its sub-commands, and the one place a failure becomes an exit."""

from __future__ import annotations

import os
import sys
import traceback
from importlib.metadata import version as installed_version
from typing import Annotated, Any

import typer

# typer ships its own copy of click; its usage errors are these classes, not click's.
from typer._click import exceptions as click

from contracts.ids import PROVISION_WORKFLOW_TYPE
from contracts.search_attributes import PROVISIONING_STAGE
from contracts.task_queues import TASK_QUEUE
from logconfig import LOG_LEVEL_VAR, configure_logging, parse_log_level

from ._common import err_console
from ._demo import demo, dev
from ._emulator import emulator
from ._interventions import abandon, abort, retry, skip
from ._list import list_provisionings
from ._onboarding import confirm_released_command, deliver_command
from ._provision import provision
from ._quota import quota_app
from ._reconcile import reconcile
from ._replay import replay
from ._saga import approve, cancel, reject, release, status
from ._services import codec_server, ingress, worker
from ._setup import setup
from ._sip import sip_app
from ._tickets import tickets_app

__all__ = ["EXAMPLES", "app", "build_command", "main"]

EXAMPLES: dict[str, str] = {
    "provision": "numberflow provision --ticket T-1 --country US --type tollFree --quantity 2 "
    "--trunk sbc1.example.com:5061 --approver alice --wait",
    "approve": "numberflow approve T-1 --approver alice --comment 'budget ok'",
    "reject": "numberflow reject T-1 --approver alice --reason 'not needed'",
    "cancel": "numberflow cancel T-1",
    "retry": f"numberflow retry --query \"{PROVISIONING_STAGE.name} = 'needs_attention'\" --by ops",
    "skip": "numberflow skip T-1 --reason 'no SBC yet' --by ops",
    "abort": "numberflow abort T-1 --reason 'wrong customer' --by ops",
    "abandon": "numberflow abandon T-1 --reason 'cleaned up by hand' --by ops",
    "status": "numberflow status T-1 --json",
    "release": "numberflow release T-1",
    "deliver": "numberflow deliver T-1 +14255550123 +14255550124 --by porting-desk",
    "confirm-released": "numberflow confirm-released T-1 --by ops --note 'case 123'",
    "check": "numberflow tickets check --mapping deploy/tickets/jira-mapping.toml",
    "reconcile": "numberflow reconcile --release-orphans --grace 7d",
    "setup": "TEMPORAL_ADDRESS=temporal-frontend:7233 numberflow setup --check",
    "replay": f"numberflow replay --query \"WorkflowType = '{PROVISION_WORKFLOW_TYPE}'\"",
    "worker": f"NUMBERFLOW_TASK_QUEUE={TASK_QUEUE} numberflow worker",
    "ingress": "NUMBERFLOW_WEBHOOK_SECRETS=s1 NUMBERFLOW_STATUS_TOKENS=t1 numberflow ingress "
    "--port 8080",
    "emulator": "numberflow emulator --port 8787 --lro-seconds 1",
    "demo": "numberflow demo",
    "dev": "numberflow dev --encrypt",
    "list": "numberflow list --stage awaiting_approval --country US",
    "codec-server": "NUMBERFLOW_CODEC_TOKENS=t1 numberflow codec-server --ui-origin "
    "https://temporal-ui.example.com",
    "sip": "numberflow sip show --resource https://res.communication.azure.com",
    "show": "numberflow sip show --resource https://res.communication.azure.com --json",
    "quota": "numberflow quota --resource https://res.communication.azure.com",
    "grant": "numberflow quota grant --searches 20 --purchases 10 --by ops "
    "--resource https://res.communication.azure.com",
    "route-test": "numberflow sip route-test +14255550123 --resource "
    "https://res.communication.azure.com",
}
"""One runnable example per command, shown as the epilog of its --help."""

app = typer.Typer(
    name="numberflow",
    help="Durable phone-number provisioning for Azure Communication Services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for command in (
    provision,
    approve,
    reject,
    retry,
    skip,
    abort,
    abandon,
    cancel,
    status,
    release,
    reconcile,
    setup,
    replay,
    worker,
    ingress,
    emulator,
    demo,
    dev,
):
    app.command()(command)
app.command(name="list")(list_provisionings)
app.command(name="deliver")(deliver_command)
app.command(name="confirm-released")(confirm_released_command)
app.command(name="codec-server")(codec_server)
app.add_typer(sip_app, name="sip")
app.add_typer(quota_app, name="quota")
app.add_typer(tickets_app, name="tickets")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"numberflow {installed_version('numberflow')}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Durable phone-number provisioning for Azure Communication Services."""


def build_command() -> Any:
    """The command with clean help: metavars named after parameters, an example each."""
    root = typer.main.get_command(app)
    _polish(root, "numberflow")
    return root


def _polish(command: Any, name: str) -> None:
    example = EXAMPLES.get(name)
    if example and not command.epilog:
        command.epilog = f"Example: {example}"
    for param in command.params:
        _name_metavar(param)
    make_help_option = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = make_help_option(ctx)
        if option is not None:
            _name_metavar(option)
        return option

    command.get_help_option = help_option
    for sub_name, sub in (getattr(command, "commands", None) or {}).items():
        _polish(sub, sub_name)


def _name_metavar(param: Any) -> None:
    """A flag shows no metavar, a choice its choices, anything else its name (not its type)."""
    if getattr(param, "param_type_name", "") == "argument":
        param.display_type_rich = lambda **_: None  # its name is shown already
        param.metavar = param.metavar or (param.name or "value").upper()
        return
    if param.metavar is not None:
        return
    descriptor = getattr(param, "type_descriptor", None)
    if getattr(param, "is_flag", False) or getattr(param, "is_bool_flag", False):
        param.metavar = ""
    elif not (descriptor and descriptor.is_choice):
        param.metavar = (param.name or "value").upper()


def main() -> None:
    """Entry point of the ``numberflow`` console script.

    Every failure ends as one line on stderr and an exit code; a traceback only with
    ``NUMBERFLOW_LOG_LEVEL=debug``. Exits with ``os._exit`` once output is flushed: the Temporal
    client's native runtime was seen to abort (SIGABRT) during interpreter teardown after a
    successful command, which would turn a success into a failure for scripts.
    """
    try:
        level = parse_log_level(os.environ.get(LOG_LEVEL_VAR, "warning"))
    except ValueError as error:
        err_console.print(
            f"error: configuration: {LOG_LEVEL_VAR}: {error}", markup=False, soft_wrap=True
        )
        sys.stderr.flush()
        os._exit(2)
    # Commands that run a service (worker, ingress, codec-server) configure their own from the
    # same variable, with INFO as their default.
    configure_logging(level)
    try:
        result = build_command().main(prog_name="numberflow", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except click.NoArgsIsHelpError as error:
        error.show()
        code = error.exit_code
    except click.UsageError as error:
        err_console.print(_usage_line(error), soft_wrap=True, markup=False)
        code = error.exit_code
    except click.ClickException as error:
        err_console.print(
            f"error: {_one_line(error.format_message())}", soft_wrap=True, markup=False
        )
        code = error.exit_code
    except (KeyboardInterrupt, typer.Abort):
        err_console.print("interrupted; anything already started keeps running in Temporal")
        code = 130
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, no traceback
        if level == "debug":
            traceback.print_exc()
        message = _one_line(str(error))[:300]
        err_console.print(
            f"error: {type(error).__name__}: {message} ({LOG_LEVEL_VAR}=debug shows the traceback)",
            soft_wrap=True,
            markup=False,
        )
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _usage_line(error: click.UsageError) -> str:
    """A bad command line as one line (exit 2), naming where the command's help is."""
    command = error.ctx.command_path if error.ctx is not None else "numberflow"
    return f"error: invalid input: {_one_line(error.format_message())} (see {command} --help)"


def _one_line(text: str) -> str:
    return " ".join(text.split())
