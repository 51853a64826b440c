"""The ``ftctl`` command line. Commands parse options and delegate; no logic lives here.

One module per group of commands (``check``: validate and schema; ``plan_apply``; ``inspect``:
status, outputs, logs and wait; ``metrics``; ``adopt``: import; ``grade``; ``sandbox``), sharing ``common``. Heavy
modules are imported inside the commands, so that ``--help`` and ``--version`` start fast.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click

from reconciler import __version__, logs
from reconciler.api.errors import ApiError
from reconciler.cli import adopt, check, evaluate, grade, graph, inspect, metrics, plan_apply, port, sandbox
from reconciler.cli.common import log_option
from reconciler.diagnostics import InputError, SetupError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftctl")
@log_option
def cli() -> None:
    """Declarative plan/apply for fine-tuning jobs."""


for command in (check.validate, check.schema, plan_apply.plan_cmd, plan_apply.apply_cmd, inspect.status, inspect.wait,
                inspect.logs, inspect.outputs, metrics.metrics, adopt.import_cmd, port.port_cmd, graph.graph_cmd,
                evaluate.eval_cmd, grade.grade_cmd, sandbox.sandbox):
    cli.add_command(command)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: every failure becomes a message and exit code, never a traceback. SIGTERM (what a CI
    runner sends a cancelled job after SIGINT) stops a command as Ctrl-C does: it says what it did and
    exits 130."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        cli.main(prog_name="ftctl", standalone_mode=False)
    except InputError as exc:
        for diag in exc.diagnostics:
            click.echo(str(diag), err=True)
        from reconciler.diagnostics import plural

        errors = sum(1 for d in exc.diagnostics if d.severity == "error")
        click.echo(f"{plural(errors, 'error')}.", err=True)
        sys.exit(1)
    except SetupError as exc:
        click.echo(f"Error: {logs.redact_text(str(exc))}", err=True)
        sys.exit(1)
    except ApiError as exc:
        click.echo(f"Error: the API refused or did not answer: {logs.redact_text(str(exc))}", err=True)
        sys.exit(1)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C in a command into Abort
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1 if exc.exit_code == 2 else exc.exit_code)
    except OSError as exc:  # a file that cannot be read or written, a port that cannot be bound
        click.echo(f"Error: {logs.redact_text(str(exc))}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: no traceback reaches the user (but --log-level debug)
        logs.debug("internal_error", exc_info=True)
        click.echo(f"ftctl: internal error: {type(exc).__name__}: {logs.redact_text(str(exc))}", err=True)
        sys.exit(1)
