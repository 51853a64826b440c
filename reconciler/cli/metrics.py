"""``metrics``: the training curve of a name's current job, as a table (with a chart on a terminal),
CSV, JSON or markdown (a table and a mermaid chart, for a pull request). Reads only: GET requests.
What the curve holds and how each format looks is ``session.metrics``'s; this module picks and prints."""

from __future__ import annotations

import shutil
import sys
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import log_option, target_options

if TYPE_CHECKING:
    from reconciler.session.settings import Settings

FORMATS = ("table", "csv", "json", "markdown")


@click.command()
@click.argument("name")
@click.option("-o", "--output", type=click.Choice(FORMATS), default="table", show_default=True)
@target_options
@log_option
def metrics(name: str, output: str, settings: Settings) -> None:
    """The training curve of NAME's current job (or of a job ID): step, losses, accuracy or reward."""
    from reconciler.cli.inspect import _adopted
    from reconciler.session import metrics as curves
    from reconciler.session.jobs import pick
    from reconciler.session.target import connect

    with connect(settings) as conn:
        chosen, job = next(iter(pick(conn.reader, settings.stack, (name,), _adopted(settings)[1]).items()))
        curve = curves.training_curve(conn.reader, chosen, job)
    if not curve.rows:  # machine-read formats stay parseable: the words go to stderr
        click.echo(curves.empty_message(curve), err=output in ("csv", "json"))
        if output == "json":
            click.echo("[]")
        return
    render = {"table": curves.as_table, "csv": curves.as_csv, "json": curves.as_json,
              "markdown": curves.as_markdown}[output]
    click.echo(render(curve))
    if output == "table" and sys.stdout.isatty():
        click.echo()
        click.echo(curves.chart(curve, min(shutil.get_terminal_size().columns, 120)))
