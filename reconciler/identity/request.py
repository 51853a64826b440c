"""The create request: one typed value per manifest, the source of the hash, the body and the diff.

``CreateRequest`` is built once from a loaded manifest. Three views are derived from it and from
nothing else, so a field cannot reach the API without reaching the spec hash and the reviewer:

* ``hashed()`` — the canonical request of SPEC §2 (the v1 spec hash is its digest): local files as
  the sha256 of their bytes, model aliases resolved, ``auto`` hyperparameters left out (absent and
  ``auto`` both mean "let the service choose"), python grader code inlined;
* ``body()`` — what is POSTed, with uploaded file IDs and the identity tags;
* ``review_view(hashed)`` — the hashed fields in the manifest's own shape, for field diffs.

Every field of the manifest model is either hashed (``HASHED_FIELDS``) or deliberately excluded
(``EXCLUDED_FIELDS``); a test checks both lists against the model. A field added later must be
left out of ``hashed()`` while it is absent, or every existing hash would change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from reconciler import catalog
from reconciler.diagnostics import FieldPath
from reconciler.manifests.graders import AnyGrader, MultiGrader, PythonGrader, walk
from reconciler.manifests.loaded import LoadedManifest
from reconciler.manifests.model import ReinforcementMethod, is_file_id
from reconciler.manifests.strict import Frozen

HASHED_FIELDS = ("model", "training_file", "validation_file", "method", "suffix", "seed", "integrations",
                 "provider_options")
EXCLUDED_FIELDS = {
    "kind": "always FineTuningJob",
    "name": "the identity itself, carried by the ftctl-name tag",
    "metadata": "user tags: the API cannot change them on a live job, so they never force a new job",
    "state": "acts on the live job (pause, resume, cancel) instead of making a new one",
    "job_id": "adopts an existing job, matched by its ID instead of by tags and never replaced (SPEC §9)",
    "eval": "judges the trained model (SPEC §11): how it is trained does not change",
    "previous_names": "earlier names of the manifest: which live jobs are its own (SPEC §10), not what they are",
}
NOT_CHOSEN = {"auto", "default"}
"""Hyperparameter values that leave the choice to the service (``default``: reasoning_effort)."""


class FileRef(Frozen):
    """A file a job trains on: local bytes known by their sha256, or a file ID given as is."""

    sha256: str | None = None
    file_id: str | None = None
    path: str | None = None
    """A local file's path relative to the project root, or an uploaded file's original name."""
    bytes: int | None = None

    def identity(self) -> dict[str, str]:
        """What the hash sees: the bytes when known, else the ID."""
        return {"sha256": self.sha256} if self.sha256 is not None else {"file_id": self.file_id or ""}

    def display(self) -> str:
        if self.sha256 is None:
            return self.file_id or ""
        size = f"{human_bytes(self.bytes)}, " if self.bytes is not None else ""
        return f"{self.path or 'a file'} ({size}sha256 {self.sha256[:12]})"


class MethodSpec(Frozen):
    type: Literal["supervised", "dpo", "reinforcement"]
    hyperparameters: dict[str, int | float | str]
    """As written, ``auto`` and ``default`` included (the body sends them; the hash drops them)."""
    grader: dict[str, Any] | None = None
    """The API's grader object, python code inlined in place of ``source_file``."""

    def chosen(self) -> dict[str, int | float | str]:
        return {k: v for k, v in self.hyperparameters.items() if not (isinstance(v, str) and v in NOT_CHOSEN)}


