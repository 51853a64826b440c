"""The ``Plan``: what the planner decided, what renderers show and what the applier executes.

Actions form a discriminated union (on ``action``): upload, create, replace, cancel, pause, resume.
Renderers and the applier dispatch on the type. A plan is plain data: ``plan --out FILE`` writes
``to_json()`` and ``apply FILE`` reads it back with ``from_json``, which refuses any file whose
``checksum`` does not match its content, so what was reviewed is what is applied (SPEC §6). The
plan also records the live facts it relied on and the sha256 of every local file it relied on, so
that ``apply`` can tell, and say, what changed since.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import Field

from reconciler.api.models import LiveJob
from reconciler.datasets.check import Estimate
from reconciler.diagnostics import FieldPath, dotted
from reconciler.identity import CreateRequest, LocalFile
from reconciler.manifests.strict import Frozen
from reconciler.plan.budget import Budget, assess
from reconciler.plan.facts import LiveFacts, TargetInfo, canonical

FORMAT_VERSION = 4
DERIVED = ("summary", "overview", "fingerprint", "checksum")
"""Keys of a JSON plan computed from the rest."""
ActionKind = Literal["upload", "cancel", "replace", "create", "pause", "resume", "evaluate"]
ORDER: tuple[ActionKind, ...] = ("upload", "cancel", "replace", "create", "pause", "resume", "evaluate")


class Change(Frozen):
    """One field that differs: ``(path, before, after)``; ``note`` qualifies an uncertain side."""

    path: FieldPath
    before: Any = None
    after: Any = None
    note: str | None = None

    @property
    def dotted(self) -> str:
        return dotted(self.path)

    @property
    def multiline(self) -> bool:
        return any(isinstance(v, str) and "\n" in v for v in (self.before, self.after))


class JobSummary(Frozen):
    job_id: str
    status: str
    model: str = ""
    spec: str | None = None
    created_at: int = 0
    fine_tuned_model: str | None = None
    error: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    """User metadata, ftctl's tags left out."""

    @classmethod
    def of(cls, job: LiveJob) -> JobSummary:
        return cls(job_id=job.id, status=job.status, model=job.model, spec=job.spec, created_at=job.created_at,
                   fine_tuned_model=job.fine_tuned_model, error=job.error.message if job.error else None,
                   metadata=job.user_metadata)


class Notice(Frozen):
    name: str
    job_id: str | None = None
    status: str | None = None
    message: str


class _Step(Frozen):
    name: str
    reason: str


class UploadAction(_Step):
    action: Literal["upload"] = "upload"
    job_id: None = None
    file: LocalFile
    used_by: list[str] = Field(default_factory=list)


class _Creation(_Step):
    """A new job: the whole request, and the job it follows if any (history, or the one replaced)."""

    spec: str
    state: Literal["active", "paused"] = "active"
    after: CreateRequest
    before: JobSummary | None = None
    changes: list[Change] = Field(default_factory=list)
    estimate: Estimate | None = None
    file_ids: dict[str, str] = Field(default_factory=dict)
    """sha256 → ID of each local file already uploaded when the plan was made."""

    @property
    def then_pause(self) -> bool:
        return self.state == "paused"

    @property
    def previous_job_id(self) -> str | None:
        return self.before.job_id if self.before is not None else None


class Blocker(Frozen):
    """Why a pipeline stage's create waits (SPEC §10): the stage it builds on, and what that one lacks."""

    name: str
    reason: str


class CreateAction(_Creation):
    action: Literal["create"] = "create"
    job_id: None = None
    blocked_by: Blocker | None = None
    """A stage whose upstream is not ready: shown, counted as a change, never executed."""


class ReplaceAction(_Creation):
    """Cancel ``job_id`` (a live job with another spec), then create."""

    action: Literal["replace"] = "replace"
    job_id: str
    before: JobSummary


class _JobStep(_Step):
    job_id: str
    before: JobSummary


class CancelAction(_JobStep):
    action: Literal["cancel"] = "cancel"


class PauseAction(_JobStep):
    action: Literal["pause"] = "pause"


class ResumeAction(_JobStep):
    action: Literal["resume"] = "resume"


class EvalEstimate(Frozen):
    """What an evaluation will send and cost, worked out before anything is sent (SPEC §11)."""

    items: int
    models: int
    """The models sampled on each item: the trained model, and its baseline unless ``none``."""
    requests: int
    """Chat completions in all: an answer per item and model, and a request per answer for each model grader."""
    prompt_tokens: int
    completion_tokens: int
    """At most ``sampling.max_completion_tokens`` per answer, else ``answer_tokens_assumed`` each."""
    answer_tokens_assumed: int | None = None
    """The length assumed for each answer when sampling sets no max_completion_tokens."""
    exact: bool = False
    """Prompt tokens counted with the model's tokenizer (else estimated from characters)."""
    cost: float | None = None
    """The answers' price by the price table; None when a model has no known price."""
    unpriced: list[str] = Field(default_factory=list)
    """The models without a known price."""
    currency: str = "USD"


