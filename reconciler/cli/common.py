"""What the commands share: options, the settings they build and small output helpers.

``_settings`` is the one place that reads the environment; every option that names a target comes
through ``target_options`` so that each command resolves flag > environment > ftctl.yaml > default
the same way.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler import logs
from reconciler.diagnostics import UsageProblem
from reconciler.providers import PROVIDERS as PROFILES

if TYPE_CHECKING:
    from reconciler.session.settings import Settings

PROVIDERS = click.Choice(list(PROFILES))
LEVELS = click.Choice(["debug", "info", "warning", "error"])


def paths_of(paths: tuple[str, ...], settings: Settings) -> list[Path]:
    """The manifest paths of this run (``session.settings.manifest_paths``)."""
    from reconciler.session.settings import manifest_paths

    return manifest_paths(paths, settings, Path.cwd())


def color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def make_settings(stack: str | None = None, sandbox: bool = False, api_base: str | None = None,
                  prices: str | None = None, offline: bool = False, provider: str | None = None) -> Settings:
    """The one place that reads the environment: flags > environment > ftctl.yaml > defaults."""
    from reconciler.session.settings import build

    return build(os.environ, Path.cwd(), stack=stack, sandbox=sandbox, api_base=api_base, prices=prices,
                 offline=offline, provider=provider)


def usage_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Contradicting options found below the CLI are shown as usage errors, with the banner."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UsageProblem as exc:
            raise click.UsageError(str(exc)) from None

    return wrapper


def target_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that talks to an API; the command receives ``settings``."""

    @click.option("--stack", metavar="NAME", help="Stack name (env FTCTL_STACK, ftctl.yaml; default 'default'): "
                  "ftctl only touches jobs tagged with it.")
    @click.option("--sandbox", is_flag=True, help="Use the embedded sandbox (state in .ftctl/sandbox.db at the "
                  "project root).")
    @click.option("--api-base", metavar="URL", help="API base URL (env OPENAI_BASE_URL, ftctl.yaml; default OpenAI).")
    @click.option("--provider", type=PROVIDERS,
                  help="What the API base is (env FTCTL_PROVIDER, ftctl.yaml; default: from the URL).")
    @functools.wraps(fn)
    @usage_errors
    def wrapper(*args: Any, stack: str | None, sandbox: bool, api_base: str | None, provider: str | None,
                **kwargs: Any) -> Any:
        prices = kwargs.pop("prices", None)
        return fn(*args, settings=make_settings(stack, sandbox, api_base, prices, provider=provider), **kwargs)

    return wrapper


def _log_level(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    """Configure logging as soon as ``--log-level`` is read, wherever it was given: the flag wins
    over ``FTCTL_LOG``, which is only read (and checked) when no flag is given at all."""
    if value is not None:
        logs.configure(value, os.environ)
    elif ctx.parent is None and not any(a == "--log-level" or a.startswith("--log-level=") for a in sys.argv[1:]):
        logs.configure(logs.log_level(None, os.environ), os.environ)


def log_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--log-level``, accepted after the subcommand as well as before it."""
    return click.option("--log-level", type=LEVELS, expose_value=False, is_eager=True, callback=_log_level,
                        help="Log events to stderr: info shows each step, debug each HTTP request "
                             "(env FTCTL_LOG; default warning).")(fn)


def prices_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--prices", "prices", metavar="FILE",
                        help="Price table (JSON) instead of the built-in dated one (env FTCTL_PRICES).")(fn)


def timeout_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--timeout", metavar="DURATION", help=help_text + " [default: 1h]")


def interval_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--poll-interval", "poll_interval", metavar="DURATION", default="5s", show_default=True,
                        help="How often jobs are read while waiting (at least 1s against a remote API).")(fn)


def warn(analysis: Any) -> None:
    for diag in analysis.warnings:
        click.echo(str(diag), err=True)


def table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Left-aligned columns, two spaces apart, no trailing blanks."""
    cells = [header, *rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
    for row in cells:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def span(seconds: float) -> str:
    """A duration as given on the command line: ``1h``, ``1h30m``, ``59m59s``, ``45s`` (rounded up)."""
    left, parts = math.ceil(seconds), []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0s"


def age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
