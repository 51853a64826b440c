"""Small builders of desired state for planner and applier tests (no files on disk needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.identity import Desired, LocalFile
from reconciler.manifests.loader import LoadedManifest
from reconciler.manifests.model import Manifest


def make_desired(name: str, state: str = "active", spec: str = "A", local_file: str | None = None,
                 metadata: dict[str, str] | None = None, n_epochs: int | str = "auto") -> Desired:
    training = "data/train.jsonl" if local_file else "file-train"
    manifest = Manifest.model_validate({
        "name": name, "model": "gpt-4o-mini", "training_file": training, "state": state,
        "metadata": metadata or {}, "method": {"type": "supervised", "hyperparameters": {"n_epochs": n_epochs}}})
    source = Path(f"/repo/manifests/{name}.yaml")
    files: dict[str, LocalFile | str] = {}
    local: dict[str, Path] = {}
    if local_file:
        path = Path("/repo/manifests/data/train.jsonl")
        files["training_file"] = LocalFile(path, local_file * (64 // len(local_file)), 100)
        local["training_file"] = path
    else:
        files["training_file"] = training
    return Desired(LoadedManifest(manifest, source, 1, Path("/repo"), local), spec, files)


def desired_from_case(item: dict[str, Any]) -> Desired:
    return make_desired(item["name"], item.get("state", "active"), item.get("spec", "A"), item.get("local_file"),
                        item.get("metadata"))
