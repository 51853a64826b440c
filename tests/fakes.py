"""An in-memory fake of the API for unit tests: the ``ApiReader`` and ``ApiWriter`` interfaces,
with statuses that change only when told to, faults that can be queued per write, and jobs that
come back the way the real API returns them (model aliases resolved, ``auto`` resolved to numbers,
a seed picked when none was sent, no ``suffix`` field)."""

from __future__ import annotations

import copy
import hashlib
import itertools
from pathlib import Path
from typing import Any

from reconciler import catalog
from reconciler.api.errors import ApiError
from reconciler.api.models import LiveCheckpoint, LiveEvent, LiveFile, LiveJob
from reconciler.api.ports import Progress
from reconciler.api.upload import ContentChanged

LEGAL = {"cancel": {"validating_files", "queued", "running", "paused", "pending", "pausing", "resuming"},
         "pause": {"running"}, "resume": {"paused"}}
NEXT = {"validating_files": "queued", "queued": "running", "pending": "running", "pausing": "paused",
        "resuming": "running"}
"""With ``progress_on_read``, the phase each status moves on to at a read."""
AFTER = {"cancel": "cancelled", "pause": "paused", "resume": "running"}
RESOLVED: dict[str, Any] = {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8, "beta": 0.1,
                            "compute_multiplier": 1.0, "eval_interval": 1, "eval_samples": 1,
                            "reasoning_effort": "medium"}


def resolve_method(method: dict[str, Any]) -> dict[str, Any]:
    method = copy.deepcopy(method)
    kind = method["type"]
    hyper = method.setdefault(kind, {}).setdefault("hyperparameters", {})
    for key, value in list(hyper.items()):
        if value in ("auto", "default"):
            hyper[key] = RESOLVED[key]
    return method


