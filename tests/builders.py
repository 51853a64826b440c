"""Small builders of desired state for planner and applier tests (no files on disk needed)."""

from __future__ import annotations

import dataclasses
from typing import Any

from reconciler.api.models import LiveFile
from reconciler.identity import CreateRequest, Desired, FileRef, LocalFile, MethodSpec, spec_hash
from reconciler.manifests.evaluation import Evaluation
from reconciler.manifests.model import ModelFrom, State


def make_request(local_file: str | None = None, metadata: dict[str, str] | None = None,
                 n_epochs: int | str = "auto", size: int = 100, **fields: Any) -> CreateRequest:
    """``local_file``: a local training file whose sha256 is that text repeated (or a real digest)."""
    if local_file:
        sha = (local_file * 64)[:64]
        ref = FileRef(sha256=sha, path="manifests/data/train.jsonl", bytes=size)
    else:
        ref = FileRef(file_id="file-train")
    method = MethodSpec(type="supervised", hyperparameters={
        "batch_size": "auto", "learning_rate_multiplier": "auto", "n_epochs": n_epochs})
    fields.setdefault("model", "gpt-4o-mini")
    return CreateRequest(training_file=ref, method=method, metadata=metadata or {}, **fields)


def make_desired(name: str, state: State = "active", spec: str | None = "A", local_file: str | None = None,
                 metadata: dict[str, str] | None = None, n_epochs: int | str = "auto",
                 request: CreateRequest | None = None) -> Desired:
    """A desired job; ``spec=None`` computes the real spec hash of its request."""
    request = request or make_request(local_file, metadata, n_epochs)
    files = tuple(LocalFile(path=ref.path or "", sha256=ref.sha256 or "", bytes=ref.bytes or 0, used_by=(name,))
                  for ref in request.local_files())
    return Desired(name=name, state=state, request=request, spec=spec or spec_hash(request.hashed()),
                   source=f"manifests/{name}.yaml:1", files=files)


def desired_from_case(item: dict[str, Any]) -> Desired:
    """A desired job of a planner case; ``from`` (and ``checkpoint``) make it a pipeline stage, whose spec
    is the real hash of its request once its model is known."""
    if "from" in item:
        upstream = ModelFrom.model_validate({"from": item["from"], "checkpoint": item.get("checkpoint", "final")})
        request = make_request(item.get("local_file"), item.get("metadata")).model_copy(update={
            "model": "", "upstream": f"{upstream.name}, {upstream.checkpoint}"})
        d = make_desired(item["name"], item.get("state", "active"), None, request=request)
        return dataclasses.replace(d, upstream=upstream, previous_names=tuple(item.get("previous_names", ())))
    d = make_desired(item["name"], item.get("state", "active"), item.get("spec", "A"), item.get("local_file"),
                     item.get("metadata"))
    gated = Evaluation.model_validate({"file": "eval.jsonl", "gate": {"min_score": 0.5}, "grader": {
        "type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
        "reference": "{{item.reference}}", "operation": "eq"}}) if item.get("gate") else None
    return dataclasses.replace(d, previous_names=tuple(item.get("previous_names", ())), evaluation=gated,
                               eval_items=20 if gated else None)


def no_files() -> list[LiveFile]:
    """The live file list of an account with none (the planner reads the list through a loader)."""
    return []
