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

For a job that keeps its spec, what ``state`` asks is one rule (``states``), for tag-matched and
adopted jobs alike. Older non-terminal jobs with the same name are duplicates and are cancelled.
Managed jobs whose name no manifest declares are orphans: listed, and with ``prune`` cancelled when
not terminal. A job whose status the provider does not have is listed and never acted on; a job on
its way to paused or running (Azure's ``pausing``, ``resuming``) is left to get there. A manifest
with ``job_id:`` adopts that job (``pinned``): ``state`` acts on it as usual, but it is never
replaced — a difference is reported instead (SPEC §9).

The live file list is an input like the jobs, given as a loader: most plans never ask about a file,
and an account's list can be long, so it is read at the first question only (``UploadIndex.lazy``).
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.api.models import LiveFile, LiveJob
from reconciler.identity import Desired, FilesLoader, UploadIndex, tags
from reconciler.plan.diff import changes
from reconciler.plan.facts import LiveFacts
from reconciler.plan.model import (
    GATE_FAILED,
    Action,
    CancelAction,
    Change,
    CreateAction,
    EvaluateAction,
    JobSummary,
    Notice,
    PauseAction,
    Plan,
    PlanOptions,
    ReplaceAction,
    ResumeAction,
)
from reconciler.plan.pinned import differences
from reconciler.plan.roundtrip import dropped_fields
from reconciler.plan.stages import CheckpointsLoader, GatesLoader, Upstreams, ordered, stages
from reconciler.plan.states import move, pause_reason, settle_note
from reconciler.plan.uploads import relied_files, uploads_for
from reconciler.providers import COMPATIBLE, Provider
from reconciler.providers.statuses import TERMINAL_PHASES


class _Builder:
    def __init__(self, uploads: UploadIndex, options: PlanOptions, provider: Provider) -> None:
        self.uploads = uploads
        self.options = options
        self.provider = provider
        self.actions: list[Action] = []
        self.failed: list[Notice] = []
        self.notes: list[Notice] = []
        self.relied: dict[str, LiveFile] = {}
        self.cancels: list[Action] = []
        """Cancels that go before the creates: duplicates, orphans (--prune), stages on an old base."""
        self.dropping: str | None = None
        """What the target is known to drop from create requests (a job ftctl cancelled for it)."""

    def create(self, d: Desired, reason: str, previous: LiveJob | None, replace: bool = False) -> None:
        file_ids: dict[str, str] = {}
        for ref in d.request.local_files():
            sha = ref.sha256 or ""
            if ref == d.request.training_file and not self.provider.keeps_metadata:
                continue  # the job's own upload, named with its tags (_uploads), made before each create
            live = self.uploads.find(sha, ref.bytes or 0)
            if live is not None:
                file_ids[sha] = live.id
                self.relied[live.id] = live
        diff = changes(previous, d, self.uploads) if previous is not None and previous.spec != d.spec else []
        if previous is not None and previous.user_metadata != d.request.metadata:
            diff.append(Change(path=("metadata",), before=previous.user_metadata, after=d.request.metadata,
                               note="user tags, not part of the spec"))
        state = "paused" if d.state == "paused" else "active"
        if replace and previous is not None:
            self.actions.append(ReplaceAction(
                name=d.name, reason=reason, spec=d.spec, state=state, after=d.request, job_id=previous.id,
                before=JobSummary.of(previous), changes=diff, estimate=d.estimate, file_ids=file_ids))
        else:
            self.actions.append(CreateAction(
                name=d.name, reason=reason, spec=d.spec, state=state, after=d.request,
                before=JobSummary.of(previous) if previous is not None else None, changes=diff, estimate=d.estimate,
                file_ids=file_ids))

    def state(self, d: Desired, job: LiveJob, adopted: bool, differs: bool = False) -> None:
        """What ``d.state`` asks of ``job`` (its spec settled, or adopted): the one rule of ``states``."""
        phase = self.provider.phase(job.status)
        before = JobSummary.of(job)
        match move(phase, d.state):
            case "none":
                pass
            case "pause":
                self.actions.append(PauseAction(name=d.name, reason=pause_reason(phase, job.status), job_id=job.id,
                                                before=before))
            case "resume" if self.ceiling_paused(job) and d.name not in self.options.resume:
                self.notes.append(Notice(name=d.name, job_id=job.id, status=job.status, message=(
                    f"not resumed: {self.provider.label} pauses a {job.request.method_type} job itself once it "
                    "reaches its cost ceiling, and a resumed job bills on with no ceiling; check its checkpoints, "
                    f"then apply --resume {d.name} to resume it")))
            case "resume":
                self.actions.append(ResumeAction(name=d.name, reason="state: active", job_id=job.id, before=before))
            case "cancel":
                self.actions.append(CancelAction(name=d.name, reason="state: cancelled", job_id=job.id,
                                                 before=before))
            case "settle":
                self.notes.append(Notice(name=d.name, job_id=job.id, status=job.status,
                                         message=settle_note(job.status, d.state)))
            case "leave":
                self.notes.append(_unknown(d.name, job))
            case "report_failed":
                error = job.error.message if job.error and job.error.message else "no error given"
                retry = ("an adopted job: remove job_id to create a new one" if adopted else
                         f"retry with --replace {d.name}")
                self.failed.append(Notice(name=d.name, job_id=job.id, status="failed", message=f"{error} ({retry})"))
            case "run_again":
                if adopted:
                    if not differs:
                        self.notes.append(Notice(name=d.name, job_id=job.id, status=job.status, message=(
                            "the adopted job is cancelled; remove job_id to create a new job")))
                else:
                    self.run_again(d, job)

    def ceiling_paused(self, job: LiveJob) -> bool:
        """Whether the service may have paused ``job`` itself, at a cost ceiling (Azure, reinforcement)."""
        return job.request.method_type in self.provider.ceiling_pauses

    def run_again(self, d: Desired, job: LiveJob) -> None:
        """A cancelled job the manifest wants to run: a new one, unless ftctl cancelled it because the
        target dropped what it was sent (another create would come back the same)."""
        shown = "method" in job.request.reported or "hyperparameters" in job.request.reported
        dropped = dropped_fields(job, tags(job.stack or "", d.name, d.spec), d.request.method.type,
                                 d.request.method.hyperparameters, self.provider.echoes_method)
        if dropped and shown:
            self.dropping = self.dropping or f"{', '.join(dropped)} (job {job.id} of {d.name})"
            self.failed.append(Notice(name=d.name, job_id=job.id, status="cancelled", message=(
                f"the target dropped {', '.join(dropped)} from this job's create request, so ftctl "
                "cancelled it; use a target that forwards every field (or --replace to try again)")))
        else:
            self.create(d, "the job was cancelled and the manifest wants it to run", job)

    def adopted(self, d: Desired, job: LiveJob | None) -> None:
        """``state`` acts on an adopted job as usual; a difference is only reported."""
        if job is None:
            self.notes.append(Notice(name=d.name, job_id=d.job_id, status="missing", message=(
                f"the adopted job {d.job_id} was not found; remove job_id to create a new job")))
            return
        if self.provider.phase(job.status) == "unknown":
            self.notes.append(_unknown(d.name, job))
            return
        differ = differences(job, d, self.uploads)
        if differ:
            self.notes.append(Notice(name=d.name, job_id=job.id, status=job.status, message=(
                f"the adopted job differs from the manifest in {', '.join(differ)}; an adopted job is never "
                "replaced: remove job_id to create a new job with the manifest's values")))
        self.state(d, job, adopted=True, differs=bool(differ))

    def stage(self, d: Desired, current: LiveJob | None, ups: Upstreams) -> None:
        """A pipeline stage: planned as any manifest once its upstream's result is known, else a blocked
        create — and its job cancelled if it still trains on a result being replaced."""
        assert d.upstream is not None
        model, blocker = ups.resolve(d, current)
        if blocker is None and model is not None:
            self.decide(d.resolved(model), current)
            self.credit_upstream(d)
            return
        assert blocker is not None
        ups.retraining[d.name] = f"it waits for {blocker.name}"
        live = current is not None and self.provider.phase(current.status) not in (*TERMINAL_PHASES, "unknown")
        if current is not None and live and ups.outdated(d, current):
            self.cancels.append(CancelAction(name=d.name, job_id=current.id, before=JobSummary.of(current),
                                             reason=f"its base {blocker.name} is being retrained"))
        elif live:
            return  # its job goes on; the stage is looked at again once it has ended
        self.actions.append(CreateAction(
            name=d.name, reason=blocker.reason, spec=d.spec, state="paused" if d.state == "paused" else "active",
            after=d.request, before=JobSummary.of(current) if current is not None else None, estimate=d.estimate,
            blocked_by=blocker))

    def gates(self, ups: Upstreams, by_name: dict[str, Desired]) -> None:
        """A gated stage a later one waits for: evaluated by this plan when its job has no verdict yet; a
        failed verdict reported (the stages built on it stay blocked)."""
        for name, job in sorted(ups.to_evaluate.items()):
            d = by_name[name]
            waiting = sorted(a.name for a in self.actions if isinstance(a, CreateAction) and a.blocked_by is not None
                             and a.blocked_by.name == name)
            self.actions.append(EvaluateAction(
                name=name, job_id=job.id, before=JobSummary.of(job), model=job.fine_tuned_model or "",
                items=d.eval_items, reason=f"its gate decides whether {', '.join(waiting)} is trained"))
        for name, (job, reason) in sorted(ups.gate_failed.items()):
            self.failed.append(Notice(name=name, job_id=job.id, status=GATE_FAILED, message=(
                f"{reason}: the stages built on it are not trained (ftctl eval {name} shows the report)")))

    def credit_upstream(self, d: Desired) -> None:
        """A stage's model changed because its upstream was retrained: the change says so."""
        assert d.upstream is not None
        for i, a in enumerate(self.actions):
            if isinstance(a, CreateAction | ReplaceAction) and a.name == d.name and a.before is not None:
                noted = [c.model_copy(update={"note": f"{d.upstream.name} was retrained"}) if c.path == ("model",)
                         else c for c in a.changes]
                self.actions[i] = a.model_copy(update={"changes": noted})

    def duplicates(self, d: Desired, older: list[LiveJob], by_name: dict[str, list[LiveJob]]) -> None:
        """Older jobs of ``d``'s name that are still active: cancelled (one job per manifest)."""
        for job in older:
            phase = self.provider.phase(job.status)
            if phase == "unknown":
                self.notes.append(_unknown(d.name, job))
            elif phase not in TERMINAL_PHASES:
                why = (f"another job of {d.name}, which adopts {d.job_id}" if d.job_id else
                       f"duplicate: an older job of {d.name} (newest is {by_name[d.name][0].id})")
                self.cancels.append(CancelAction(name=d.name, job_id=job.id, before=JobSummary.of(job), reason=why))

    def orphans(self, by_name: dict[str, list[LiveJob]], desired: list[Desired]) -> list[Notice]:
        """Jobs no manifest declares: listed, cancelled with --prune; a manifest with an orphan's spec
        is told it may have been renamed."""
        names = {d.name for d in desired} | {e.name for e in self.options.elsewhere}
        specs = {d.spec: d.name for d in desired if d.state != "cancelled" and d.job_id is None}
        out: list[Notice] = []
        known = bool(self.options.elsewhere) or not self.options.partial  # every manifest of the project read
        why = "no manifest declares this name" if known else "not among the given paths"
        for name, jobs in sorted(by_name.items()):
            if name in names:
                continue
            for job in jobs:
                out.append(Notice(name=name, job_id=job.id, status=job.status, message=why))
                if self.options.prune and self.provider.phase(job.status) not in (*TERMINAL_PHASES, "unknown"):
                    self.cancels.append(CancelAction(name=name, job_id=job.id, before=JobSummary.of(job),
                                                     reason="orphan: no manifest declares it (--prune)"))
                renamed = specs.get(job.spec or "")
                if renamed is not None and job is jobs[0] and renamed not in by_name:  # it would make a new job
                    self.notes.append(Notice(name=renamed, job_id=job.id, status=job.status, message=(
                        f"renamed from {name}? its job {job.id} has this manifest's spec: add previous_names: "
                        f"[{name}] to keep it, instead of a new job")))
        return out

    def decide(self, d: Desired, current: LiveJob | None) -> None:
        phase = self.provider.phase(current.status) if current is not None else None
        if phase == "unknown" and current is not None:
            self.notes.append(_unknown(d.name, current))
            return
        live = phase is not None and phase not in TERMINAL_PHASES
        if d.name in self.options.replace and d.state != "cancelled":
            self.create(d, "--replace asked for a new job", current, replace=live)
            return
        if current is None or phase is None:
            if d.state != "cancelled":
                self.create(d, "no job exists yet", None)
            return
        same = current.spec == d.spec
        if current.metadata is not None and current.user_metadata != dict(d.request.metadata) and same:
            self.notes.append(Notice(name=d.name, job_id=current.id, status=current.status, message=(
                "user metadata differs from the live job and cannot be updated in place; "
                "it applies to the next job created (use --replace to recreate now)")))
        if same or d.state == "cancelled":
            self.state(d, current, adopted=False)
        elif live:
            self.create(d, "the spec changed and a live job cannot be changed", current, replace=True)
        else:
            self.create(d, f"the spec changed; the {current.status} job stays as history", current)


def plan(desired: list[Desired], live_jobs: list[LiveJob], files: FilesLoader, stack: str,
         options: PlanOptions | None = None, pinned: Mapping[str, LiveJob] | None = None,
         provider: Provider = COMPATIBLE, checkpoints: CheckpointsLoader = lambda job_id: [],
         gates: GatesLoader = lambda name, job: None) -> Plan:
    """Compare desired manifests with the stack's live jobs (and the ``pinned`` jobs that manifests
    adopt, by ID) on ``provider``; no side effects. ``files`` reads the live file list and
    ``checkpoints`` a job's checkpoints, each only when the plan needs it; ``gates`` gives the verdict of
    a gated stage's evaluation on a job (SPEC §11)."""
    options = options or PlanOptions()
    adopted = {job.id: job for job in [*live_jobs, *(pinned or {}).values()]}
    pins = {d.job_id for d in desired if d.job_id}
    managed = [j for j in managed_jobs(live_jobs, stack) if j.id not in pins]
    claims = [(d.name, tuple(d.previous_names)) for d in desired]
    by_name = _by_name(managed, claims + [(e.name, tuple(e.previous_names)) for e in options.elsewhere])
    b = _Builder(UploadIndex.lazy(files), options, provider)
    ups = Upstreams(checkpoints, gates, {d.name for d in desired if d.gated} | {e.name for e in options.elsewhere
                                                                                if e.gated})
    for e in options.elsewhere:  # not planned: a stage given alone builds on its current job as it is
        ups.current[e.name] = next(iter(by_name.get(e.name, [])), None)
    for d in ordered(desired):
        first = len(b.actions)  # a manifest's create or replace is decided in its own turn
        jobs = by_name.get(d.name, [])
        current = adopted.get(d.job_id) if d.job_id is not None else (jobs[0] if jobs else None)
        ups.current[d.name] = current
        if d.job_id is not None:
            b.adopted(d, current)
        elif d.upstream is not None and d.state != "cancelled":
            b.stage(d, current, ups)
        else:
            b.decide(d, current)
        if d.job_id is None:
            jobs = jobs[1:]
        b.duplicates(d, jobs, by_name)
        if any(isinstance(a, CreateAction | ReplaceAction) and a.name == d.name for a in b.actions[first:]):
            ups.retraining.setdefault(d.name, "it is trained anew in this plan")
    if b.dropping:  # no create on a target known to drop fields, but those asked for by --replace
        kept: list[Action] = []
        for a in b.actions:
            if isinstance(a, CreateAction | ReplaceAction) and a.name not in options.replace:
                b.failed.append(Notice(name=a.name, job_id=a.job_id, status="not created", message=(
                    f"not planned: the target drops {b.dropping} from create requests; use a target that "
                    f"forwards every field (or --replace {a.name})")))
            else:
                kept.append(a)
        b.actions = kept
    orphans = b.orphans(by_name, desired)
    b.gates(ups, {d.name: d for d in desired})
    blocked = {a.name for a in b.actions if isinstance(a, CreateAction) and a.blocked_by is not None}
    return Plan(stack=stack, options=options,
                actions=[*uploads_for(b.actions, desired, stack, provider), *b.cancels, *b.actions], orphans=orphans,
                failed=b.failed, notes=b.notes, local_files=relied_files(desired), stages=stages(desired, ups, blocked),
                live=LiveFacts.of(managed + [adopted[d.job_id] for d in desired if d.job_id in adopted],
                                  list(b.relied.values()), provider))


def _by_name(managed: list[LiveJob], claims: list[tuple[str, tuple[str, ...]]]) -> dict[str, list[LiveJob]]:
    """The managed jobs of each name, newest first; a manifest's previous names (``claims``: each
    manifest's name and previous names) count as its own."""
    by_name: dict[str, list[LiveJob]] = {}
    # created_at has one-second resolution: within a second the API's own order (newest first) decides,
    # which a stable sort keeps.
    for job in sorted(managed, key=lambda j: j.created_at, reverse=True):
        by_name.setdefault(job.name or "", []).append(job)
    for name, previous in claims:
        claimed = [job for old in previous if old != name for job in by_name.pop(old, [])]
        if claimed:
            by_name[name] = sorted([*by_name.get(name, []), *claimed], key=lambda j: j.created_at, reverse=True)
    return by_name


def _unknown(name: str, job: LiveJob) -> Notice:
    return Notice(name=name, job_id=job.id, status=job.status,
                  message=f"status {job.status!r} is not one ftctl knows: nothing is done to this job")


def managed_jobs(live_jobs: list[LiveJob], stack: str) -> list[LiveJob]:
    """The jobs ftctl manages in ``stack``: tagged with it and with a name."""
    return [j for j in live_jobs if j.stack == stack and j.name]
