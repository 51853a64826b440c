"""``sandbox serve``: the embedded OpenAI-compatible server, in any of its dialects, with its quotas.

Its speed follows the rule of every setting: ``--speed``, else ``FTCTL_SANDBOX_SPEED`` (read and
checked by the same function as for ``--sandbox``), else 1."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import click

from reconciler.cli.common import log_option
from reconciler.sandbox.flavor import FLAVORS

DROPPABLE = {"metadata", "method", "suffix", "seed", "integrations", "validation_file", "hyperparameters"}


@click.group()
def sandbox() -> None:
    """The embedded OpenAI-compatible sandbox."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, show_default=True, type=int)
@click.option("--db", default=".ftctl/sandbox.db", show_default=True, type=click.Path(dir_okay=False))
@click.option("--speed", type=click.FloatRange(min=0.001),
              help="Divide every job phase's duration by this factor (env FTCTL_SANDBOX_SPEED; default 1).")
@click.option("--flavor", type=click.Choice(list(FLAVORS)), default="openai", show_default=True,
              help="The dialect: OpenAI's, Azure OpenAI's v1 (paths under /openai/v1, pending, pausing…), AWS "
                   "Bedrock's OpenAI-compatible endpoint, or OPEA's finetuning service (routes of its own, no key).")
@click.option("--max-active-jobs", type=click.IntRange(1), metavar="N", help="Refuse creates beyond N active jobs.")
@click.option("--daily-limit", type=click.IntRange(0), metavar="N", help="Refuse the create after N in a day.")
@click.option("--drop-fields", metavar="FIELDS", default="",
              help="Drop these fields of create requests (e.g. metadata,method), as a proxy might.")
@click.option("--no-idempotency", "no_idempotency", is_flag=True,
              help="Ignore Idempotency-Key headers, as an API that does not know them would.")
@click.option("--clock", type=click.Choice(["real", "manual"]), default="real", show_default=True,
              help="manual: time moves only by POST /sandbox/clock/advance (for tests).")
@log_option
def sandbox_serve(host: str, port: int, db: str, speed: float | None, flavor: str, max_active_jobs: int | None,
                  daily_limit: int | None, drop_fields: str, no_idempotency: bool, clock: str) -> None:
    """Serve the sandbox API over HTTP until interrupted."""
    from reconciler.sandbox.flavor import Options
    from reconciler.sandbox.server import serve
    from reconciler.session.settings import sandbox_speed

    if speed is None:  # the flag wins; else the variable (empty is unset), checked as for --sandbox
        value = os.environ.get("FTCTL_SANDBOX_SPEED")
        speed = sandbox_speed(value) if value else 1.0

    dropped = frozenset(f.strip() for f in drop_fields.split(",") if f.strip())
    unknown = dropped - DROPPABLE
    if unknown:
        raise click.UsageError(f"--drop-fields: {', '.join(sorted(unknown))} is not a field of a create request "
                               "that can be dropped")
    # A server stopped by SIGTERM has finished, not been interrupted: uvicorn shuts down on it and then
    # raises it again, which ends the process as before (ftctl's other commands report it as Ctrl-C).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    serve(host, port, Path(db), Options(flavor=FLAVORS[flavor], speed=speed, max_active_jobs=max_active_jobs,
                                        daily_limit=daily_limit, drop_fields=dropped,
                                        idempotency=not no_idempotency), clock)
