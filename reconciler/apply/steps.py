"""The steps of one apply: what each kind of action does against the API, and the state a run shares.

A ``Run`` lives for one apply of one plan: its stack, its active-job ``Slots``, its ``Probe`` (creates of
an unverified method go one at a time), and ``halted`` once the target is known to drop fields. Every
step is one idempotent unit — re-read, then act only if still needed — retried whole by the retry
policy, so re-running an interrupted apply, or two applies at once, converge, and no retry loop sits
inside another (the delete of a spare upload is retried after its step, not within it).

Creates are never blindly repeated: a create carries an ``Idempotency-Key`` derived from stack,
name, spec and the job it follows, and every attempt first looks the job up by its tags, so a
create whose answer was lost is found instead of made twice. When a create's answer was lost (the
connection dropped after it was sent) and the look-up does not find the job, it is not sent again:
a job list may lag behind creates, and without keys honoured a second send would make a second
job; the step is deferred and the next plan looks again. A create that cannot happen now (no slot,
a quota, a 429 that outlasts the retries) raises ``Deferred`` too: a later apply (or ``--wait``)
makes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from reconciler import logs
from reconciler.api.errors import ApiError
from reconciler.api.models import LiveFile, LiveJob
from reconciler.apply.guards import Limits, Probe, Slots
from reconciler.apply.lookups import doubles, find_created
from reconciler.identity import UploadIndex, tags
from reconciler.plan.model import CreateAction, ReplaceAction, ResumeAction, UploadAction
from reconciler.plan.planner import managed_jobs
from reconciler.plan.roundtrip import dropped_fields
from reconciler.project import absolute

if TYPE_CHECKING:
    from reconciler.apply.applier import Applier

WAIT_POLL = 2.0
Outcome = Literal["done", "skipped", "deferred", "failed"]
"""done: the step changed something; skipped: already so; deferred: a later apply does it; failed."""


@dataclass(frozen=True)
class StepResult:
    name: str
    action: str
    outcome: Outcome
    detail: str
    job_id: str | None = None


class StepFailed(Exception):
    """A step that cannot be done, for a reason of its own (not an API error)."""


class Deferred(Exception):
    """A step that cannot happen now and changed nothing: a later apply (or ``--wait``) does it."""


@dataclass(frozen=True)
class _Sent:
    job: LiveJob
    outcome: Outcome
    detail: str


def idempotency_key(stack: str, name: str, spec: str, previous: str | None) -> str:
    raw = f"{stack}|{name}|{spec}|{previous or '-'}"
    return "ftctl-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def upload_key(filename: str, size: int) -> str:
    return "ftctl-upload-" + hashlib.sha256(f"{filename}|{size}".encode()).hexdigest()[:40]


class Run:
    """One apply of one plan against one target."""

    def __init__(self, applier: Applier, stack: str) -> None:
        self.a, self.stack = applier, stack
        self.retry, self.clock = applier.retry, applier.clock
        self.probe = Probe()
        self.halted: str | None = None
        """Why no more jobs are created on this target (it drops fields), once that is known."""
        deadline, provider = self.clock.monotonic() + applier.wait_timeout, applier.provider
        self.slots = Limits(
            Slots(self._list_active, applier.max_active, applier.wait, deadline, self.clock.monotonic,
                  self.clock.sleep, applier.max_active_name),
            Slots(self._list_resource_active, provider.active_limit, applier.wait, deadline, self.clock.monotonic,
                  self.clock.sleep, provider.active_limit_reason, "jobs of the resource"))

    def on_retry(self, name: str, kind: str) -> Callable[[int, ApiError, float], None]:
        log = logs.get(name=name, action=kind)
        return lambda attempt, error, wait: log.info("step.retry", attempt=attempt, error=str(error), wait=wait)

    def _list_active(self) -> set[str]:
        jobs = self.retry.run(lambda _: self.a.reader.stack_jobs(self.stack), self.on_retry("", "count"))
        return {j.id for j in managed_jobs(jobs, self.stack) if not j.terminal}

    def _list_resource_active(self) -> set[str]:
        """Every active job where the provider limits them per resource: other stacks' and others' too."""
        jobs = self.retry.run(lambda _: self.a.reader.list_jobs(), self.on_retry("", "count"))
        return {j.id for j in jobs if not j.terminal}

    # -- uploads ----------------------------------------------------------------------------
    def upload(self, action: UploadAction) -> StepResult:
        f = action.file
        path = absolute(f.path, self.a.root)
        progress = self.a.progress
        report = (lambda n: progress(f.path, n)) if progress else None
        ours: list[LiveFile] = []  # the copies this step uploaded (one, unless an answer was lost)
        sent: list[bool] = []

        def attempt(n: int) -> LiveFile:
            listed = self._oldest_copy(action)
            if listed is None:
                sent.append(True)
                ours.append(self.a.writer.upload(path, f.filename, upload_key(f.filename, f.bytes), f.sha256, report))
                listed = self._oldest_copy(action)
            # ours too: a listing may lag behind the upload it follows
            return min([c for c in (listed, *ours) if c is not None], key=lambda c: (c.created_at, c.id))

        kept = self.retry.run(attempt, self.on_retry(action.name, "upload"))
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
        """The oldest upload of these bytes, which every run uses (``UploadIndex.same``); of a job's own
        upload (named with its tags), the oldest of that name."""
        f = action.file
        same = UploadIndex(self.a.reader.list_files()).same(f.sha256, f.bytes)
        return next((c for c in same if f.upload_name is None or c.filename == f.upload_name), None)

    def _drop_spare(self, name: str, copy: LiveFile, kept: LiveFile) -> str:
        """Delete a copy this step uploaded beside the one kept, if strictly newer: no run can have
        taken it, since the kept one was listed before it existed; a copy of the same second may have
        been the oldest another run saw, and stays. Done after the step, with retries of its own (not
        nested in the step's); a delete that still fails is a warning — the copy is a spare, not a
        job. What became of the copy, in words."""
        if copy.created_at <= kept.created_at:
            return f"left: made in the same second as {kept.id}, another run may use it"
        try:
            self.retry.run(lambda _: self.a.writer.delete_file(copy.id), self.on_retry(name, "delete"))
        except ApiError as exc:
            if exc.status != 404:  # 404: gone already
                logs.get(name=name).warning("upload.spare_left", file_id=copy.id, error=str(exc))
                return f"left: deleting it failed ({exc})"
        return "deleted"

    # -- creates ----------------------------------------------------------------------------
    def create(self, action: CreateAction | ReplaceAction, uploaded: dict[str, str]) -> StepResult:
        # Everything that can fail here is checked before a replace cancels the live job.
        ids = {**action.file_ids, **uploaded}
        missing = [ref.path or "" for ref in action.after.local_files() if ref.sha256 not in ids]
        if missing:
            raise StepFailed(f"{', '.join(missing)} was not uploaded (see the upload step above); "
                             "nothing was changed for this job")
        body = action.after.body(tags(self.stack, action.name, action.spec), ids)
        body |= self.a.provider.create_fields(action.after.provider_options or {})
        key = idempotency_key(self.stack, action.name, action.spec, action.previous_job_id)
        if self.halted:
            raise StepFailed(f"not created: {self.halted}")
        replacing = action.job_id if isinstance(action, ReplaceAction) else None
        full = self.slots.acquire(replacing)
        if full is not None:  # nothing was cancelled: the live job keeps running until a slot is free
            raise Deferred(full)
        kind = body["method"]["type"]
        created: str | None = None
        try:
            with self.probe.first(kind):
                if self.halted:  # learnt while this create waited for a slot, or for the probe
                    raise StepFailed(f"not created: {self.halted}")
                before = ""
                if replacing is not None:
                    before = f"{self.cancel(action.name, replacing, 'replace').detail}; "
                    self.slots.release(replacing)
                sent = self._send(action, body, key, before)
                dropped = dropped_fields(sent.job, body["metadata"], kind,
                                         body["method"][kind].get("hyperparameters", {}), self.a.provider.echoes_method)
                if dropped:
                    result, still_active = self._dropped(action, sent.job, dropped)
                    created = sent.job.id if still_active else None
                    return result
                self.probe.passed(kind)  # this target keeps what ftctl sends: such creates may run side by side
                doubles = self._one_of_its_kind(action, sent.job)
                detail = before + sent.detail
                if sent.job.id in doubles:  # a concurrent apply made it later: that one is kept
                    detail += f", but a concurrent apply created the same job since: {sent.job.id} is cancelled"
                elif doubles:
                    detail += f"; {', '.join(doubles)}, the same job created by a concurrent apply, cancelled"
                created = None if sent.job.id in doubles else sent.job.id
        finally:
            self.slots.settle(created)
        job, outcome = sent.job, sent.outcome
        logs.get(name=action.name, action=action.action, idempotency_key=key).info("create.done", job_id=job.id)
        if action.then_pause:
            try:
                paused = self.pause(action.name, job.id, action.action)
            except ApiError as exc:  # the job exists: report it, with what went wrong after
                return StepResult(action.name, action.action, "failed", f"{detail}; pausing it failed: {exc}", job.id)
            detail = f"{detail}; {paused.detail}"
            if paused.outcome in ("failed", "deferred"):
                outcome = paused.outcome
        return StepResult(action.name, action.action, outcome, detail, job.id)

    def _one_of_its_kind(self, action: CreateAction | ReplaceAction, job: LiveJob) -> list[str]:
        """Cancel the same job made by concurrent applies but the newest (see ``lookups.doubles``); the
        jobs cancelled. Without an answer nothing is done: the next plan cancels duplicates."""
        try:
            others = self.retry.run(lambda _: doubles(self.a.reader, self.stack, action, job),
                                    self.on_retry(action.name, "check"))
        except ApiError:
            return []
        cancelled = []
        for other in others:
            try:
                self.cancel(action.name, other, action.action)
                cancelled.append(other)
            except ApiError:
                continue
        return cancelled

    def _send(self, action: CreateAction | ReplaceAction, body: dict[str, Any], key: str, before: str) -> _Sent:
        """POST the create (looking first for one that went through), retried under the policy. A
        refusal that waiting seconds does not cure — a quota, or a 429 that outlasts the retries (an
        active-job limit may come back as a plain rate limit) — waits (``--wait``, the probe released
        meanwhile) or defers the step."""

        lost: list[ApiError] = []  # creates sent whose answer never came: they may have been made

        def attempt(n: int) -> _Sent:
            found = find_created(self.a.reader, self.stack, action)
            if found is not None:
                return _Sent(found, "skipped", f"already created as {found.id}") if n == 0 else \
                    _Sent(found, "done", f"created {found.id} (recovered after a lost answer)")
            if lost:  # not listed (yet): a list may lag behind creates, so sending again may make it twice
                raise Deferred(f"{before}the create's answer was lost ({lost[-1]}) and the job list does not show "
                               "it yet: the next plan looks for it again before anything is created")
            try:
                new = self.a.writer.create_job(body, key)
            except ApiError as exc:
                if exc.status == 0:
                    lost.append(exc)
                raise
            return _Sent(new, "done", f"created {new.id}")

        while True:
            try:
                return self.retry.run(attempt, self.on_retry(action.name, action.action))
            except ApiError as exc:
                if exc.quota or exc.status == 429:
                    with self.probe.released():
                        again = self.slots.wait_after_quota()
                    if again:
                        continue  # --wait: a job has finished, or time has passed; try again
                    later = "--wait timed out" if self.a.wait else "a later apply creates it (or apply --wait)"
                    why = "for a quota" if exc.quota else "with 429 after every retry"
                    raise Deferred(f"{before}refused {why} ({exc}): {later}") from None
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
            cancelled = self.cancel(action.name, job.id, action.action).detail
        except ApiError as exc:
            cancelled, active = f"cancelling it failed: {exc}; cancel {job.id} by hand", True
        return StepResult(action.name, action.action, "failed",
                          f"created {job.id}, but {self.halted}: {cancelled}", job.id), active

    # -- job actions ------------------------------------------------------------------------
    def _act(self, name: str, job_id: str, verb: str, done: Callable[[LiveJob], bool]) -> tuple[LiveJob, Outcome]:
        """Re-read; act unless already done. A 400 (illegal now) is success if someone else did it."""

        def attempt(n: int) -> tuple[LiveJob, Outcome]:
            job = self.a.reader.get_job(job_id)
            if done(job):
                return job, "skipped" if n == 0 else "done"
            try:
                return self.a.writer.act(job_id, verb), "done"
            except ApiError as exc:
                if exc.status == 400 and done(self.a.reader.get_job(job_id)):
                    return self.a.reader.get_job(job_id), "done"
                raise

        return self.retry.run(attempt, self.on_retry(name, verb))

    def cancel(self, name: str, job_id: str, kind: str) -> StepResult:
        job, outcome = self._act(name, job_id, "cancel", lambda j: j.terminal)
        detail = f"{job_id} is {job.status}" if outcome == "done" else f"{job_id} is already {job.status}"
        return StepResult(name, kind, outcome, detail, job_id)

    def resume(self, action: ResumeAction) -> StepResult:
        job, outcome = self._act(action.name, action.job_id, "resume", lambda j: not j.paused)
        return StepResult(action.name, "resume", outcome, f"{action.job_id} is {job.status}", action.job_id)

    def pause(self, name: str, job_id: str, kind: str) -> StepResult:
        """Pause once the job runs: without ``wait`` a job not yet running is deferred."""
        deadline = self.clock.monotonic() + self.a.wait_timeout
        provider = self.a.provider
        while True:
            job = self.retry.run(lambda _: self.a.reader.get_job(job_id), self.on_retry(name, "pause"))
            phase = provider.phase(job.status)
            if phase in ("paused", "pausing"):
                return StepResult(name, kind, "skipped", f"{job_id} is already {job.status}", job_id)
            if job.terminal:
                return StepResult(name, kind, "skipped", f"{job_id} is {job.status}; nothing to pause", job_id)
            if phase == "running":
                after, _ = self._act(name, job_id, "pause",
                                     lambda j: provider.phase(j.status) in ("paused", "pausing") or j.terminal)
                return StepResult(name, kind, "done", f"{job_id} is {after.status}", job_id)
            if not self.a.wait or self.clock.monotonic() > deadline:
                return StepResult(name, kind, "deferred",
                                  f"{job_id} is {job.status}; it can be paused once running "
                                  "(apply again later, or use --wait)", job_id)
            self.clock.sleep(WAIT_POLL)
