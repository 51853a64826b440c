"""Glue between the CLI and the layers: choose the target, read live state, plan, apply.

Only this module and the CLI know about all layers at once; the planner sees data, the applier
sees a ``Plan``, the API client sees requests.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconciler import logs
from reconciler.api.client import Reader, Target, Transport, Writer, check_base_url
from reconciler.api.models import LiveFile, LiveJob
from reconciler.datasets.check import Analysis, analyse
from reconciler.datasets.pricing import load_prices
from reconciler.datasets.tokens import exact_counter
from reconciler.diagnostics import InputError
from reconciler.identity import Desired, desired, sha256_file
from reconciler.manifests import LoadedManifest, load_manifests
from reconciler.plan.model import FORMAT_VERSION, Plan, fingerprint
from reconciler.plan.planner import Options, plan

DEFAULT_API_BASE = "https://api.openai.com/v1"


class SetupError(Exception):
    """A problem with options or environment, explained to the user (exit 1)."""


class StalePlan(SetupError):
    pass


@dataclass(frozen=True)
class TargetOptions:
    sandbox: bool = False
    api_base: str | None = None
    stack: str = "default"


@dataclass
class Connection:
    target: Target
    transport: Transport

    @property
    def reader(self) -> Reader:
        return Reader(self.transport)

    @property
    def writer(self) -> Writer:
        return Writer(self.transport)


def remote_target(api_base: str | None, env: dict[str, str]) -> Target:
    base = api_base or env.get("OPENAI_BASE_URL") or DEFAULT_API_BASE
    problem = check_base_url(base)
    if problem:
        raise SetupError(problem)
    host = urlsplit(base).hostname or ""
    azure_key, openai_key = env.get("AZURE_OPENAI_API_KEY"), env.get("OPENAI_API_KEY")
    if azure_key and (host.endswith(".azure.com") or not openai_key):
        target = Target(base, azure_key, azure=True, label=base)
    elif openai_key:
        target = Target(base, openai_key, label=base)
    else:
        raise SetupError(
            f"no API key for {base}: set OPENAI_API_KEY (or AZURE_OPENAI_API_KEY for Azure OpenAI), "
            "or use --sandbox to run against the embedded sandbox (no key, no network needed)")
    logs.add_secret(target.key)
    return target


@contextlib.contextmanager
def connect(opts: TargetOptions) -> Iterator[Connection]:
    if opts.sandbox:
        from reconciler.sandbox.server import running

        db = Path(os.environ.get("FTCTL_SANDBOX_DB", ".ftctl/sandbox.db"))
        speed = float(os.environ.get("FTCTL_SANDBOX_SPEED", "1"))
        with running(db, speed) as (url, _):
            target = Target(url, "sandbox", label=f"the embedded sandbox ({db})")
            transport = Transport(target)
            try:
                yield Connection(target, transport)
            finally:
                transport.close()
        return
    target = remote_target(opts.api_base, dict(os.environ))
    transport = Transport(target)
    try:
        yield Connection(target, transport)
    finally:
        transport.close()


def check_data(paths: list[Path], prices_path: str | None = None) -> tuple[list[LoadedManifest], Analysis]:
    """Load manifests and check their training data; raise ``InputError`` with every problem."""
    loaded = load_manifests(paths)
    try:
        prices = load_prices(prices_path)
    except (OSError, ValueError) as exc:
        raise SetupError(f"cannot read the price table: {exc}") from None
    analysis = analyse(loaded, prices, exact_counter())
    if analysis.errors:
        raise InputError(analysis.diagnostics)
    return loaded, analysis


def load_desired(paths: list[Path], prices_path: str | None = None) -> tuple[list[Desired], Analysis]:
    loaded, analysis = check_data(paths, prices_path)
    hashes = {path: scan.sha256 for path, scan in analysis.scans.items()}
    counts = {path: (scan.report.examples, scan.report.tokens) for path, scan in analysis.scans.items()}
    estimates = {name: e.to_dict() for name, e in analysis.estimates.items()}
    return [desired(m, hashes, counts, estimates.get(m.name)) for m in loaded], analysis


def read_live(reader: Reader, stack: str) -> tuple[list[LiveJob], list[LiveFile]]:
    return reader.stack_jobs(stack), reader.list_files()


def make_plan(conn: Connection, wanted: list[Desired], stack: str, options: Options) -> Plan:
    jobs, files = read_live(conn.reader, stack)
    return plan(wanted, jobs, files, stack, options, target=conn.target.label)


def load_plan_file(path: Path) -> Plan | None:
    """The plan saved in ``path``, or None when ``path`` is not a plan file."""
    if not path.is_file() or path.suffix in (".yaml", ".yml"):
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or "format_version" not in data:
        return None
    if data["format_version"] != FORMAT_VERSION:
        raise SetupError(f"{path}: plan format {data['format_version']} is not supported (expected {FORMAT_VERSION})")
    return Plan.from_json(data)


def check_fresh(conn: Connection, saved: Plan) -> None:
    """Refuse a saved plan whose live state or local files changed since it was made."""
    jobs, files = read_live(conn.reader, saved.stack)
    present = {f"{f.filename}:{f.id}" for f in files}
    now = fingerprint(jobs, [u for u in saved.relied_uploads if u in present])
    if now != saved.fingerprint:
        raise StalePlan("stale plan: the live jobs or uploads changed since this plan was made; run plan again")
    for action in saved.actions:
        if action.file is not None:
            path = Path(action.file.path)
            if not path.is_file() or sha256_file(path) != action.file.sha256:
                raise StalePlan(f"stale plan: {action.file.path} changed since this plan was made; run plan again")


def status_rows(jobs: list[LiveJob], now: float, declared: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per managed job, newest first per name; declared names without a job get a row too."""
    rows: list[dict[str, Any]] = []
    for job in jobs:
        rows.append({"name": job.name, "job_id": job.id, "status": job.status,
                     "fine_tuned_model": job.fine_tuned_model, "created_at": job.created_at,
                     "age_seconds": max(0, int(now - job.created_at)), "spec": job.spec,
                     "error": job.error.message if job.error else None,
                     "declared": job.name in declared if declared is not None else None})
    have = {job.name for job in jobs}
    for name in declared or []:
        if name not in have:
            rows.append({"name": name, "job_id": None, "status": "not created", "fine_tuned_model": None,
                         "created_at": None, "age_seconds": None, "spec": None, "error": None, "declared": True})
    return sorted(rows, key=lambda r: (r["name"] or "", -(r["created_at"] or 0)))
