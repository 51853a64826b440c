"""Desired state: manifests loaded and validated, their training data checked, each turned into a
``Desired`` (request, spec hash, local files, estimate). Offline; nothing here sends a request."""

from __future__ import annotations

from pathlib import Path

from reconciler.datasets.check import Analysis, analyse
from reconciler.datasets.pricing import load_prices
from reconciler.datasets.tokens import exact_counter
from reconciler.diagnostics import InputError
from reconciler.identity import Desired, Digest, build
from reconciler.manifests import Known, LoadedManifest, load_all
from reconciler.manifests.loader import discover
from reconciler.session.settings import Settings, SetupError


def check_data(paths: list[Path], settings: Settings,
               context: list[LoadedManifest] | None = None) -> tuple[list[LoadedManifest], Analysis]:
    """Load manifests and check their training data; raise ``InputError`` with every problem.
    ``context``: the project's manifests left out of ``paths`` (``elsewhere``), for pipeline references."""
    try:
        prices = load_prices(settings.prices)
    except OSError as exc:
        raise SetupError(f"{settings.prices_from} {settings.prices}: cannot read the price table: "
                         f"{exc.strerror or exc}") from None
    except ValueError as exc:  # not UTF-8, or not the shape of a price table
        raise SetupError(f"{settings.prices_from} {exc}") from None
    provider = None if settings.sandbox or (settings.offline and not settings.provider) else settings.profile
    # validate judges every manifest that may create by the lifecycle table; plan judges its creates only
    # (session.dates): a manifest whose job exists needs nothing more from the provider
    dated = settings.lifecycle_key if settings.offline else None
    known = Known(settings.extra_models, provider, dated, settings.lifecycle, settings.clock.today(),
                  settings.azure_training_type)
    loaded, problems = load_all(paths, known=known, context=context)
    analysis = analyse(loaded, prices, exact_counter(settings.token_cache), provider)
    analysis.diagnostics[:0] = problems
    if analysis.errors:
        raise InputError(analysis.diagnostics)
    return loaded, analysis


def desired_of(loaded: list[LoadedManifest], analysis: Analysis, settings: Settings) -> list[Desired]:
    """The checked manifests as ``Desired``: request, spec hash, local files, estimate."""
    digests = {path: Digest(scan.sha256, scan.bytes, scan.report.examples, scan.report.tokens)
               for path, scan in analysis.scans.items()}
    # On a target that needs a training type with every create, ftctl.yaml's stands in for a manifest's.
    default = settings.azure_training_type if not settings.sandbox and settings.profile.training_types else None
    items = {path: scan.report.examples for path, scan in analysis.scans.items()}
    # Another provider's options are neither sent nor hashed: moving a manifest to Azure does not
    # retrain its jobs where it runs today. Offline (validate), with no target named, all are kept.
    target = None if settings.offline and not settings.provider else settings.profile.name
    return [build(m, settings.root, digests, analysis.estimates.get(m.name), default,
                  items.get(m.local_files.get(("eval", "file"), Path())), target) for m in loaded]



def elsewhere(outside: list[Path] | None) -> list[LoadedManifest]:
    """The manifests of files the paths of a run leave out, read for what other manifests may ask of
    them (a stage's upstream, the names that are not orphans): their own problems are theirs, left to
    a run that gives them (a file that does not load is simply not there)."""
    return load_all(outside)[0] if outside else []


def left_out(given: list[Path], project: list[Path]) -> list[Path] | None:
    """The manifest files under ``project`` (the project's own paths) that ``given`` does not reach:
    a plan of ``given`` alone would take the jobs they declare for orphans. Where the project's paths
    hold no manifest, folders given whole stand for the project (nothing left out), and a file given
    leaves out what cannot be known: None."""
    own = discover(project)[0]
    if not own:
        return [] if all(p.is_dir() for p in given) else None
    reached = set(discover(given)[0].values())
    return [path for path, real in own.items() if real not in reached]
