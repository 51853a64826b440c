"""The applier: executes a ``Plan`` against the API, safely under retries, crashes and races.

Uploads go first. Then each manifest name's actions run in order (duplicate cancels, then its main
action); different names run in parallel. Every step is one idempotent unit — re-read, then act
only if still needed — and the unit as a whole is what the retry policy retries, so re-running an
interrupted apply, or two applies at once, converge, and no retry loop sits inside another (the
delete of a spare upload is retried after its step, not within it).

Creates are never blindly repeated: a create carries an ``Idempotency-Key`` derived from stack,
name, spec and the job it follows, and every attempt first looks the job up by its tags, so a
create whose answer was lost is found instead of made twice.

A step that fails, for any reason, is reported as that step's failure; the others still run and
are reported.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, assert_never

from reconciler import logs
from reconciler.api.errors import ApiError
from reconciler.api.models import LiveFile, LiveJob
from reconciler.api.ports import ApiReader, ApiWriter
from reconciler.api.retry import RetryPolicy
from reconciler.api.upload import ContentChanged
from reconciler.apply.guards import Probe, Slots
from reconciler.apply.lookups import doubles, find_created
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
        self.probe = Probe()
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
        ours: list[LiveFile] = []  # the copies this step uploaded (one, unless an answer was lost)
        sent: list[bool] = []

        def attempt(n: int) -> LiveFile:
            listed = self._oldest_copy(action)
            if listed is None:
                sent.append(True)
                ours.append(self.writer.upload(path, f.filename, upload_key(f.filename, f.bytes), f.sha256, report))
                listed = self._oldest_copy(action)
            # ours too: a listing may lag behind the upload it follows
            return min([c for c in (listed, *ours) if c is not None], key=lambda c: (c.created_at, c.id))

        kept = self.retry.run(attempt, self._retry(action.name, "upload"))
        if not ours:
            return StepResult(action.name, "upload", "done" if sent else "skipped",
                              f"{f.path} already uploaded as {kept.id}", kept.id)
        spares = [c for c in ours if c.id != kept.id]
        if not spares:
            return StepResult(action.name, "upload", "done", f"{f.path} → {kept.id}", kept.id)
        fates = "; ".join(f"this run's copy {c.id} {self._drop_spare(action.name, c, kept)}" for c in spares)
        return StepResult(action.name, "upload", "done", f"{f.path} → {kept.id}, uploaded at the same time by "
                          f"another apply; {fates}", kept.id)

    def _oldest_copy(self, action: UploadAction) -> LiveFile | None:
        """The oldest upload of these bytes, which every run uses (``UploadIndex.same``)."""
        return next(iter(UploadIndex(self.reader.list_files()).same(action.file.sha256, action.file.bytes)), None)

    def _drop_spare(self, name: str, copy: LiveFile, kept: LiveFile) -> str:
        """Delete a copy this step uploaded beside the one kept, if strictly newer: no run can have
        taken it, since the kept one was listed before it existed; a copy of the same second may have
        been the oldest another run saw, and stays. Done after the step, with retries of its own (not
        nested in the step's); a delete that still fails is a warning — the copy is a spare, not a
        job. What became of the copy, in words."""
        if copy.created_at <= kept.created_at:
            return f"left: made in the same second as {kept.id}, another run may use it"
        try:
            self.retry.run(lambda _: self.writer.delete_file(copy.id), self._retry(name, "delete"))
        except ApiError as exc:
            if exc.status != 404:  # 404: gone already
                logs.get(name=name).warning("upload.spare_left", file_id=copy.id, error=str(exc))
                return f"left: deleting it failed ({exc})"
        return "deleted"

    def _list_active(self) -> set[str]:
        jobs = self.retry.run(lambda _: self.reader.stack_jobs(self.stack), self._retry("", "count"))
        return {j.id for j in managed_jobs(jobs, self.stack) if not j.terminal}

    # -- creates ----------------------------------------------------------------------------
    def _one_of_its_kind(self, action: CreateAction | ReplaceAction, job: LiveJob) -> list[str]:
        """Cancel the same job made by concurrent applies but the newest (see ``lookups.doubles``);
        the jobs cancelled. Without an answer nothing is done: the next plan cancels duplicates."""
        try:
            others = self.retry.run(lambda _: doubles(self.reader, self.stack, action, job),
                                    self._retry(action.name, "check"))
        except ApiError:
            return []
        cancelled = []
        for other in others:
            try:
                self._cancel(action.name, other, action.action)
                cancelled.append(other)
            except ApiError:
                continue
        return cancelled

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
        kind = body["method"]["type"]
        created: str | None = None
        try:
            with self.probe.first(kind):
                if self.halted:  # learnt while this create waited for a slot, or for the probe
                    raise StepFailed(f"not created: {self.halted}")
                before = ""
                if replacing is not None:
                    before = f"{self._cancel(action.name, replacing, 'replace').detail}; "
                    self.slots.release(replacing)
                sent = self._send(action, body, key, before)
                if isinstance(sent, StepResult):
                    return sent
                job, outcome, detail = sent
                dropped = dropped_fields(job, body["metadata"], kind, body["method"][kind].get("hyperparameters", {}))
                if dropped:
                    result, still_active = self._dropped(action, job, dropped)
                    created = job.id if still_active else None
                    return result
                self.probe.passed(kind)  # this target keeps what ftctl sends: such creates may run side by side
                doubles = self._one_of_its_kind(action, job)
                if job.id in doubles:  # a concurrent apply made it later: that one is kept
                    detail = f"{detail}, but a concurrent apply created the same job since: {job.id} is cancelled"
                elif doubles:
                    detail = f"{detail}; {', '.join(doubles)}, the same job created by a concurrent apply, cancelled"
                created = None if job.id in doubles else job.id
        finally:
            self.slots.settle(created)
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

    def _send(self, action: CreateAction | ReplaceAction, body: dict[str, Any], key: str,
              before: str) -> tuple[LiveJob, str, str] | StepResult:
        """POST the create (looking first for one that went through), retried under the policy; a
        quota refusal waits (``--wait``, with the probe released meanwhile) or defers the step."""

        def attempt(n: int) -> tuple[LiveJob, str, str]:
            found = find_created(self.reader, self.stack, action)
            if found is not None:
                return (found, "skipped", f"already created as {found.id}") if n == 0 else \
                    (found, "done", f"created {found.id} (recovered after a lost answer)")
            new = self.writer.create_job(body, key)
            return new, "done", f"created {new.id}"

        while True:
            try:
                return self.retry.run(attempt, self._retry(action.name, action.action))
            except ApiError as exc:
                if exc.quota:
                    with self.probe.released():
                        again = self.slots.wait_after_quota()
                    if again:
                        continue  # --wait: a job has finished, or time has passed; try again
                    later = "--wait timed out" if self.wait else "a later apply creates it (or apply --wait)"
                    return StepResult(action.name, action.action, "deferred",
                                      f"{before}refused for a quota ({exc}): {later}", action.job_id)
                if not before:
                    raise
                raise StepFailed(f"{before}the new job was not created: {exc} (apply again to create it)") from None

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
