"""The stack's jobs by name, for the commands that read them (``wait``, ``logs``, ``outputs``).

A name's *current* job is its newest, as in planning (SPEC §3). ``outputs`` gathers what a deploy
step needs per name: the job, its status and error, the fine-tuned model, the trained tokens and
every checkpoint with its step and metrics, oldest first. ``event_line`` is one event as ``logs``
prints it: UTC time, level, message and, for a metrics event, its numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.api.models import TAG_NAME, LiveEvent, LiveJob
from reconciler.api.ports import ApiReader
from reconciler.clock import Clock
from reconciler.diagnostics import InputError
from reconciler.manifests import Known, load_manifests
from reconciler.plan.model import Stage
from reconciler.providers import Provider
from reconciler.providers.statuses import SETTLED
from reconciler.session.planning import jobs_by_id
from reconciler.session.settings import Settings, SetupError, manifest_paths


def declared(paths: tuple[str, ...], settings: Settings, cwd: Path) -> dict[str, str | None]:
    """Names the manifests declare, each with the job it adopts (``job_id:``) if any; errors count
    only where paths were named (on the command line or in ftctl.yaml): the default folder is a hint."""
    chosen = manifest_paths(paths, settings, cwd)
    if not (paths or settings.paths or all(p.is_dir() for p in chosen)):
        return {}
    try:
        return {m.name: m.manifest.job_id for m in load_manifests(chosen, known=Known(settings.extra_models))}
    except InputError:
        if paths or settings.paths:
            raise
        return {}


def pins(found: dict[str, str | None]) -> dict[str, str]:
    """The adopted jobs of ``declared`` names: name → job ID."""
    return {name: job_id for name, job_id in found.items() if job_id}


def current_jobs(jobs: list[LiveJob]) -> dict[str, LiveJob]:
    """The current job of each name: the newest one."""
    current: dict[str, LiveJob] = {}
    for job in sorted(jobs, key=lambda j: j.created_at, reverse=True):
        if job.name is not None:
            current.setdefault(job.name, job)
    return dict(sorted(current.items()))


def with_pins(reader: ApiReader, jobs: list[LiveJob], pins: dict[str, str]) -> list[LiveJob]:
    """``jobs`` and the jobs manifests adopt (name → job ID), each shown under its manifest's name; an
    adopted job that is gone is left out (plan says so, at the manifest's line)."""
    found = jobs_by_id(reader, pins.values(), jobs)
    adopted = [found[job_id].model_copy(update={"metadata": {**found[job_id].tags, TAG_NAME: name}})
               for name, job_id in pins.items() if job_id in found]
    return [j for j in jobs if j.id not in pins.values()] + adopted


def pick(reader: ApiReader, stack: str, names: tuple[str, ...], pins: dict[str, str] | None = None,
         ) -> dict[str, LiveJob]:
    """The current job of each of ``names`` (a name, or any job ID), or of every name; a name whose
    manifest adopts a job (``pins``) is that job."""
    jobs = with_pins(reader, reader.stack_jobs(stack), pins or {})
    current = current_jobs(jobs)
    if not names:
        return current
    by_id = {job.id: job for job in jobs}
    chosen: dict[str, LiveJob] = {}
    for name in names:
        if name in current:
            chosen[name] = current[name]
        elif name in by_id:
            chosen[by_id[name].name or name] = by_id[name]
        elif name.startswith("ftjob-"):
            chosen[name] = reader.get_job(name)  # any job: reading it changes nothing
        else:
            raise SetupError(f"no job named {name!r} in stack {stack!r} (`ftctl status` lists them)")
    return chosen


def unfinished(current: dict[str, LiveJob], names: tuple[str, ...]) -> dict[str, str]:
    """The jobs ``wait`` follows (job ID → name): those named, else every current job not settled."""
    return {job.id: name for name, job in current.items() if names or job.status not in SETTLED}


FOLLOW_PAGE = 100
"""``logs --follow`` reads the newest events a page at a time, not the whole history per poll."""


def follow_events(reader: ApiReader, job: LiveJob, show: Callable[[LiveEvent], None], follow: bool,
                  every: float, clock: Clock) -> LiveJob:
    """Show ``job``'s events oldest first; with ``follow``, keep showing new ones until the job is
    settled (ended or paused). The job as last read."""
    seen: set[str] = set()
    while True:
        newest = reader.list_events(job.id, FOLLOW_PAGE) if seen else []  # only what is new, mostly
        if not seen or all(e.id not in seen for e in newest):
            newest = reader.list_events(job.id)
        for event in reversed(newest):
            if event.id not in seen:
                seen.add(event.id)
                show(event)
        if not follow or job.status in SETTLED:
            return job
        clock.sleep(every)
        job = reader.get_job(job.id)


def outputs(reader: ApiReader, chosen: dict[str, LiveJob], provider: Provider) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, job in chosen.items():
        none_yet = provider.phase(job.status) in ("early", "failed")  # no checkpoint before training
        checkpoints = [] if none_yet else reader.list_checkpoints(job.id)
        out[name] = {
            "job_id": job.id, "status": job.status, "fine_tuned_model": job.fine_tuned_model,
            "trained_tokens": job.trained_tokens, "model": job.model,
            "error": (job.error.message or job.error.code) if job.error and job.status == "failed" else None,
            "checkpoints": [{"step": c.step_number, "model": c.fine_tuned_model_checkpoint,
                             "metrics": {k: v for k, v in c.metrics.items() if k != "step"}}
                            for c in sorted(checkpoints, key=lambda c: c.step_number)],
        }
    return out


CHECKPOINT_METRICS = ("train_loss", "valid_loss", "valid_mean_token_accuracy")


def metric_text(metrics: dict[str, Any], only: tuple[str, ...] | None = None) -> str:
    """``train_loss=0.8123 valid_loss=0.9001``: numbers to 4 decimals, in the API's order (or
    ``only`` these, in this order), without the step."""
    parts = []
    for key in only or tuple(metrics):
        value = metrics.get(key)
        if key in ("step", "total_steps") or value is None:
            continue
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={shown}")
    return " ".join(parts)


def event_line(event: LiveEvent) -> str:
    when = datetime.fromtimestamp(event.created_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    metrics = metric_text(event.metrics)
    return f"{when}  {event.level:<5}  {event.message}{f'  [{metrics}]' if metrics else ''}"


def stage_list(paths: tuple[str, ...], settings: Settings, cwd: Path, jobs: list[LiveJob]) -> list[Stage]:
    """Every manifest under ``paths`` as a stage of its pipeline, with its current job's status."""
    loaded = load_manifests(manifest_paths(paths, settings, cwd), known=Known(settings.extra_models))
    current = current_jobs(jobs)
    out = []
    for m in sorted(loaded, key=lambda m: m.name):
        up = m.manifest.upstream
        job = current.get(m.name)
        out.append(Stage(name=m.name, upstream=up.name if up else None, checkpoint=up.checkpoint if up else None,
                         status=job.status if job is not None else "not created"))
    return out
