"""The applier: executes a ``Plan`` against the API, safely under retries, crashes and races.

Uploads go first. Then each manifest name's actions run in order (duplicate cancels, then its main
action); different names run in parallel. Every step is one idempotent unit — re-read, then act
only if still needed — and the unit as a whole is what the retry policy retries, so re-running an
interrupted apply, or two applies at once, converge, and no retry loop sits inside another.

Creates are never blindly repeated: a create carries an ``Idempotency-Key`` derived from stack,
name, spec and the job it follows, and every attempt first looks the job up by its tags, so a
create whose answer was lost is found instead of made twice.

A step that fails, for any reason, is reported as that step's failure; the others still run and
are reported.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import assert_never

from reconciler import logs
from reconciler.api.errors import ApiError
from reconciler.api.models import TAG_NAME, TAG_SPEC, TAG_STACK, LiveJob
from reconciler.api.ports import ApiReader, ApiWriter
from reconciler.api.retry import RetryPolicy
from reconciler.api.upload import ContentChanged
from reconciler.apply.guards import Slots
from reconciler.identity import UploadIndex, tags
from reconciler.plan.model import (
    Action,
    CancelAction,
    CreateAction,
    PauseAction,
    Plan,
    ReplaceAction,
    ResumeAction,
    UploadAction,
)
from reconciler.plan.planner import managed_jobs
from reconciler.plan.roundtrip import dropped_fields
from reconciler.project import absolute
from reconciler.providers import COMPATIBLE, Provider

WAIT_POLL = 2.0
UploadProgress = Callable[[str, int], None]


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


def upload_key(filename: str, size: int) -> str:
    return "ftctl-upload-" + hashlib.sha256(f"{filename}|{size}".encode()).hexdigest()[:40]


class Applier:
    """``reader`` must not retry on its own (``NO_RETRY``): ``retry`` retries whole steps."""

    def __init__(self, reader: ApiReader, writer: ApiWriter, root: Path, retry: RetryPolicy | None = None,
                 parallelism: int = 4, wait: bool = False, wait_timeout: float = 3600,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 progress: UploadProgress | None = None, provider: Provider = COMPATIBLE,
                 max_active: int | None = None, max_active_name: str = "--max-active-jobs") -> None:
        self.reader, self.writer, self.root = reader, writer, root
        self.retry = retry or RetryPolicy(sleep=sleep, clock=clock)
        self.parallelism = max(1, parallelism)
        self.wait, self.wait_timeout, self.clock, self.sleep = wait, wait_timeout, clock, sleep
        self.progress = progress
        self.provider, self.max_active, self.max_active_name = provider, max_active, max_active_name
        self.stack = ""
        self.halted: str | None = None
        self.probe, self.verified = threading.Lock(), False
        """Why no more jobs are created on this target (it drops fields), once that is known."""
        self.slots = Slots(self._list_active, None, wait, 0.0, clock, sleep)

    # -- entry point ------------------------------------------------------------------------
    def apply(self, plan: Plan) -> list[StepResult]:
        self.stack = plan.stack
        self.slots = Slots(self._list_active, self.max_active, self.wait, self.clock() + self.wait_timeout,
                           self.clock, self.sleep, self.max_active_name)
        self.slots.start()
        uploads = [a for a in plan.actions if isinstance(a, UploadAction)]
        with ThreadPoolExecutor(self.parallelism) as pool:
            upload_results = list(pool.map(lambda a: self._step(a, {}), uploads))
        file_ids = {a.file.sha256: r.job_id for a, r in zip(uploads, upload_results, strict=True)
                    if r.outcome in ("done", "skipped") and r.job_id}
        groups: dict[str, list[Action]] = {}
        for action in plan.actions:
            if not isinstance(action, UploadAction):
                groups.setdefault(action.name, []).append(action)
        with ThreadPoolExecutor(self.parallelism) as pool:
            per_name = list(pool.map(lambda acts: [self._step(a, file_ids) for a in acts], groups.values()))
        return upload_results + [r for group in per_name for r in group]

    def _step(self, action: Action, file_ids: dict[str, str]) -> StepResult:
        log = logs.get(name=action.name, job_id=action.job_id, action=action.action)
        log.info("step.start", reason=action.reason)
        try:
            match action:
                case UploadAction():
                    result = self._upload(action)
                case CreateAction() | ReplaceAction():
                    result = self._create(action, file_ids)
                case CancelAction():
                    result = self._cancel(action.name, action.job_id, "cancel")
                    self.slots.release(action.job_id)
                case PauseAction():
                    result = self._pause(action.name, action.job_id, "pause")
                case ResumeAction():
                    result = self._resume(action)
                case _:
                    assert_never(action)
        except (ApiError, StepFailed, ContentChanged, OSError) as exc:
            result = StepResult(action.name, action.action, "failed", logs.redact_text(str(exc)),
                                action.job_id)
        except Exception as exc:  # a bug must not lose the report of the other steps
            log.debug("step.crash", exc_info=True)
            result = StepResult(action.name, action.action, "failed",
                                f"internal error: {type(exc).__name__}: {logs.redact_text(str(exc))}",
                                action.job_id)
        log.info("step.end", outcome=result.outcome, detail=result.detail, result_job_id=result.job_id)
        return result

    def _retry(self, name: str, kind: str) -> Callable[[int, ApiError, float], None]:
        log = logs.get(name=name, action=kind)
        return lambda attempt, error, wait: log.info("step.retry", attempt=attempt, error=str(error), wait=wait)

    # -- uploads ----------------------------------------------------------------------------
    def _upload(self, action: UploadAction) -> StepResult:
        f = action.file
        path = absolute(f.path, self.root)
        progress = self.progress
        report = (lambda n: progress(f.path, n)) if progress else None

        def attempt(n: int) -> StepResult:
            existing = UploadIndex(self.reader.list_files()).find(f.sha256, f.bytes)
            if existing is not None:
                return StepResult(action.name, "upload", "skipped" if n == 0 else "done",
                                  f"{f.path} already uploaded as {existing.id}", existing.id)
            uploaded = self.writer.upload(path, f.filename, upload_key(f.filename, f.bytes), f.sha256, report)
            return StepResult(action.name, "upload", "done", f"{f.path} → {uploaded.id}", uploaded.id)

        return self.retry.run(attempt, self._retry(action.name, "upload"))

    def _list_active(self) -> set[str]:
        jobs = self.retry.run(lambda _: self.reader.stack_jobs(self.stack), self._retry("", "count"))
        return {j.id for j in managed_jobs(jobs, self.stack) if not j.terminal}

    # -- creates ----------------------------------------------------------------------------
    def _probe(self) -> bool:
        """Until one create on this target has come back with every field it was sent, creates run
        one at a time (True: this one holds ``probe``): a target that drops fields costs one job."""
        if self.verified:
            return False
        self.probe.acquire()
        if self.verified:
            self.probe.release()
            return False
        return True

    def _find_created(self, action: CreateAction | ReplaceAction) -> LiveJob | None:
        """A job with this create's tags that the plan did not know of: a create that went through."""
        wanted = {TAG_STACK: self.stack, TAG_NAME: action.name, TAG_SPEC: action.spec}
        previous_at = action.before.created_at if action.before is not None else -1
        for job in self.reader.list_jobs(wanted):
            if job.id != action.previous_job_id and job.created_at >= previous_at and job.status != "cancelled":
                return job
        return None

    def _create(self, action: CreateAction | ReplaceAction, uploaded: dict[str, str]) -> StepResult:
        # Everything that can fail here is checked before a replace cancels the live job.
        ids = {**action.file_ids, **uploaded}
        missing = [ref.path or "" for ref in action.after.local_files() if ref.sha256 not in ids]
        if missing:
            raise StepFailed(f"{', '.join(missing)} was not uploaded (see the upload step above); "
                             "nothing was changed for this job")
        body = action.after.body(tags(self.stack, action.name, action.spec), ids)
        body |= self.provider.create_fields(action.after.provider_options or {})
        key = idempotency_key(self.stack, action.name, action.spec, action.previous_job_id)
        if self.halted:
            raise StepFailed(f"not created: {self.halted}")
        replacing = action.job_id if isinstance(action, ReplaceAction) else None
        full = self.slots.acquire(replacing)
        if full is not None:  # nothing was cancelled: the live job keeps running until a slot is free
            return StepResult(action.name, action.action, "deferred", full, action.job_id)
        probing = self._probe()
        try:
            before = ""
            try:
                if self.halted:  # learnt while this create waited for a slot
                    raise StepFailed(f"not created: {self.halted}")
                if replacing is not None:
                    cancelled = self._cancel(action.name, replacing, "replace")
                    before = f"{cancelled.detail}; "
                    self.slots.release(replacing)
            except BaseException:
                self.slots.settle(None)
                raise

            def attempt(n: int) -> tuple[LiveJob, str, str]:
                found = self._find_created(action)
                if found is not None:
                    return (found, "skipped", f"already created as {found.id}") if n == 0 else \
                        (found, "done", f"created {found.id} (recovered after a lost answer)")
                job = self.writer.create_job(body, key)
                return job, "done", f"created {job.id}"

            created: str | None = None
            try:
                while True:
                    try:
                        job, outcome, detail = self.retry.run(attempt, self._retry(action.name, action.action))
                        break
                    except ApiError as exc:
                        if exc.quota and self.slots.wait_after_quota():
                            continue  # --wait: a job has finished, or time has passed; try again
                        if exc.quota:
                            later = "--wait timed out" if self.wait else "a later apply creates it (or apply --wait)"
                            return StepResult(action.name, action.action, "deferred",
                                              f"{before}refused for a quota ({exc}): {later}", action.job_id)
                        if not before:
                            raise
                        raise StepFailed(f"{before}the new job was not created: {exc} "
                                         "(apply again to create it)") from None
                kind = body["method"]["type"]
                dropped = dropped_fields(job, body["metadata"], kind, body["method"][kind].get("hyperparameters", {}))
                if dropped:
                    result, still_active = self._dropped(action, job, dropped)
                    created = job.id if still_active else None
                    return result
                created = job.id
                self.verified = True  # this target keeps what ftctl sends: creates may run side by side
            finally:
                self.slots.settle(created)
        finally:
            if probing:
                self.probe.release()
        detail = before + detail
        logs.get(name=action.name, action=action.action, idempotency_key=key).info("create.done", job_id=job.id)
        if action.then_pause:
            try:
                paused = self._pause(action.name, job.id, action.action)
            except ApiError as exc:  # the job exists: report it, with what went wrong after
                return StepResult(action.name, action.action, "failed", f"{detail}; pausing it failed: {exc}", job.id)
            detail = f"{detail}; {paused.detail}"
            if paused.outcome in ("failed", "deferred"):
                outcome = paused.outcome
        return StepResult(action.name, action.action, outcome, detail, job.id)

    def _dropped(self, action: CreateAction | ReplaceAction, job: LiveJob,
                 dropped: list[str]) -> tuple[StepResult, bool]:
        """The job came back without what makes it findable or what it was asked to be: cancel it at
        once (nothing would ever find it again) and create nothing more on this target. Also says
        whether the job is still active (its cancel failed)."""
        self.halted = (f"the target drops {', '.join(dropped)} from create requests (a gateway that forwards "
                       "only some fields?); ftctl cannot track jobs there")
        active = False
        try:
            cancelled = self._cancel(action.name, job.id, action.action).detail
        except ApiError as exc:
            cancelled, active = f"cancelling it failed: {exc}; cancel {job.id} by hand", True
        return StepResult(action.name, action.action, "failed",
                          f"created {job.id}, but {self.halted}: {cancelled}", job.id), active

    # -- job actions ------------------------------------------------------------------------
    def _act(self, name: str, job_id: str, verb: str, done: Callable[[LiveJob], bool]) -> tuple[LiveJob, str]:
        """Re-read; act unless already done. A 400 (illegal now) is success if someone else did it."""

        def attempt(n: int) -> tuple[LiveJob, str]:
            job = self.reader.get_job(job_id)
            if done(job):
                return job, "skipped" if n == 0 else "done"
            try:
                return self.writer.act(job_id, verb), "done"
            except ApiError as exc:
                if exc.status == 400 and done(self.reader.get_job(job_id)):
                    return self.reader.get_job(job_id), "done"
                raise

        return self.retry.run(attempt, self._retry(name, verb))

    def _cancel(self, name: str, job_id: str, kind: str) -> StepResult:
        job, outcome = self._act(name, job_id, "cancel", lambda j: j.terminal)
        detail = f"{job_id} is {job.status}" if outcome == "done" else f"{job_id} is already {job.status}"
        return StepResult(name, kind, outcome, detail, job_id)

    def _resume(self, action: ResumeAction) -> StepResult:
        job, outcome = self._act(action.name, action.job_id, "resume", lambda j: not j.paused)
        return StepResult(action.name, "resume", outcome, f"{action.job_id} is {job.status}", action.job_id)

    def _pause(self, name: str, job_id: str, kind: str) -> StepResult:
        """Pause once the job runs: without ``wait`` a job not yet running is deferred."""
        deadline = self.clock() + self.wait_timeout
        while True:
            job = self.retry.run(lambda _: self.reader.get_job(job_id), self._retry(name, "pause"))
            if job.paused or job.status == "pausing":
                return StepResult(name, kind, "skipped", f"{job_id} is already {job.status}", job_id)
            if job.terminal:
                return StepResult(name, kind, "skipped", f"{job_id} is {job.status}; nothing to pause", job_id)
            if job.status == "running":
                after, _ = self._act(name, job_id, "pause", lambda j: j.paused or j.status == "pausing" or j.terminal)
                return StepResult(name, kind, "done", f"{job_id} is {after.status}", job_id)
            if not self.wait or self.clock() > deadline:
                return StepResult(name, kind, "deferred",
                                  f"{job_id} is {job.status}; it can be paused once running "
                                  "(apply again later, or use --wait)", job_id)
            self.sleep(WAIT_POLL)
