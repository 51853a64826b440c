"""The planner: a pure function of (desired manifests, live jobs, live files) → ``Plan``.

It has no side effects and no I/O; it cannot even import an HTTP library (a test checks). Per
manifest name, "current" is the newest managed job with that name; SPEC §3's table decides:

| current job                     | desired           | action                                  |
|---------------------------------|-------------------|-----------------------------------------|
| none                            | active / paused   | create (then pause once it runs)        |
| same spec, in progress          | active            | none                                    |
| same spec, in progress          | paused            | pause (once running)                    |
| same spec, paused               | active            | resume                                  |
| same spec, not terminal         | cancelled         | cancel                                  |
| same spec, succeeded            | any               | none                                    |
| same spec, cancelled            | active / paused   | create                                  |
| same spec, failed               | active / paused   | none, reported failed (--replace: create) |
| other spec, not terminal        | active / paused   | replace (cancel old, create new)        |
| other spec, not terminal        | cancelled         | cancel                                  |
| other spec, terminal            | active / paused   | create (the old job stays as history)   |
| any / none                      | cancelled         | none                                    |

Older non-terminal jobs with the same name are duplicates and are cancelled. Managed jobs whose
name no manifest declares are orphans: listed, and with ``prune`` cancelled when not terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.api.models import LiveFile, LiveJob
from reconciler.diagnostics import display_path
from reconciler.identity import Desired, LocalFile, create_body, find_uploaded
from reconciler.plan.diff import changes
from reconciler.plan.model import Action, Notice, Plan, UploadFile, fingerprint


@dataclass(frozen=True)
class Options:
    prune: bool = False
    replace: frozenset[str] = field(default_factory=frozenset)


def after_summary(d: Desired) -> dict[str, Any]:
    m = d.loaded.manifest

    def shown(value: LocalFile | str | None) -> str | None:
        return display_path(value.path) if isinstance(value, LocalFile) else value

    return {
        "model": m.model, "method": m.method.type,
        "hyperparameters": m.method.hyperparameters.model_dump(),
        "training_file": shown(d.files.get("training_file")),
        "validation_file": shown(d.files.get("validation_file")),
        "suffix": m.suffix, "seed": m.seed, "state": m.state, "spec": d.spec, "metadata": dict(m.metadata),
        "estimate": d.estimate,
    }


def _match_uploads(desired: Iterable[Desired], files: list[LiveFile]) -> dict[str, LiveFile]:
    """sha256 → the uploaded copy of each local file that is already uploaded."""
    found: dict[str, LiveFile] = {}
    for d in desired:
        for value in d.files.values():
            if isinstance(value, LocalFile) and value.sha256 not in found:
                live = find_uploaded(files, value.sha256, value.bytes)
                if live is not None:
                    found[value.sha256] = live
    return found


class _Builder:
    def __init__(self, stack: str, files: list[LiveFile], uploaded: dict[str, LiveFile], options: Options) -> None:
        self.stack = stack
        self.files = files
        self.uploaded = uploaded
        self.options = options
        self.actions: list[Action] = []
        self.failed: list[Notice] = []
        self.notes: list[Notice] = []

    def create(self, d: Desired, reason: str, previous: LiveJob | None, kind: str = "create") -> None:
        placeholders = {v.sha256: self.uploaded[v.sha256].id if v.sha256 in self.uploaded else f"sha256:{v.sha256}"
                        for v in d.files.values() if isinstance(v, LocalFile)}
        self.actions.append(Action(
            name=d.name, action=kind, reason=reason,
            job_id=previous.id if previous is not None and kind == "replace" else None,
            before=previous.summary() if previous is not None else None,
            after=after_summary(d),
            changes=changes(previous, d, self.files) if previous is not None and previous.spec != d.spec else [],
            request=create_body(d, self.stack, placeholders),
            then_pause=d.state == "paused",
            previous_job_id=previous.id if previous is not None else None,
        ))

    def simple(self, d: Desired, kind: str, job: LiveJob, reason: str) -> None:
        self.actions.append(Action(name=d.name, action=kind, reason=reason, job_id=job.id,
                                   before=job.summary(), after=after_summary(d)))

    def decide(self, d: Desired, current: LiveJob | None) -> None:
        state = d.state
        if d.name in self.options.replace and state != "cancelled":
            if current is not None and not current.terminal:
                self.create(d, "--replace asked for a new job", current, kind="replace")
            else:
                self.create(d, "--replace asked for a new job", current)
            return
        if current is None:
            if state != "cancelled":
                self.create(d, "no job exists yet", None)
            return
        same = current.spec == d.spec
        if current.metadata is not None and current.user_metadata != dict(d.loaded.manifest.metadata) and same:
            self.notes.append(Notice(name=d.name, job_id=current.id, status=current.status, message=(
                "user metadata differs from the live job and cannot be updated in place; "
                "it applies to the next job created (use --replace to recreate now)")))
        if not current.terminal:
            if state == "cancelled":
                self.simple(d, "cancel", current, "state: cancelled")
            elif not same:
                self.create(d, "the spec changed and a live job cannot be changed", current, kind="replace")
            elif current.paused and state == "active":
                self.simple(d, "resume", current, "state: active")
            elif not current.paused and state == "paused":
                waiting = "" if current.status == "running" else f" (once running; now {current.status})"
                self.simple(d, "pause", current, "state: paused" + waiting)
            return
        if state == "cancelled" or (current.status == "succeeded" and same):
            return
        if not same:
            self.create(d, f"the spec changed; the {current.status} job stays as history", current)
        elif current.status == "cancelled":
            self.create(d, "the job was cancelled and the manifest wants it to run", current)
        elif current.status == "failed":
            error = current.error.message if current.error and current.error.message else "no error given"
            self.failed.append(Notice(name=d.name, job_id=current.id, status="failed",
                                      message=f"{error} (retry with --replace {d.name})"))


def plan(desired: list[Desired], live_jobs: list[LiveJob], live_files: list[LiveFile], stack: str,
         options: Options | None = None, target: str = "") -> Plan:
    """Compare desired manifests with the stack's live jobs; no side effects."""
    options = options or Options()
    managed = [j for j in live_jobs if j.stack == stack and j.name]
    by_name: dict[str, list[LiveJob]] = {}
    # created_at has one-second resolution: within a second the API's own order (newest first) decides,
    # which a stable sort keeps.
    for job in sorted(managed, key=lambda j: j.created_at, reverse=True):
        by_name.setdefault(job.name or "", []).append(job)
    uploaded = _match_uploads(desired, live_files)
    b = _Builder(stack, live_files, uploaded, options)
    duplicates: list[Action] = []
    for d in sorted(desired, key=lambda x: x.name):
        jobs = by_name.get(d.name, [])
        current = jobs[0] if jobs else None
        b.decide(d, current)
        for older in jobs[1:]:
            if not older.terminal:
                duplicates.append(Action(name=d.name, action="cancel", job_id=older.id, before=older.summary(),
                                         reason=f"duplicate: an older job of {d.name} (newest is {jobs[0].id})"))
    names = {d.name for d in desired}
    orphans: list[Notice] = []
    for name, jobs in sorted(by_name.items()):
        if name in names:
            continue
        for job in jobs:
            orphans.append(Notice(name=name, job_id=job.id, status=job.status,
                                  message="no manifest declares this name"))
            if options.prune and not job.terminal:
                duplicates.append(Action(name=name, action="cancel", job_id=job.id, before=job.summary(),
                                         reason="orphan: no manifest declares it (--prune)"))
    uploads = _uploads(b.actions, desired, uploaded)
    used = sorted({f"{live.filename}:{live.id}" for live in uploaded.values()})
    return Plan(stack=stack, target=target, actions=[*uploads, *duplicates, *b.actions], orphans=orphans,
                failed=b.failed, notes=b.notes, relied_uploads=used, fingerprint=fingerprint(managed, used))


def _uploads(actions: list[Action], desired: list[Desired], uploaded: dict[str, LiveFile]) -> list[Action]:
    """One upload per distinct local file that a create needs and that is not uploaded yet."""
    needed = {a.name for a in actions if a.action in ("create", "replace")}
    out: dict[str, Action] = {}
    for d in desired:
        if d.name not in needed:
            continue
        for value in d.files.values():
            if isinstance(value, LocalFile) and value.sha256 not in uploaded and value.sha256 not in out:
                out[value.sha256] = Action(
                    name=d.name, action="upload", reason=f"{value.path.name} is not uploaded yet",
                    file=UploadFile(path=display_path(value.path), sha256=value.sha256, bytes=value.bytes,
                                    filename=value.filename, examples=value.examples, tokens=value.tokens))
    return list(out.values())
