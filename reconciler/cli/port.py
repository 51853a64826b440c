"""``port``: what it takes to run the manifests on another target. Offline; sends nothing."""

from __future__ import annotations

import json
import sys

import click

from reconciler.cli.common import PROVIDERS, log_option, make_settings, paths_of, usage_errors


@click.command("port")
@click.argument("paths", nargs=-1)
@click.option("--to", "to", type=PROVIDERS, required=True, help="The target to move to.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@usage_errors
@log_option
def port_cmd(paths: tuple[str, ...], to: str, output: str) -> None:
    """Whether each manifest runs as it is on another target, what must change, and the dates there;
    exit 0 when all run as they are, 1 otherwise."""
    from reconciler.diagnostics import InputError, to_json
    from reconciler.providers import PROVIDERS as PROFILES
    from reconciler.session.port import port

    settings = make_settings(offline=True)
    target = PROFILES[to]
    try:
        found = port(paths_of(paths, settings), settings, target)
    except InputError as exc:
        if output == "text":
            raise
        # a script reading -o json gets JSON even when the manifests do not load (as validate -o json)
        click.echo(json.dumps({"to": to, "errors": to_json(exc.diagnostics), "manifests": [], "runs_as_is": False},
                              indent=2, ensure_ascii=False))
        sys.exit(1)
    if output == "json":
        click.echo(json.dumps({"to": to, "manifests": [p.to_json() for p in found],
                               "runs_as_is": all(p.as_is for p in found)}, indent=2, ensure_ascii=False))
    else:
        for p in found:
            if p.as_is:
                click.echo(f"✓ {p.name} ({p.source}) runs as it is on {target.label}")
            else:
                click.echo(f"✗ {p.name} ({p.source}) needs changes for {target.label}:")
                for where, field, message in p.changes:
                    click.echo(f"    {where}: {field}: {message}")
            for line in (*p.dates, *p.notes):
                click.echo(f"    {line}")
        changed = sum(1 for p in found if not p.as_is)
        many = "s" if len(found) != 1 else ""
        click.echo(f"\n{changed} of {len(found)} manifest{many} need changes to run on {target.label}." if changed
                   else f"\nAll {len(found)} manifests run as they are on {target.label}." if len(found) != 1
                   else f"\nThe manifest runs as it is on {target.label}.")
    if any(not p.as_is for p in found):
        sys.exit(1)
