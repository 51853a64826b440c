"""Live state as read from the API: lenient models (unknown fields ignored, status an open string)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from reconciler.providers.statuses import TERMINAL

TAG_STACK = "ftctl-stack"
TAG_NAME = "ftctl-name"
TAG_SPEC = "ftctl-spec"
TAGS = (TAG_STACK, TAG_NAME, TAG_SPEC)



class Lenient(BaseModel):
    """Lenient out: a server may add fields or values we do not know yet."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class JobError(Lenient):
    code: str | None = None
    message: str | None = None
    param: str | None = None


class LiveJob(Lenient):
    id: str
    status: str
    created_at: int = 0
    model: str = ""
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    estimated_finish: int | None = None
    training_file: str | None = None
    validation_file: str | None = None
    trained_tokens: int | None = None
    error: JobError | None = None
    metadata: dict[str, str] | None = None
    method: dict[str, Any] | None = None
    hyperparameters: dict[str, Any] | None = None
    suffix: str | None = None
    user_provided_suffix: str | None = None
    """Azure OpenAI's name for the suffix a job was created with."""
    seed: int | None = None
    integrations: list[dict[str, Any]] | None = None
    result_files: list[str] | None = None
    """A succeeded job's results (OpenAI: ``step_metrics.csv``, the training curve); none before (and
    null from a service that keeps none)."""

    @property
    def tags(self) -> dict[str, str]:
        return self.metadata or {}

    @property
    def stack(self) -> str | None:
        return self.tags.get(TAG_STACK)

    @property
    def name(self) -> str | None:
        return self.tags.get(TAG_NAME)

    @property
    def spec(self) -> str | None:
        return self.tags.get(TAG_SPEC)

    @property
    def user_metadata(self) -> dict[str, str]:
        return {k: v for k, v in self.tags.items() if k not in TAGS}

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def paused(self) -> bool:
        return self.status == "paused"

    @property
    def request(self) -> LiveRequest:
        """What the job says it was created with, read one way for every reader."""
        return LiveRequest.of(self)


@dataclass(frozen=True)
class LiveRequest:
    """A live job's request, as far as the API reports it: the one reading of ``method`` (or the
    deprecated top-level ``hyperparameters``), of the suffix (a field on some services, else a part
    of the fine-tuned model's name), seed and integrations. ``reported`` names the fields the API
    gave: a field it did not give is unknown, not absent."""

    method_type: str | None
    """``None``: the job reports neither ``method`` nor ``hyperparameters``."""
    hyperparameters: dict[str, Any]
    """As reported: numbers the service chose for ``auto``, or nothing."""
    grader: dict[str, Any] | None
    suffix: str | None
    seed: int | None
    integrations: list[dict[str, Any]] | None
    reported: frozenset[str]
    """Which of method, hyperparameters, grader, suffix, seed, integrations the API gave."""

    @classmethod
    def of(cls, job: LiveJob) -> LiveRequest:
        given = set(job.model_fields_set) & {"seed", "integrations"}
        method = job.method if isinstance(job.method, dict) else None
        kind: str | None = None
        inner: dict[str, Any] = {}
        if method is not None:
            kind = str(method.get("type") or "supervised")
            found = method.get(kind)
            inner = found if isinstance(found, dict) else {}
            given.add("method")
        elif job.hyperparameters is not None:
            kind = "supervised"  # the deprecated top-level form: supervised jobs only
        hyper = inner.get("hyperparameters") or job.hyperparameters
        if isinstance(hyper, dict):
            given.add("hyperparameters")
        grader = inner.get("grader")
        if isinstance(grader, dict):
            given.add("grader")
        suffix = job.suffix
        if "suffix" in job.model_fields_set:
            given.add("suffix")
        elif "user_provided_suffix" in job.model_fields_set:
            suffix = job.user_provided_suffix
            given.add("suffix")
        elif _ft_name(job.fine_tuned_model):
            suffix = suffix_of(job.fine_tuned_model)  # the name shows the suffix, or that there is none
            given.add("suffix")
        return cls(method_type=kind, hyperparameters=dict(hyper) if isinstance(hyper, dict) else {},
                   grader=grader if isinstance(grader, dict) else None, suffix=suffix, seed=job.seed,
                   integrations=job.integrations, reported=frozenset(given))


def suffix_of(fine_tuned_model: str | None) -> str | None:
    """``ft:gpt-4o-mini-2024-07-18:org:support-v3:AbC123`` → ``support-v3`` (None when the name has
    no suffix or is not of that form)."""
    return (fine_tuned_model or "").split(":")[3] or None if _ft_name(fine_tuned_model) else None


def _ft_name(name: str | None) -> bool:
    """Whether ``name`` is of OpenAI's form ``ft:BASE:ORG:SUFFIX:ID`` (suffix possibly empty)."""
    parts = (name or "").split(":")
    return len(parts) >= 5 and parts[0] == "ft"


class LiveEvent(Lenient):
    """One event of a job; ``metrics`` events carry ``step``, ``total_steps`` and losses in ``data``."""

    id: str
    created_at: int = 0
    level: str = "info"
    message: str = ""
    type: str | None = None
    data: dict[str, Any] | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        return self.data or {} if self.type == "metrics" else {}


class LiveCheckpoint(Lenient):
    id: str
    created_at: int = 0
    fine_tuned_model_checkpoint: str = ""
    step_number: int = 0
    metrics: dict[str, Any] = {}


class LiveFile(Lenient):
    id: str
    filename: str = ""
    bytes: int = 0
    purpose: str = ""
    created_at: int = 0
    status: str | None = None
