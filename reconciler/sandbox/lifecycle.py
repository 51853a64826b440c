"""A job's life as a pure function of its stored timestamps and the clock.

Nothing runs in the background: a job stores when it was created, how long each phase lasts, when
it was paused/resumed/cancelled, and whether its data will make it fail. Status, events,
checkpoints and the fine-tuned model are computed from those and "now" whenever they are read, so
state survives a restart and a test can jump the clock forward.

Phases are measured in *active* time (wall time minus paused time):
``[0, V)`` validating_files, then failed if the data does not fit; ``[V, Q)`` queued;
``[Q, R)`` running; ``R`` onwards succeeded.

Legal transitions (anything else is refused: 400 with an OpenAI error body, 409 on Azure):

| request | allowed from                                 | result    |
|---------|----------------------------------------------|-----------|
| pause   | running                                      | paused    |
| resume  | paused                                       | running   |
| cancel  | validating_files, queued, running, paused    | cancelled |

In the Azure flavour a job shows ``pending`` for validating_files and queued, ``pausing`` for the
first ``t_transition`` seconds of a pause and ``resuming`` for the first of a run after a resume;
a job pausing or resuming can only be cancelled.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

from reconciler import catalog
from reconciler.providers.statuses import PHASES, TERMINAL

LEGAL = {  # by phase (reconciler.providers.statuses, the one definition): what each action may act on
    "pause": frozenset(s for s, p in PHASES.items() if p == "running"),
    "resume": frozenset(s for s, p in PHASES.items() if p == "paused"),
    "cancel": frozenset(PHASES) - TERMINAL,
}
CEILING_PAUSE = ("Fine-tuning job paused: it reached the cost limit of $5,000 (training and grading); a "
                 "deployable checkpoint was created. Resume it to go on, with no further cost limit.")
"""Azure's pause of a reinforcement job at its cost ceiling, as its documentation describes it."""
ORG = "org-sandbox"
ORG_SLUG = "sandbox"


