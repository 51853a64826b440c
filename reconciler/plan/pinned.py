"""Adopted jobs (SPEC §9): a manifest with ``job_id:`` is matched to that job by ID, not by tags.

Such a job was usually created by someone else, so it has no spec hash to compare: its live
fields are compared with the manifest's instead, the way the API returns them — the model alias
resolved, ``auto`` hyperparameters matching whatever the service chose, a local file matching the
upload of its bytes, the suffix read from the fine-tuned model's name when the API does not return
it, a grader matching when the live one holds every field the manifest gives. What cannot be read
back (provider options) is not compared. An adopted job is never replaced: a difference is
reported, and removing ``job_id`` is how a user asks for a new, tagged job.
"""

from __future__ import annotations

from typing import Any

from reconciler import catalog
from reconciler.api.models import LiveJob
from reconciler.identity import Desired, UploadIndex
from reconciler.identity.request import FileRef


def differences(job: LiveJob, d: Desired, uploads: UploadIndex) -> list[str]:
    """The manifest fields whose value the live job does not have."""
    r, live, out = d.request, job.request, []
    if catalog.resolve_model(r.model) != job.model and r.model != job.model:
        out.append("model")
    for key in ("training_file", "validation_file"):
        if not _same_file(getattr(r, key), getattr(job, key), uploads):
            out.append(key)
    if (live.method_type or "supervised") != r.method.type:
        out.append("method.type")
    else:
        hyper = live.hyperparameters
        out += [f"method.hyperparameters.{k}" for k, v in r.method.chosen().items() if not _same(hyper.get(k), v)]
        if r.method.grader is not None and not _covers(live.grader, r.method.grader):
            out.append("method.grader")
    if r.suffix is not None and live.suffix is not None and live.suffix != r.suffix:
        out.append("suffix")
    if r.seed is not None and live.seed is not None and live.seed != r.seed:
        out.append("seed")
    if not _covers(live.integrations or [], r.integrations or []):  # the API shows unset fields as null
        out.append("integrations")
    if job.metadata is not None and job.user_metadata != dict(r.metadata):
        out.append("metadata")
    return out


def _same_file(ref: FileRef | None, live_id: str | None, uploads: UploadIndex) -> bool:
    if ref is None:
        return live_id is None
    if ref.sha256 is None:
        return ref.file_id == live_id
    return uploads.holds(live_id, ref.sha256, ref.bytes)  # the upload the job trains on, by its own name


def _same(live: Any, wanted: Any) -> bool:
    if isinstance(live, int | float) and isinstance(wanted, int | float) and not isinstance(live, bool):
        return float(live) == float(wanted)
    return bool(live == wanted)


def _covers(live: Any, wanted: Any) -> bool:
    """Whether ``live`` has every field of ``wanted`` with the same value (a server may add defaults)."""
    if isinstance(wanted, dict):
        return isinstance(live, dict) and all(_covers(live.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(live, list) and len(live) == len(wanted) and all(map(_covers, live, wanted))
    return _same(live, wanted)