class FakeApi:
    def __init__(self, start_status: str = "running", progress_on_read: bool = False) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(1)
        self.clock = itertools.count(1000)
        self.start_status = start_status
        self.faults: list[str] = []  # consumed by writes: "500", "drop_before", "drop_after", "429"; "ok" for none
        self.writes: list[tuple[str, str]] = []
        self.keys: dict[str, str] = {}
        self.progress_on_read = progress_on_read  # time passes: each read moves a job one phase on
        self.events: dict[str, list[dict[str, Any]]] = {}  # per job, oldest first
        self.checkpoints: dict[str, list[dict[str, Any]]] = {}
        self.contents: dict[str, str] = {}  # file ID → its text (a job's results file)
        self.unlisted: set[str] = set()  # jobs seen by ID but not yet in listings (a list lagging behind creates)
        self.honours_keys = True  # False: a repeated Idempotency-Key makes another job, as an API without keys

    # -- helpers for tests -------------------------------------------------------------------
    def add_job(self, **fields: Any) -> str:
        job_id = str(fields.pop("id", f"ftjob-{next(self.ids)}"))
        self.jobs[job_id] = {"id": job_id, "status": "running", "created_at": next(self.clock), **fields}
        return job_id

    def add_event(self, job_id: str, message: str, level: str = "info", **metrics: Any) -> None:
        events = self.events.setdefault(job_id, [])
        events.append({"id": f"ftevent-{job_id}-{len(events)}", "created_at": next(self.clock), "level": level,
                       "message": message, "type": "metrics" if metrics else "message", "data": metrics or {}})

    def add_checkpoint(self, job_id: str, step: int, **metrics: Any) -> None:
        self.checkpoints.setdefault(job_id, []).append(
            {"id": f"ftckpt-{job_id}-{step}", "created_at": next(self.clock), "step_number": step,
             "fine_tuned_model_checkpoint": f"ft:{job_id}:ckpt-step-{step}", "metrics": metrics})

    def _fault(self) -> str | None:
        return self.faults.pop(0) if self.faults else None

    def _before(self, fault: str | None) -> None:
        if fault == "500":
            raise ApiError(500, "server error")
        if fault == "429":
            raise ApiError(429, "slow down", retry_after=0)
        if fault == "drop_before":
            raise ApiError(0, "connection dropped")

    # -- ApiReader ---------------------------------------------------------------------------
    def list_jobs(self, metadata: dict[str, str] | None = None) -> list[LiveJob]:
        wanted = metadata or {}
        jobs = [LiveJob.model_validate(j) for j in self.jobs.values() if j["id"] not in self.unlisted]
        jobs = [j for j in jobs if all(j.tags.get(k) == v for k, v in wanted.items())]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

    def stack_jobs(self, stack: str) -> list[LiveJob]:
        return self.list_jobs({"ftctl-stack": stack})

    def get_job(self, job_id: str) -> LiveJob:
        if job_id not in self.jobs:
            raise ApiError(404, f"no job {job_id}")
        job = self.jobs[job_id]
        if self.progress_on_read:
            job["status"] = NEXT.get(job["status"], job["status"])
        return LiveJob.model_validate(job)

    def list_files(self) -> list[LiveFile]:
        return [LiveFile.model_validate(f) for f in reversed(self.files.values())]  # newest first, as the API

    def list_events(self, job_id: str, limit: int | None = None) -> list[LiveEvent]:
        newest_first = list(reversed(self.events.get(job_id, [])))
        return [LiveEvent.model_validate(e) for e in newest_first[:limit]]

    def list_checkpoints(self, job_id: str) -> list[LiveCheckpoint]:
        return [LiveCheckpoint.model_validate(c) for c in reversed(self.checkpoints.get(job_id, []))]

    def file_content(self, file_id: str) -> str:
        if file_id not in self.contents:
            raise ApiError(404, f"No such File object: {file_id}", kind="not_found")
        return self.contents[file_id]

    # -- ApiWriter ---------------------------------------------------------------------------
    def create_job(self, body: dict[str, Any], idempotency_key: str) -> LiveJob:
        fault = self._fault()
        self._before(fault)
        self.writes.append(("create", body["metadata"].get("ftctl-name", "")))
        if idempotency_key in self.keys and self.honours_keys:
            job_id = self.keys[idempotency_key]
        else:
            method = resolve_method(body["method"])
            job_id = self.add_job(
                status=self.start_status, metadata=body["metadata"], model=catalog.resolve_model(body["model"]),
                training_file=body["training_file"], validation_file=body.get("validation_file"), method=method,
                hyperparameters=method[method["type"]]["hyperparameters"] if method["type"] == "supervised" else None,
                seed=body.get("seed", 4242), integrations=body.get("integrations") or [])
            self.keys[idempotency_key] = job_id
        if fault == "drop_after":
            raise ApiError(0, "connection dropped after the write")
        return self.get_job(job_id)

    def act(self, job_id: str, action: str) -> LiveJob:
        fault = self._fault()
        self._before(fault)
        job = self.jobs[job_id]
        if job["status"] not in LEGAL[action]:
            raise ApiError(400, f"cannot {action} a {job['status']} job")
        self.writes.append((action, job_id))
        job["status"] = AFTER[action]
        if fault == "drop_after":
            raise ApiError(0, "connection dropped after the write")
        return self.get_job(job_id)

    def upload(self, path: Path, filename: str, idempotency_key: str, sha256: str,
               progress: Progress | None = None) -> LiveFile:
        fault = self._fault()
        self._before(fault)
        if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
            raise ContentChanged(f"{path} changed after the plan was made")
        file_id = f"file-{next(self.ids)}"
        self.files[file_id] = {"id": file_id, "filename": filename, "bytes": path.stat().st_size,
                               "purpose": "fine-tune", "created_at": next(self.clock)}
        self.writes.append(("upload", filename))
        if fault == "drop_after":
            raise ApiError(0, "connection dropped after the write")
        return LiveFile.model_validate(self.files[file_id])

    def delete_file(self, file_id: str) -> None:
        fault = self._fault()
        self._before(fault)
        if self.files.pop(file_id, None) is None:
            raise ApiError(404, f"no file {file_id}")
        self.writes.append(("delete_file", file_id))
        if fault == "drop_after":
            raise ApiError(0, "connection dropped after the write")


class FakeModels:
    """The ``Models`` port of the grader engine in memory: each model answers each prompt (its last
    user message) from a table, or says "I do not know"; every call is counted, and ``fail`` makes
    the next calls raise (an ``ApiError(500)`` each, as after the retries)."""

    def __init__(self, answers: dict[str, dict[str, str]] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple[str, str]] = []
        self.fail = 0

    def chat(self, model: str, messages: list[dict[str, Any]], params: Any) -> str:
        prompt = next((str(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
        self.calls.append((model, prompt))
        if self.fail:
            self.fail -= 1
            raise ApiError(500, "server error")
        return self.answers.get(model, {}).get(prompt, "I do not know")

    def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        self.calls.append((model, "\n".join(texts)))
        return [[float(len(t)), 1.0] for t in texts]
