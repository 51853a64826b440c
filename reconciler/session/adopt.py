"""``ftctl import``: manifests for jobs that exist already, pinned with ``job_id`` (SPEC §9).

Each manifest holds the job's values as the API returns them — its model, its file IDs, its
resolved hyperparameters, grader, seed, integrations and user metadata, its suffix when the
fine-tuned model's name shows it — and a ``state`` that matches its status, so that a plan of the
written manifests shows no change against the jobs they came from. Every manifest is validated
with the manifest model before it is written; nothing remote is changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from reconciler.api.models import LiveJob
from reconciler.diagnostics import dotted
from reconciler.manifests.model import HYPERPARAMETERS, Manifest
from reconciler.providers import Provider
from reconciler.session.settings import SetupError


@dataclass(frozen=True)
class Imported:
    name: str
    job: LiveJob
    document: dict[str, Any]

    def text(self) -> str:
        header = f"# Imported from {self.job.id} ({self.job.status}) by ftctl import; job_id adopts it.\n"
        return header + yaml.safe_dump(self.document, sort_keys=False, allow_unicode=True, width=100)


def name_for(job: LiveJob, taken: set[str]) -> str:
    """The job's ``ftctl-name`` tag, else its suffix, else ``job-`` and its ID, made a valid name."""
    raw = job.name or job.request.suffix or f"job-{job.id.removeprefix('ftjob-')}"  # the one reading of a suffix
    base = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")[:55].strip("-") or "job"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


STATES = {"paused": "paused", "pausing": "paused", "cancelled": "cancelled"}
"""The ``state`` a manifest has for a job in each phase: the one that asks nothing of it."""


def state_of(status: str, provider: Provider) -> str:
    return STATES.get(provider.phase(status), "active")


def document(job: LiveJob, name: str, provider: Provider) -> dict[str, Any]:
    live = job.request
    kind = live.method_type or "supervised"
    allowed = HYPERPARAMETERS[kind].model_fields if kind in HYPERPARAMETERS else {}
    hyper = {k: v for k, v in live.hyperparameters.items() if k in allowed and v is not None}
    doc: dict[str, Any] = {"name": name, "model": job.model, "training_file": job.training_file}
    if job.validation_file:
        doc["validation_file"] = job.validation_file
    doc["method"] = {"type": kind, **({"hyperparameters": hyper} if hyper else {}),
                     **({"grader": live.grader} if live.grader else {})}
    integrations = [_without_nulls(i) for i in live.integrations or []] or None
    for key, value in (("suffix", live.suffix), ("seed", live.seed), ("metadata", job.user_metadata or None),
                       ("integrations", integrations)):
        if value is not None:
            doc[key] = value
    doc["state"] = state_of(job.status, provider)
    doc["job_id"] = job.id
    return doc


def _without_nulls(value: Any) -> Any:
    """The API shows unset fields as null; a manifest leaves them out."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def imports(jobs: list[LiveJob], taken: set[str], adopted: dict[str, str], stack: str,
            provider: Provider) -> list[Imported]:
    """A manifest per job; refused, with nothing written, for a job a manifest adopts already
    (``adopted``: job ID → name) or one ftctl manages in ``stack``."""
    for job in jobs:
        if job.id in adopted:
            raise SetupError(f"{job.id} is adopted already, by the manifest {adopted[job.id]}: nothing was written")
        if job.stack == stack and job.name:
            raise SetupError(f"{job.id} is managed already: it is {job.name}'s job in stack {stack!r} (no import "
                             "needed); nothing was written")
    out = []
    for job in jobs:
        name = name_for(job, taken)
        doc = document(job, name, provider)
        try:
            Manifest.model_validate(doc)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = dotted(tuple(first["loc"]))
            raise SetupError(f"{job.id} cannot be written as a manifest: {where}: {first['msg']}") from None
        out.append(Imported(name, job, doc))
    return out


def write(items: list[Imported], out_dir: Path) -> list[Path]:
    """One file per manifest in ``out_dir``; an existing file is never overwritten."""
    paths = [out_dir / f"{item.name}.yaml" for item in items]
    existing = [p for p in paths if p.exists()]
    if existing:
        raise SetupError(f"{existing[0]} exists already: nothing was written (choose another --out, or move it)")
    out_dir.mkdir(parents=True, exist_ok=True)
    for item, path in zip(items, paths, strict=True):
        path.write_text(item.text(), encoding="utf-8")
    return paths
