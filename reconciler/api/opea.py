"""OPEA GenAIComps' finetuning service spoken as ``ApiReader`` and ``ApiWriter``.

What the service is, from its published code, is in ``providers/opea.py``. Its routes are OpenAI's
in name only, so each read and write of ftctl is mapped onto them here:

| ftctl                     | the service                                                             |
|---------------------------|-------------------------------------------------------------------------|
| list_jobs, stack_jobs     | ``GET fine_tuning/jobs`` (every job, one answer), filtered here         |
| get_job                   | the same list, the job picked by ID (its retrieve is a POST: plan sends GETs only) |
| list_files                | the ftctl uploads its jobs name (it has no file list; their size unknown) |
| list_events               | none: it has no events                                                  |
| list_checkpoints          | ``POST finetune/list_checkpoints {"fine_tuning_job_id"}``               |
| create_job                | ``POST fine_tuning/jobs``, the body translated (``create_body``)         |
| act                       | cancel: ``POST fine_tuning/jobs/cancel``; pause, resume: refused here   |
| upload                    | ``POST files`` (multipart); a job trains on the file's *name*: it is the ID |
| delete_file               | refused: it has no such route                                           |

A job keeps no metadata there. Its three tags are read off the name of its training file
(``providers.tagged_files``): a job whose file name does not parse has none, and is not ftctl's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.api.client import Transport
from reconciler.api.errors import ApiError
from reconciler.api.models import TAG_NAME, TAG_SPEC, TAG_STACK, LiveCheckpoint, LiveEvent, LiveFile, LiveJob
from reconciler.api.ports import Progress
from reconciler.api.retry import RetryPolicy
from reconciler.api.upload import send_file
from reconciler.providers.tagged_files import tags_of

TASKS = {"supervised": "instruction_tuning", "dpo": "dpo"}
"""ftctl's methods as the service's ``General.task``."""
TRAINING = {"n_epochs": "epochs", "batch_size": "batch_size", "beta": "dpo_beta"}
"""Hyperparameters as the service's ``Training`` fields (its ``hyperparameters`` crash it)."""
NOT_KEPT = ("metadata", "method", "suffix", "hyperparameters")
"""Fields of its job that it does not keep from the request (always null, or not the request's)."""


def live_job(item: dict[str, Any]) -> LiveJob:
    """A job as the service returns it, as ftctl reads jobs: its tags from its training file's name;
    the fields it never keeps left out (not reported, rather than reported empty)."""
    data = {k: v for k, v in item.items() if k not in NOT_KEPT}
    tagged = tags_of(item.get("training_file"))
    if tagged is not None:
        _, stack, name, spec = tagged
        data["metadata"] = {TAG_STACK: stack, TAG_NAME: name, TAG_SPEC: spec}
    return LiveJob.model_validate(data)


def create_body(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI-shaped create request (``CreateRequest.body``) in the service's words. Its identity
    travels in ``training_file`` (a name); metadata, suffix, validation file and integrations, which
    it does not keep, are not sent (``validate --provider opea`` refuses manifests that set them)."""
    method = body.get("method") or {"type": "supervised"}
    kind = method["type"]
    if kind not in TASKS:
        raise ApiError(400, f"not sent: the OPEA fine-tuning service has no {kind} fine-tuning", param="method.type",
                       kind="invalid")
    hyper = (method.get(kind) or {}).get("hyperparameters") or {}
    chosen = {k: v for k, v in hyper.items() if v not in ("auto", "default")}
    out: dict[str, Any] = {"model": body["model"], "training_file": body["training_file"]}
    if kind != "supervised":
        out["General"] = {"task": TASKS[kind]}
    training = {TRAINING[k]: v for k, v in chosen.items() if k in TRAINING}
    unknown = sorted(set(chosen) - set(TRAINING))
    if unknown:
        raise ApiError(400, f"not sent: the OPEA fine-tuning service takes no {', '.join(unknown)}", kind="invalid")
    if training:
        out["Training"] = training
    if body.get("seed") is not None:
        out["seed"] = str(body["seed"])  # its request model types the seed as a string
    return out


class OpeaReader:
    """Reads: every GET retried under ``retry`` (and the one POST that only reads, checkpoints)."""

    def __init__(self, transport: Transport, retry: RetryPolicy | None = None) -> None:
        self.transport = transport
        self.retry = retry or RetryPolicy()

    def _read(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.retry.run(lambda _: self.transport.once(method, path, **kwargs))

    def _all(self) -> list[LiveJob]:
        data = self._read("GET", "fine_tuning/jobs").get("data") or []
        jobs = [live_job(item) for item in reversed(data)]  # it lists oldest first
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

    def list_jobs(self, metadata: dict[str, str] | None = None) -> list[LiveJob]:
        wanted = metadata or {}
        return [j for j in self._all() if all(j.tags.get(k) == v for k, v in wanted.items())]

    def stack_jobs(self, stack: str) -> list[LiveJob]:
        return self.list_jobs({TAG_STACK: stack})

    def get_job(self, job_id: str) -> LiveJob:
        found = next((j for j in self._all() if j.id == job_id), None)
        if found is None:
            raise ApiError(404, f"Fine-tuning job '{job_id}' not found (the service forgets its jobs when it restarts)",
                           kind="not_found")
        return found

    def list_files(self) -> list[LiveFile]:
        names = dict.fromkeys(j.training_file for j in self._all() if tags_of(j.training_file))
        return [LiveFile(id=name, filename=name, purpose="fine-tune") for name in names if name]

    def list_events(self, job_id: str, limit: int | None = None) -> list[LiveEvent]:
        return []

    def list_checkpoints(self, job_id: str) -> list[LiveCheckpoint]:
        raw = self._read("POST", "finetune/list_checkpoints", json={"fine_tuning_job_id": job_id})
        found = [LiveCheckpoint.model_validate({k: v for k, v in item.items() if v is not None})
                 for item in raw if isinstance(item, dict)]
        # the whole output folder (no step) once the job succeeded, then the checkpoints, newest first
        return sorted(found, key=lambda c: (c.step_number == 0, c.step_number), reverse=True)

    def file_content(self, file_id: str) -> str:
        raise ApiError(404, f"OPEA's finetuning service has no files API (asked for {file_id})", kind="not_found")


class OpeaWriter:
    """The writes ``apply`` performs, each one attempt (the service knows no idempotency key)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def create_job(self, body: dict[str, Any], idempotency_key: str) -> LiveJob:
        return live_job(self.transport.once("POST", "fine_tuning/jobs", json=create_body(body)))

    def act(self, job_id: str, action: str) -> LiveJob:
        if action != "cancel":
            raise ApiError(405, f"not sent: the OPEA fine-tuning service cannot {action} jobs (it has no such route)",
                           kind="invalid")
        return live_job(self.transport.once("POST", "fine_tuning/jobs/cancel", json={"fine_tuning_job_id": job_id}))

    def upload(self, path: Path, filename: str, idempotency_key: str, sha256: str,
               progress: Progress | None = None) -> LiveFile:
        """Upload ``path`` as ``filename`` (an upload of the same name replaces it). Jobs name the file,
        not its ID: the name is returned as the ID, for the create to send."""
        sent = send_file(self.transport, path, filename, idempotency_key, sha256, progress)
        return sent.model_copy(update={"id": sent.filename or filename})

    def delete_file(self, file_id: str) -> None:
        raise ApiError(405, "not sent: the OPEA fine-tuning service cannot delete files (it has no such route)",
                       kind="invalid")