class EvaluateAction(_JobStep):
    """Run a gated stage's evaluation (SPEC §11): its gate decides whether the stages built on it are
    trained. Sends chat completions for every item, to the trained model and its baseline."""

    action: Literal["evaluate"] = "evaluate"
    model: str
    """The trained model the evaluation samples."""
    items: int | None = None
    """How many items the evaluation has (each sampled once per model)."""
    estimate: EvalEstimate | None = None
    """What it sends and costs (computed beside the planner, from the manifest and the price table)."""


GATE_FAILED = "gate failed"
"""The status of a plan's notice about a stage whose gate failed."""


class GateVerdict(Frozen):
    """A gate's verdict on a stage's current job, as its evaluation found it."""

    passed: bool
    reason: str
    """The scores against the gate, in words: "score 0.82 ≥ 0.75, gain 0.31 ≥ 0.02"."""


Action = Annotated[UploadAction | CreateAction | ReplaceAction | CancelAction | PauseAction | ResumeAction |
                   EvaluateAction, Field(discriminator="action")]
Creation = CreateAction | ReplaceAction


class Declared(Frozen):
    """A manifest of the project that the paths of a partial plan leave out: not planned, but its jobs
    are not orphans, and a stage given alone builds on its current job."""

    name: str
    previous_names: list[str] = Field(default_factory=list)
    gated: bool = False


class PlanOptions(Frozen):
    """What a run asked of the planner beyond the manifests; a saved plan keeps it."""

    prune: bool = False
    """Cancel the stack's live jobs that no manifest declares (``--prune``)."""
    replace: list[str] = Field(default_factory=list)
    """Names to give a new job whatever their live job is (``--replace NAME``)."""
    resume: list[str] = Field(default_factory=list)
    """Names whose paused job may be resumed where the service pauses jobs itself at a cost ceiling
    (``--resume NAME``): resuming bills on with no ceiling."""
    partial: bool = False
    """The paths given leave out manifests of the project: a job no given manifest declares may be
    declared by one left out (its orphan notice says so; ``--prune`` is refused)."""
    elsewhere: list[Declared] = Field(default_factory=list)
    """The manifests left out, where they are known: their jobs are neither planned nor orphans."""


class Stage(Frozen):
    """One manifest of a pipeline, as the plan found it: what it builds on and how far it is."""

    name: str
    upstream: str | None = None
    checkpoint: str | None = None
    status: str = "not created"
    """Its current job's status, ``not created``, or ``blocked``."""


class Plan(Frozen):
    format_version: int = FORMAT_VERSION
    stack: str
    target: TargetInfo | None = None
    options: PlanOptions = PlanOptions()
    actions: list[Action] = Field(default_factory=list)
    orphans: list[Notice] = Field(default_factory=list)
    failed: list[Notice] = Field(default_factory=list)
    notes: list[Notice] = Field(default_factory=list)
    live: LiveFacts = LiveFacts()
    local_files: list[LocalFile] = Field(default_factory=list)
    """Every local file the plan relies on, uploaded already or not, with its sha256."""
    warnings: list[str] = Field(default_factory=list)
    """What validation warned of (an unknown model…), for the reviewer of a saved or posted plan."""
    budget: Budget | None = None
    """With ``limits.max_cost_usd``: the new spend against it, and what the run allowed."""
    stages: list[Stage] = Field(default_factory=list)
    """Where a manifest takes its model from another (a pipeline): every manifest, with its status."""

    def with_budget(self, limit_usd: float | None, allow_over_budget: bool = False,
                    allow_unpriced: bool = False) -> Plan:
        """This plan assessed against ``limit_usd`` (no budget when None)."""
        if limit_usd is None:
            return self.model_copy(update={"budget": None})
        pairs = [(a.name, a.estimate) for a in self.actions if isinstance(a, CreateAction | ReplaceAction)]
        return self.model_copy(update={"budget": assess(pairs, limit_usd, allow_over_budget, allow_unpriced)})

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {kind: 0 for kind in ORDER}
        for action in self.actions:
            counts[action.action] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    @property
    def blocked(self) -> list[CreateAction]:
        """Creates of stages that wait for their upstream."""
        return [a for a in self.actions if isinstance(a, CreateAction) and a.blocked_by is not None]

    def to_json(self, derived: dict[str, Any] | None = None) -> dict[str, Any]:
        """The plan as JSON; ``derived`` adds what renderers computed from it (the ``overview``), read
        by machines and the checksum, never by ``from_json``."""
        data = self.model_dump(mode="json")
        data["summary"] = self.summary
        data.update(derived or {})
        data["fingerprint"] = self.live.fingerprint()
        data["checksum"] = checksum(data)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        """The plan in ``data``; ``ValueError`` when its checksum does not match (edited or damaged)."""
        if data.get("checksum") != checksum(data):
            raise ValueError("its checksum does not match its content (edited by hand, or damaged)")
        return cls.model_validate({k: v for k, v in data.items() if k not in DERIVED})


def checksum(data: dict[str, Any]) -> str:
    """A digest of everything in a JSON plan but the checksum itself."""
    body = {k: v for k, v in data.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(canonical(body).encode()).hexdigest()