class CreateRequest(Frozen):
    model: str
    training_file: FileRef
    validation_file: FileRef | None = None
    method: MethodSpec
    suffix: str | None = None
    seed: int | None = None
    integrations: list[dict[str, Any]] | None = None
    provider_options: dict[str, Any] | None = None
    """Fields of one provider (``{"azure": {"training_type": …}}``); the provider profile sends them."""
    metadata: dict[str, str] = Field(default_factory=dict)
    upstream: str | None = None
    """A pipeline stage's source, in words (``support-sft, final``), while ``model`` is not known yet: the
    planner puts the upstream's result in ``model`` once it is ready. Never hashed: the model is."""

    def hashed(self) -> dict[str, Any]:
        """The canonical request (SPEC §2). Its exact shape is the v1 hash: do not change it. A field
        added later enters it only when set, so that every existing hash stays what it was."""
        inner: dict[str, Any] = {"hyperparameters": self.method.chosen()}
        if self.method.grader is not None:
            inner["grader"] = self.method.grader
        canonical = {
            "model": catalog.hash_model(self.model),
            "training_file": self.training_file.identity(),
            "validation_file": self.validation_file.identity() if self.validation_file else None,
            "method": {"type": self.method.type, self.method.type: inner},
            "suffix": self.suffix,
            "seed": self.seed,
            "integrations": self.integrations or None,
        }
        if self.provider_options:
            canonical["provider_options"] = self.provider_options
        return canonical

    def local_files(self) -> list[FileRef]:
        return [f for f in (self.training_file, self.validation_file) if f is not None and f.sha256 is not None]

    def body(self, tags: Mapping[str, str], file_ids: Mapping[str, str]) -> dict[str, Any]:
        """The POST body; ``file_ids`` maps each local file's sha256 to its uploaded ID (KeyError if
        one is missing)."""
        inner: dict[str, Any] = {"hyperparameters": dict(self.method.hyperparameters)}
        if self.method.grader is not None:
            inner["grader"] = self.method.grader
        body: dict[str, Any] = {"model": self.model, "method": {"type": self.method.type, self.method.type: inner}}
        for key in ("training_file", "validation_file"):
            ref: FileRef | None = getattr(self, key)
            if ref is not None:
                body[key] = file_ids[ref.sha256] if ref.sha256 is not None else ref.file_id
        if self.suffix is not None:
            body["suffix"] = self.suffix
        if self.seed is not None:
            body["seed"] = self.seed
        if self.integrations:
            body["integrations"] = self.integrations
        body["metadata"] = {**self.metadata, **tags}
        return body

    def display_tree(self) -> dict[str, Any]:
        """The whole request in the manifest's shape, for a reviewer (None values left out)."""
        method: dict[str, Any] = {"type": self.method.type, "hyperparameters": dict(self.method.hyperparameters)}
        if self.method.grader is not None:
            method["grader"] = self.method.grader
        model = self.model or f"(the result of {self.upstream}, once ready)"
        tree: dict[str, Any] = {"model": model, "training_file": self.training_file.display()}
        if self.validation_file is not None:
            tree["validation_file"] = self.validation_file.display()
        tree["method"] = method
        for key in ("suffix", "seed", "integrations", "provider_options"):
            if getattr(self, key) is not None:
                tree[key] = getattr(self, key)
        if self.metadata:
            tree["metadata"] = dict(self.metadata)
        return tree


def review_view(hashed: dict[str, Any]) -> dict[str, Any]:
    """A canonical request (``hashed()``) in the manifest's shape: ``method.hyperparameters``, not
    ``method.supervised.hyperparameters``. Same information, so equal views mean equal hashes."""
    method = hashed["method"]
    inner = method.get(method["type"], {})
    view = {k: v for k, v in hashed.items() if k != "method"}
    view["method"] = {"type": method["type"], **inner}
    return view


def _grader(grader: AnyGrader, sources: Mapping[FieldPath, str]) -> dict[str, Any]:
    """The API's grader object: the manifest's, with every python grader's code inlined in place of
    its ``source_file``."""
    data: dict[str, Any] = grader.model_dump(exclude_none=True)
    top = ("method", "grader")
    for path, inner in walk(grader, top):
        node = data
        for part in path[len(top):]:
            node = node[str(part)]
        if isinstance(inner, PythonGrader):
            node.pop("source_file", None)
            node["source"] = sources[path]
        elif isinstance(inner, MultiGrader):
            node["graders"] = node.pop("graders")  # shown after the formula that combines them
    return data


def from_manifest(loaded: LoadedManifest, local: Mapping[str, FileRef],
                  training_type: str | None = None, provider: str | None = None) -> CreateRequest:
    """The request of ``loaded``; ``local`` gives the ``FileRef`` of each local file by field name;
    ``training_type``: the target's default (Azure's, from ftctl.yaml) for a manifest without its own;
    ``provider``: the target's provider, whose ``provider_options`` alone are sent and hashed (another
    provider's never reach this one, so setting them changes no job here). None keeps them all."""
    m = loaded.manifest
    options = m.provider_options.model_dump(exclude_none=True) if m.provider_options else {}
    if provider is not None:
        options = {name: value for name, value in options.items() if name == provider}
    if training_type is not None and not options.get("azure", {}).get("training_type"):
        options = {**options, "azure": {**options.get("azure", {}), "training_type": training_type}}

    def ref(key: str) -> FileRef | None:
        value: str | None = getattr(m, key)
        if value is None:
            return None
        return FileRef(file_id=value) if is_file_id(value) else local[key]

    training = ref("training_file")
    assert training is not None  # required by the manifest model
    grader = None
    if isinstance(m.method, ReinforcementMethod):
        grader = _grader(m.method.grader, loaded.python_sources)
    return CreateRequest(
        model=m.model if isinstance(m.model, str) else "",
        upstream=None if isinstance(m.model, str) else f"{m.model.name}, {m.model.checkpoint}",
        training_file=training, validation_file=ref("validation_file"),
        method=MethodSpec(type=m.method.type, hyperparameters=m.method.hyperparameters.model_dump(), grader=grader),
        suffix=m.suffix, seed=m.seed,
        integrations=[i.model_dump(exclude_none=True) for i in m.integrations] or None,
        provider_options=options or None,
        metadata=dict(m.metadata))


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"
