"""Live state as read from the API: lenient models (unknown fields ignored, status an open string)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from reconciler.providers import ALL_STATUSES

TAG_STACK = "ftctl-stack"
TAG_NAME = "ftctl-name"
TAG_SPEC = "ftctl-spec"
TAGS = (TAG_STACK, TAG_NAME, TAG_SPEC)

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
EARLY = frozenset({"validating_files", "queued", "pending"})
"""Before training starts: no metric or checkpoint exists yet."""
TRANSITIONAL = frozenset({"pausing", "resuming"})
"""On the way to paused or running (Azure): nothing is done to such a job until it gets there."""


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
    seed: int | None = None
    integrations: list[dict[str, Any]] | None = None

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
    def transitional(self) -> bool:
        return self.status in TRANSITIONAL

    @property
    def known(self) -> bool:
        """Whether ftctl understands the status; any other is shown and never acted on."""
        return self.status in ALL_STATUSES


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
