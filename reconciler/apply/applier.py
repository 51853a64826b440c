"""The applier: executes a ``Plan`` against the writer, safely under retries, crashes and races.

Uploads go first. Then each manifest name's actions run in order (duplicate cancels, then its main
action); different names run in parallel. Every step re-reads the job just before acting and skips
what is already done, so re-running an interrupted apply, or two applies at once, converges.

Creates are never blindly retried. A create carries an ``Idempotency-Key`` derived from stack, name,
spec and the job it follows, and after an ambiguous failure (no answer, timeout, 5xx) the applier
first looks the job up by its tags: if the create went through, that job is the result.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler import logs
from reconciler.api.client import ApiError, Reader, Writer, backoff
from reconciler.api.models import TAG_NAME, TAG_SPEC, TAG_STACK, LiveJob
from reconciler.identity import find_uploaded
from reconciler.plan.model import Action, Plan

ATTEMPTS = 4
WAIT_POLL = 2.0


@dataclass(frozen=True)
class StepResult:
    name: str
    action: str
    outcome: str  # done | skipped | deferred | failed
    detail: str
    job_id: str | None = None


class StepFailed(Exception):
    pass


def idempotency_key(stack: str, name: str, spec: str, previous: str | None) -> str:
    raw = f"{stack}|{name}|{spec}|{previous or '-'}"
    return "ftctl-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


class Applier:
    def __init__(self, reader: Reader, writer: Writer, stack: str, parallelism: int = 4, wait: bool = False,
                 wait_timeout: float = 3600, sleep: Callable[[float], None] = time.sleep,
                 progress: Callable[[str, int], Any] | None = None) -> None:
        self.reader, self.writer, self.stack = reader, writer, stack
        self.parallelism = max(1, parallelism)
        self.wait, self.wait_timeout, self.sleep = wait, wait_timeout, sleep
        self.progress = progress

    # -- entry point ------------------------------------------------------------------------
    def apply(self, plan: Plan) -> list[StepResult]:
        uploads = [a for a in plan.actions if a.action == "upload"]
        with ThreadPoolExecutor(self.parallelism) as pool:
            upload_results = list(pool.map(self._upload, uploads))
        file_ids: dict[str, str] = {a.file.sha256: r.job_id for a, r in zip(uploads, upload_results, strict=True)
                    if a.file is not None and r.outcome in ("done", "skipped") and r.job_id}
        groups: dict[str, list[Action]] = {}
        for action in plan.actions:
            if action.action != "upload":
                groups.setdefault(action.name, []).append(action)
        with ThreadPoolExecutor(self.parallelism) as pool:
            per_name = list(pool.map(lambda acts: self._run_group(acts, file_ids), groups.values()))
        return upload_results + [r for group in per_name for r in group]

    def _run_group(self, actions: list[Action], file_ids: dict[str, str]) -> list[StepResult]:
        return [self._step(a, file_ids) for a in actions]

    def _step(self, action: Action, file_ids: dict[str, str]) -> StepResult:
        log = logs.get(name=action.name, job_id=action.job_id, action=action.action)
        log.info("step.start", reason=action.reason)
        try:
            if action.action == "cancel":
                result = self._cancel(action)
            elif action.action == "pause":
                result = self._pause(action.name, action.job_id or "", action.action)
            elif action.action == "resume":
                result = self._resume(action)
            else:
                if action.action == "replace" and action.job_id:
                    self._cancel(action)
                result = self._create(action, file_ids)
        except (ApiError, StepFailed) as exc:
            result = StepResult(action.name, action.action, "failed", str(exc), action.job_id)
        log.info("step.end", outcome=result.outcome, detail=result.detail, result_job_id=result.job_id)
        return result

    # -- uploads ----------------------------------------------------------------------------
    def _upload(self, action: Action) -> StepResult:
        assert action.file is not None
        f = action.file
        log = logs.get(name=action.name, action="upload", file=f.path)
        path = Path(f.path)
        key = "ftctl-upload-" + hashlib.sha256(f"{f.filename}|{f.bytes}".encode()).hexdigest()[:40]
        progress = self.progress
        report = (lambda n: progress(f.path, n)) if progress else None
        for attempt in range(ATTEMPTS):
            existing = find_uploaded(self.reader.list_files(), f.sha256, f.bytes)
            if existing is not None:
                return StepResult(action.name, "upload", "skipped" if attempt == 0 else "done",
                                  f"{f.path} already uploaded as {existing.id}", existing.id)
            try:
                uploaded = self.writer.upload(path, f.filename, key, report)
                log.info("upload.done", file_id=uploaded.id)
                return StepResult(action.name, "upload", "done", f"{f.path} → {uploaded.id}", uploaded.id)
            except ApiError as exc:
                log.warning("upload.error", error=str(exc), attempt=attempt)
                if not exc.retryable or attempt == ATTEMPTS - 1:
                    return StepResult(action.name, "upload", "failed", f"{f.path}: {exc}")
                self.sleep(backoff(attempt, exc))
            except OSError as exc:
                return StepResult(action.name, "upload", "failed", f"{f.path}: {exc}")
        raise AssertionError("unreachable")

    # -- creates ----------------------------------------------------------------------------
    def _find_created(self, action: Action) -> LiveJob | None:
        """A job with this create's tags that the plan did not know of: a create that went through."""
        assert action.request is not None
        tags = action.request["metadata"]
        wanted = {TAG_STACK: tags[TAG_STACK], TAG_NAME: tags[TAG_NAME], TAG_SPEC: tags[TAG_SPEC]}
        previous_at = -1
        if action.previous_job_id:
            previous_at = self.reader.get_job(action.previous_job_id).created_at
        for job in self.reader.list_jobs(wanted):
            if job.id != action.previous_job_id and job.created_at >= previous_at and job.status != "cancelled":
                return job
        return None

    def _create(self, action: Action, file_ids: dict[str, str]) -> StepResult:
        assert action.request is not None
        body = _substitute(action.request, file_ids)
        tags = body["metadata"]
        key = idempotency_key(tags[TAG_STACK], tags[TAG_NAME], tags[TAG_SPEC], action.previous_job_id)
        log = logs.get(name=action.name, action=action.action, idempotency_key=key)
        found = self._find_created(action)
        if found is not None:
            return self._after_create(action, found, "skipped", f"already created as {found.id}")
        for attempt in range(ATTEMPTS):
            try:
                job = self.writer.create_job(body, key)
                log.info("create.done", job_id=job.id)
                return self._after_create(action, job, "done", f"created {job.id}")
            except ApiError as exc:
                log.warning("create.error", error=str(exc), attempt=attempt, ambiguous=exc.ambiguous)
                if exc.ambiguous:
                    found = self._find_created(action)  # did it go through before the answer was lost?
                    if found is not None:
                        return self._after_create(action, found, "done", f"created {found.id} (recovered)")
                if not exc.retryable or attempt == ATTEMPTS - 1:
                    raise
                self.sleep(backoff(attempt, exc))
        raise AssertionError("unreachable")

    def _after_create(self, action: Action, job: LiveJob, outcome: str, detail: str) -> StepResult:
        if action.then_pause:
            paused = self._pause(action.name, job.id, action.action)
            detail = f"{detail}; {paused.detail}"
            if paused.outcome == "failed":
                return StepResult(action.name, action.action, "failed", detail, job.id)
            if paused.outcome == "deferred":
                outcome = "deferred"
        return StepResult(action.name, action.action, outcome, detail, job.id)

    # -- job actions ------------------------------------------------------------------------
    def _act(self, job_id: str, verb: str, done: Callable[[LiveJob], bool]) -> LiveJob:
        """POST ``verb``; after an ambiguous failure re-read and retry only if it did not happen."""
        for attempt in range(ATTEMPTS):
            try:
                return self.writer.act(job_id, verb)
            except ApiError as exc:
                if exc.ambiguous or exc.status == 400:
                    job = self.reader.get_job(job_id)
                    if done(job):
                        return job
                if not exc.retryable or attempt == ATTEMPTS - 1:
                    raise
                self.sleep(backoff(attempt, exc))
        raise AssertionError("unreachable")

    def _cancel(self, action: Action) -> StepResult:
        job_id = action.job_id or ""
        job = self.reader.get_job(job_id)
        if job.terminal:
            return StepResult(action.name, "cancel", "skipped", f"{job_id} is already {job.status}", job_id)
        after = self._act(job_id, "cancel", lambda j: j.terminal)
        return StepResult(action.name, "cancel", "done", f"{job_id} is {after.status}", job_id)

    def _pause(self, name: str, job_id: str, kind: str) -> StepResult:
        deadline = time.monotonic() + self.wait_timeout
        while True:
            job = self.reader.get_job(job_id)
            if job.paused:
                return StepResult(name, kind, "skipped", f"{job_id} is already paused", job_id)
            if job.terminal:
                return StepResult(name, kind, "skipped", f"{job_id} is {job.status}; nothing to pause", job_id)
            if job.status == "running":
                after = self._act(job_id, "pause", lambda j: j.paused)
                return StepResult(name, kind, "done", f"{job_id} is {after.status}", job_id)
            if not self.wait or time.monotonic() > deadline:
                return StepResult(name, kind, "deferred",
                                  f"{job_id} is {job.status}; it can be paused once running "
                                  "(apply again later, or use --wait)", job_id)
            self.sleep(WAIT_POLL)

    def _resume(self, action: Action) -> StepResult:
        job_id = action.job_id or ""
        job = self.reader.get_job(job_id)
        if not job.paused:
            return StepResult(action.name, "resume", "skipped", f"{job_id} is {job.status}", job_id)
        after = self._act(job_id, "resume", lambda j: not j.paused)
        return StepResult(action.name, "resume", "done", f"{job_id} is {after.status}", job_id)


def _substitute(request: dict[str, Any], file_ids: dict[str, str]) -> dict[str, Any]:
    body = dict(request)
    for key in ("training_file", "validation_file"):
        value = body.get(key)
        if isinstance(value, str) and value.startswith("sha256:"):
            file_id = file_ids.get(value.removeprefix("sha256:"))
            if not file_id:
                raise StepFailed(f"{key} was not uploaded (see the upload step above)")
            body[key] = file_id
    return body
