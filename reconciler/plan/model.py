"""The ``Plan``: what the planner decided, what renderers show and what the applier executes.

A plan is plain data (JSON-serialisable) so that ``plan --out FILE`` and ``apply FILE`` pass the
very same object, and so that ``apply`` can tell whether the live state it was computed from has
changed since (``fingerprint``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reconciler.api.models import TERMINAL, LiveJob

FORMAT_VERSION = 1
ActionKind = Literal["create", "replace", "cancel", "pause", "resume", "upload"]
ORDER: tuple[ActionKind, ...] = ("upload", "cancel", "replace", "create", "pause", "resume")


class Change(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    before: Any = None
    after: Any = None


class UploadFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str
    bytes: int
    filename: str
    examples: int | None = None
    tokens: int | None = None


class Action(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    action: ActionKind
    reason: str
    job_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    changes: list[Change] = Field(default_factory=list)
    request: dict[str, Any] | None = None  # create/replace: the body, local files as "sha256:HEX"
    then_pause: bool = False  # create/replace with state: paused
    file: UploadFile | None = None  # upload
    previous_job_id: str | None = None  # create: the job this one follows (idempotency generation)


class Notice(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    job_id: str | None = None
    status: str | None = None
    message: str


class Plan(BaseModel):
    format_version: int = FORMAT_VERSION
    stack: str
    target: str = ""
    actions: list[Action] = Field(default_factory=list)
    orphans: list[Notice] = Field(default_factory=list)
    failed: list[Notice] = Field(default_factory=list)
    notes: list[Notice] = Field(default_factory=list)
    relied_uploads: list[str] = Field(default_factory=list)  # "filename:file-ID" the creates reuse
    fingerprint: str = ""

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {kind: 0 for kind in ORDER}
        for action in self.actions:
            counts[action.action] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["summary"] = self.summary
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        data = {k: v for k, v in data.items() if k != "summary"}
        return cls.model_validate(data)


def status_class(status: str) -> str:
    """Statuses that make no difference to a plan fold together, so progress is not "drift"."""
    if status in TERMINAL or status in ("paused", "pausing"):
        return status
    return "in-progress"


def fingerprint(jobs: list[LiveJob], uploaded: list[str]) -> str:
    """A digest of the live facts a plan depends on: managed jobs and the uploads it relies on."""
    facts = sorted((j.id, j.name or "", j.spec or "", status_class(j.status)) for j in jobs)
    text = json.dumps({"jobs": facts, "files": sorted(uploaded)}, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
