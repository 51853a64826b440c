"""``Desired``: one manifest as the planner compares it — name, state, request, spec hash — plus
the local files it relies on and its estimate.

Paths are relative to the project root (``reconciler.project``), so a plan made from one
directory means the same files from any other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import SerializerFunctionWrapHandler, model_serializer

from reconciler.datasets.check import Estimate
from reconciler.diagnostics import SetupError
from reconciler.identity.request import CreateRequest, FileRef, from_manifest
from reconciler.identity.spec import spec_hash
from reconciler.identity.uploads import sha256_file, upload_filename
from reconciler.manifests.evaluation import Evaluation
from reconciler.manifests.loaded import LoadedManifest
from reconciler.manifests.model import ModelFrom, State
from reconciler.manifests.strict import Frozen
from reconciler.project import relative


class LocalFile(Frozen):
    """A local file a plan relies on; a plan is stale once its bytes differ (SPEC §6)."""

    path: str
    sha256: str
    bytes: int
    role: Literal["data", "grader", "eval"] = "data"
    examples: int | None = None
    tokens: int | None = None
    used_by: tuple[str, ...] = ()
    """The manifests that rely on the file."""
    upload_name: str | None = None
    """The name of an upload made for one job only, its tags in it (``providers.tagged_files``): on a
    target that keeps no metadata. None: the upload is named by its content alone, and shared."""

    @property
    def filename(self) -> str:
        return self.upload_name or upload_filename(self.sha256, self.path)

    @model_serializer(mode="wrap")
    def _without_absent_name(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A plan for a target that keeps metadata is written as before the field existed."""
        data: dict[str, Any] = handler(self)
        if data.get("upload_name") is None:
            data.pop("upload_name", None)
        return data


@dataclass(frozen=True)
class Desired:
    name: str
    state: State
    request: CreateRequest
    spec: str
    source: str = ""
    """Where the manifest is, as ``path:line`` relative to the project root."""
    files: tuple[LocalFile, ...] = ()
    estimate: Estimate | None = None
    job_id: str | None = None
    """An adopted job (``job_id:``), matched by ID instead of by tags (SPEC §9)."""
    job_id_source: str = ""
    """Where ``job_id:`` is, as ``path:line``."""
    model_source: str = ""
    """Where ``model:`` is, as ``path:line``."""
    upstream: ModelFrom | None = None
    """A pipeline stage: the manifest whose result it trains on (SPEC §10); its ``request.model`` is
    empty until the planner resolves it (``resolved``)."""
    previous_names: tuple[str, ...] = ()
    """Names the manifest had before: live jobs tagged with them are its own."""
    evaluation: Evaluation | None = None
    """How its trained model is judged (``eval:``); with a gate, the stages built on it wait for it."""
    eval_items: int | None = None
    """How many items its evaluation has, when they were read."""

    @property
    def gated(self) -> bool:
        return self.evaluation is not None and self.evaluation.gate is not None

    def resolved(self, model: str) -> Desired:
        """This stage with its upstream's result as its model: request and spec hash made anew."""
        request = self.request.model_copy(update={"model": model, "upstream": None})
        return dataclasses.replace(self, request=request, spec=spec_hash(request.hashed()))

    def data_file(self, sha256: str) -> LocalFile | None:
        return next((f for f in self.files if f.role == "data" and f.sha256 == sha256), None)


@dataclass(frozen=True)
class Digest:
    """What a scan of a local file found: its digest and size, and examples and tokens if checked."""

    sha256: str
    bytes: int
    examples: int | None = None
    tokens: int | None = None


def build(loaded: LoadedManifest, root: Path, digests: Mapping[Path, Digest] | None = None,
          estimate: Estimate | None = None, training_type: str | None = None,
          eval_items: int | None = None, provider: str | None = None) -> Desired:
    """The ``Desired`` of one loaded manifest. ``digests`` reuses the sha256 of files already read
    (by the data checks); any other local file is hashed here."""
    known = dict(digests or {})

    def digest(path: Path) -> Digest:
        if path not in known:
            try:
                known[path] = Digest(sha256_file(path), path.stat().st_size)
            except OSError as exc:  # checked by the loader, gone or unreadable since
                raise SetupError(f"{relative(path, root)}: cannot read: {exc.strerror or exc}") from None
        return known[path]

    refs: dict[str, FileRef] = {}
    files: list[LocalFile] = []
    for key, path in sorted(loaded.local_files.items(), key=lambda item: str(item[0])):
        d, shown = digest(path), relative(path, root)
        if key in (("training_file",), ("validation_file",)):
            refs[str(key[0])] = FileRef(sha256=d.sha256, path=shown, bytes=d.bytes)
            files.append(LocalFile(path=shown, sha256=d.sha256, bytes=d.bytes, examples=d.examples, tokens=d.tokens,
                                   used_by=(loaded.name,)))
        elif key == ("eval", "file"):  # the evaluation's items: judged after training, not trained on
            files.append(LocalFile(path=shown, sha256=d.sha256, bytes=d.bytes, role="eval", used_by=(loaded.name,)))
        else:  # a python grader's source_file
            files.append(LocalFile(path=shown, sha256=d.sha256, bytes=d.bytes, role="grader", used_by=(loaded.name,)))
    request = from_manifest(loaded, refs, training_type, provider)
    unique = {(f.path, f.role): f for f in files}
    _, pin_line = loaded.where(("job_id",))
    _, model_line = loaded.where(("model",))
    return Desired(name=loaded.name, state=loaded.manifest.state, request=request, spec=spec_hash(request.hashed()),
                   source=f"{relative(loaded.source, root)}:{loaded.line}", files=tuple(unique.values()),
                   estimate=estimate, job_id=loaded.manifest.job_id,
                   job_id_source=f"{relative(loaded.source, root)}:{pin_line}",
                   model_source=f"{relative(loaded.source, root)}:{model_line}", upstream=loaded.manifest.upstream,
                   previous_names=tuple(loaded.manifest.previous_names), evaluation=loaded.manifest.eval,
                   eval_items=eval_items)
