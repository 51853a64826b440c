"""``import``: manifests for existing jobs, pinned with ``job_id`` (SPEC §9). Sends GET requests only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import log_option, target_options

if TYPE_CHECKING:
    from reconciler.session.settings import Settings


@click.command("import")
@click.argument("job_ids", nargs=-1, required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write one NAME.yaml per job into DIR (never overwriting) instead of printing them.")
@target_options
@log_option
def import_cmd(job_ids: tuple[str, ...], out_dir: str | None, settings: Settings) -> None:
    """Write manifests that adopt existing jobs (JOB_ID…): plan then shows no change for them."""
    from reconciler.manifests.model import JOB_ID_PATTERN
    from reconciler.session.adopt import imports, write
    from reconciler.session.jobs import declared
    from reconciler.session.target import connect

    wrong = [j for j in job_ids if not re.fullmatch(JOB_ID_PATTERN, j)]
    if wrong:
        raise click.UsageError(f"{wrong[0]!r} is not a fine-tuning job ID (ftjob-…)")
    found = declared((), settings, Path.cwd())
    adopted = {job_id: name for name, job_id in found.items() if job_id}
    with connect(settings) as conn:
        jobs = [conn.reader.get_job(job_id) for job_id in dict.fromkeys(job_ids)]
        provider = conn.provider
    items = imports(jobs, set(found), adopted, settings.stack, provider)
    if out_dir is None:
        click.echo("---\n".join(item.text() for item in items), nl=False)
        return
    for item, path in zip(items, write(items, Path(out_dir)), strict=True):
        click.echo(f"{path}: {item.name} adopts {item.job.id} ({item.job.status})")