def _h(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def _noise(*parts: object) -> float:
    """A deterministic number in [0, 1) so that metrics are stable between reads."""
    return int(_h(*parts)[:8], 16) / 0x1_0000_0000


@dataclass
class Job:
    """The stored form of a job: the request as resolved at create time plus its timeline."""

    id: str
    created_at: float
    request: dict[str, Any]  # model, files, method (resolved), suffix, seed, metadata, integrations
    examples: int
    tokens_per_epoch: int
    t_validate: float
    t_queue: float
    t_run: float
    failure: dict[str, Any] | None = None
    pauses: list[list[float | None]] = field(default_factory=list)
    cancelled_at: float | None = None
    pending: bool = False
    """Azure: validating_files and queued are shown as ``pending``."""
    t_transition: float = 0.0
    """Azure: seconds of ``pausing`` after a pause and of ``resuming`` after a resume."""
    naming: str = "openai"
    """``azure``: the fine-tuned model is ``BASE.ft-ID`` (ID the job's hex), else ``ft:BASE:ORG:SUFFIX:ID8``."""
    ceiling_pause: bool = False
    """Azure: the first pause is the service's own, at the job's cost ceiling (set when it was created)."""

    # -- time ------------------------------------------------------------------------------
    def active(self, now: float) -> float:
        """Seconds of active time by wall time ``now``."""
        paused = sum(min(end if end is not None else now, now) - start
                     for start, end in self._pauses() if start < now)
        return now - self.created_at - paused

    def wall(self, active: float) -> float:
        """Wall time at which ``active`` seconds of active time are reached (inf while paused)."""
        wall = self.created_at + active
        for start, end in self._pauses():
            if start <= wall:
                if end is None:
                    return math.inf
                wall += end - start
        return wall

    def _pauses(self) -> list[tuple[float, float | None]]:
        return [(float(s or 0), e) for s, e in self.pauses]

    @property
    def bounds(self) -> tuple[float, float, float]:
        v = self.t_validate
        q = v + self.t_queue
        return v, q, q + self.t_run

    # -- derived values --------------------------------------------------------------------
    @property
    def hyperparameters(self) -> dict[str, Any]:
        method = self.request["method"]
        return dict(method[method["type"]]["hyperparameters"])

    @property
    def n_epochs(self) -> int:
        return int(self.hyperparameters["n_epochs"])

    @property
    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(self.examples / int(self.hyperparameters["batch_size"])))

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.n_epochs

    def status(self, now: float) -> str:
        status = self._status(now)
        if self.pending and status in ("validating_files", "queued"):
            return "pending"
        if self.t_transition and status in ("paused", "running") and self.pauses:
            start, end = self._pauses()[-1]
            if status == "paused" and now - start < self.t_transition:
                return "pausing"
            if status == "running" and end is not None and now - end < self.t_transition:
                return "resuming"
        return status

    def _status(self, now: float) -> str:
        if self.cancelled_at is not None and self.cancelled_at <= now:
            return "cancelled"
        if any(end is None and start <= now for start, end in self._pauses()):
            return "paused"
        v, q, r = self.bounds
        active = self.active(now)
        if active < v:
            return "validating_files"
        if self.failure is not None:
            return "failed"
        if active < q:
            return "queued"
        if active < r:
            return "running"
        return "succeeded"

    def fine_tuned_model(self) -> str:
        """``ft:BASE:ORG:SUFFIX:ID`` (Azure: ``BASE.ft-ID``), BASE the root base model even when trained
        from a fine-tuned model."""
        base = catalog.base_of(self.request["model"])
        if self.naming == "azure":
            return f"{base}.ft-{self.id.removeprefix('ftjob-')}"
        return f"ft:{base}:{ORG_SLUG}:{self.request.get('suffix') or ''}:{self.id[-8:]}"

    def success_at(self) -> float | None:
        """When the job succeeds as things stand (None: while paused, cancelled, or failing)."""
        if self.cancelled_at is not None or self.failure is not None:
            return None
        at = self.wall(self.bounds[2])
        return None if at == math.inf else at

    def finished_at(self, now: float) -> int | None:
        status = self.status(now)
        if status == "cancelled" and self.cancelled_at is not None:
            return int(self.cancelled_at)
        v, _, r = self.bounds
        if status == "failed":
            return int(self.wall(v))
        if status == "succeeded":
            return int(self.wall(r))
        return None

    def step_time(self, step: int) -> float:
        _, q, _ = self.bounds
        return self.wall(q + self.t_run * step / self.total_steps)

    def metrics(self, step: int, valid: bool = False) -> dict[str, float]:
        """A step's numbers; with ``valid`` (a job with a validation file) its validation ones too."""
        progress = step / self.total_steps
        loss = 2.2 * math.exp(-3 * progress) + 0.05 + 0.1 * _noise(self.id, step)
        accuracy = min(0.99, 0.45 + 0.5 * progress + 0.03 * _noise(self.id, step, "a"))
        out = {"step": float(step), "train_loss": round(loss, 4), "train_mean_token_accuracy": round(accuracy, 4)}
        if valid:
            out.update(valid_loss=round(loss * 1.08, 4), valid_mean_token_accuracy=round(accuracy, 4))
        return out

    def metric_steps(self) -> list[int]:
        every = max(1, self.total_steps // 50)
        steps = list(range(every, self.total_steps + 1, every))
        if not steps or steps[-1] != self.total_steps:
            steps.append(self.total_steps)
        return steps

    def checkpoint_steps(self) -> list[int]:
        first = max(1, self.n_epochs - 2)
        return [self.steps_per_epoch * epoch for epoch in range(first, self.n_epochs + 1)]

    # -- API objects -----------------------------------------------------------------------
    def to_api(self, now: float, result_file: str | None = None) -> dict[str, Any]:
        status = self.status(now)
        _, _, r = self.bounds
        req = self.request
        estimated = self.wall(r) if status in ("queued", "running") else None
        return {
            "object": "fine_tuning.job",
            "id": self.id,
            "created_at": int(self.created_at),
            "error": self.failure if status == "failed" else None,
            "fine_tuned_model": self.fine_tuned_model() if status == "succeeded" else None,
            "finished_at": self.finished_at(now),
            "hyperparameters": {k: v for k, v in self.hyperparameters.items()
                                if k in ("batch_size", "learning_rate_multiplier", "n_epochs")},
            "model": req["model"],
            "organization_id": ORG,
            "result_files": [result_file] if status == "succeeded" and result_file else [],
            "status": status,
            "trained_tokens": self.tokens_per_epoch * self.n_epochs if status == "succeeded" else None,
            "training_file": req["training_file"],
            "validation_file": req.get("validation_file"),
            "integrations": req.get("integrations") or None,
            "seed": req["seed"],
            "estimated_finish": int(estimated) if estimated is not None and estimated != math.inf else None,
            "method": req["method"],
            "metadata": req.get("metadata") or None,
            "suffix": req.get("suffix"),
        }

    def events(self, now: float) -> list[dict[str, Any]]:
        """Every event that has happened by ``now``, oldest first."""
        raw: list[tuple[float, str, str, str, dict[str, Any]]] = []
        v, q, r = self.bounds

        def add(at: float, key: str, message: str, level: str = "info", kind: str = "message",
                data: dict[str, Any] | None = None) -> None:
            if at <= now:
                raw.append((at, key, level, message, {"type": kind, "data": data or {}}))

        add(self.created_at, "created", f"Created fine-tuning job: {self.id}")
        add(self.created_at, "validating", "Validating training file: " + self.request["training_file"])
        for i, (start, end) in enumerate(self._pauses()):
            add(start, f"pause{i}", CEILING_PAUSE if i == 0 and self.ceiling_pause else "Fine-tuning job paused")
            if end is not None:
                add(end, f"resume{i}", "Fine-tuning job resumed")
        if self.cancelled_at is not None:
            add(self.cancelled_at, "cancelled", "Fine-tuning job cancelled")
        cut = self.cancelled_at if self.cancelled_at is not None else math.inf
        if self.failure is not None:
            if self.wall(v) < cut:
                add(self.wall(v), "failed", self.failure["message"], level="error")
        else:
            def timed(at: float, *args: Any, **kw: Any) -> None:
                if at < cut:
                    add(at, *args, **kw)

            timed(self.wall(v), "validated", "Files validated, moving job to queued state")
            timed(self.wall(q), "started", "Fine-tuning job started")
            for step in self.metric_steps():
                m = self.metrics(step, self.request.get("validation_file") is not None)
                timed(self.step_time(step), f"step{step}",
                      f"Step {step}/{self.total_steps}: training loss={m['train_loss']:.4f}",
                      kind="metrics", data={**m, "step": step, "total_steps": self.total_steps})
            for step in self.checkpoint_steps()[:-1]:
                timed(self.step_time(step), f"ckpt{step}", f"Checkpoint created at step {step}")
            timed(self.wall(r), "model", f"New fine-tuned model created: {self.fine_tuned_model()}")
            timed(self.wall(r), "done", "The job has successfully completed")
        raw.sort(key=lambda e: e[0])
        return [{"object": "fine_tuning.job.event", "id": "ftevent-" + _h(self.id, key)[:24],
                 "created_at": int(at), "level": level, "message": message, **extra}
                for at, key, level, message, extra in raw]

    def checkpoints(self, now: float) -> list[dict[str, Any]]:
        """Checkpoints written by ``now``, oldest first (a cancelled job keeps the ones it had)."""
        cut = self.cancelled_at if self.cancelled_at is not None else math.inf
        if self.failure is not None:
            return []
        out = []
        for step in self.checkpoint_steps():
            at = self.step_time(step)
            if at > now or at >= cut:
                continue
            m = self.metrics(step)
            valid = round(m["train_loss"] * 1.08, 4)
            out.append({
                "object": "fine_tuning.job.checkpoint",
                "id": "ftckpt_" + _h(self.id, "ckpt", step)[:24],
                "created_at": int(at),
                "fine_tuned_model_checkpoint": f"{self.fine_tuned_model()}:ckpt-step-{step}",
                "fine_tuning_job_id": self.id,
                "step_number": step,
                "metrics": {**m, "valid_loss": valid, "valid_mean_token_accuracy": m["train_mean_token_accuracy"],
                            "full_valid_loss": valid,
                            "full_valid_mean_token_accuracy": m["train_mean_token_accuracy"]},
            })
        return out

    def results_csv(self) -> bytes:
        """OpenAI's ``step_metrics.csv``: a row per step; the validation columns blank without a validation file."""
        lines = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
        for step in self.metric_steps():
            m = self.metrics(step, self.request.get("validation_file") is not None)
            lines.append(f"{step},{m['train_loss']},{m['train_mean_token_accuracy']},"
                         f"{m.get('valid_loss', '')},{m.get('valid_mean_token_accuracy', '')}")
        return ("\n".join(lines) + "\n").encode()
