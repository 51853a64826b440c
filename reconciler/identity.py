"""Identity without a state file (SPEC §2): metadata tags, the spec hash, uploaded-file names.

The spec hash is a versioned digest of the canonical create request. Canonical means: local files
replaced by the sha256 of their bytes (a re-upload of the same bytes changes nothing), python
grader code inlined (so editing ``source_file`` is a change), model aliases resolved, ``auto`` and
absent hyperparameters alike (both mean "let the service choose"), and ``state`` and user
``metadata`` left out (they act on a live job or cannot change at all).

Changing anything here changes every hash, which replaces every job of every user: bump
``SPEC_VERSION`` only as a deliberate decision (a test pins a known hash).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler import catalog
from reconciler.api.models import TAG_NAME, TAG_SPEC, TAG_STACK, LiveFile
from reconciler.manifests.graders import MultiGrader, PythonGrader
from reconciler.manifests.loader import LoadedManifest
from reconciler.manifests.model import ReinforcementMethod, is_file_id

SPEC_VERSION = "v1"


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


_UPLOAD_NAME = re.compile(r"^ftctl-([0-9a-f]{64})-(.*)$")


def upload_filename(sha256: str, path: Path) -> str:
    """The name a local file is uploaded under: its content hash makes it findable from any machine."""
    return f"ftctl-{sha256}-{path.name}"


def parse_upload_name(filename: str) -> tuple[str, str] | None:
    """(sha256, original name) of a file ftctl uploaded, or None for any other file."""
    match = _UPLOAD_NAME.match(filename)
    return (match.group(1), match.group(2)) if match else None


def find_uploaded(files: Iterable[LiveFile], sha256: str, size: int) -> LiveFile | None:
    """An uploaded copy of the bytes with this digest: same sha256 in its name and the same size.

    The name alone is not trusted: a copy of another size is not these bytes. (The API does not let
    fine-tune files be downloaded, so the size is the check that can be made.)
    """
    for f in files:
        parsed = parse_upload_name(f.filename)
        if parsed and parsed[0] == sha256 and f.bytes == size and f.purpose == "fine-tune" and f.status != "error":
            return f
    return None


@dataclass(frozen=True)
class LocalFile:
    path: Path
    sha256: str
    bytes: int
    examples: int | None = None
    tokens: int | None = None

    @property
    def filename(self) -> str:
        return upload_filename(self.sha256, self.path)


@dataclass(frozen=True)
class Desired:
    """One manifest turned into what the planner compares: the spec hash and the create request."""

    loaded: LoadedManifest
    spec: str
    files: dict[str, LocalFile | str] = field(default_factory=dict)  # field → local file or file-ID
    estimate: dict[str, Any] | None = None  # examples, tokens, epochs, cost (reconciler.datasets)

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def state(self) -> str:
        return self.loaded.manifest.state


def _grader_with_sources(grader: Any, sources: dict[str, str], prefix: str) -> dict[str, Any]:
    if isinstance(grader, PythonGrader):
        data = grader.model_dump(exclude_none=True, exclude={"source_file"})
        data["source"] = sources[prefix]
        return data
    if isinstance(grader, MultiGrader):
        data = grader.model_dump(exclude_none=True, exclude={"graders"})
        data["graders"] = {k: _grader_with_sources(g, sources, f"{prefix}.graders.{k}")
                           for k, g in grader.graders.items()}
        return data
    return dict(grader.model_dump(exclude_none=True))


def method_body(loaded: LoadedManifest, drop_auto: bool) -> dict[str, Any]:
    """The API's ``method``: ``{type, TYPE: {hyperparameters, grader}}``."""
    method = loaded.manifest.method
    hyper = method.hyperparameters.model_dump()
    if drop_auto:
        hyper = {k: v for k, v in hyper.items() if v != "auto" and not (k == "reasoning_effort" and v == "default")}
    inner: dict[str, Any] = {"hyperparameters": hyper}
    if isinstance(method, ReinforcementMethod):
        inner["grader"] = _grader_with_sources(method.grader, loaded.python_sources, "method.grader")
    return {"type": method.type, method.type: inner}


def canonical(loaded: LoadedManifest, files: dict[str, LocalFile | str]) -> dict[str, Any]:
    m = loaded.manifest

    def ref(key: str) -> Any:
        value = files.get(key)
        if value is None:
            return None
        return {"sha256": value.sha256} if isinstance(value, LocalFile) else {"file_id": value}

    return {
        "model": catalog.resolve_model(m.model),
        "training_file": ref("training_file"),
        "validation_file": ref("validation_file"),
        "method": method_body(loaded, drop_auto=True),
        "suffix": m.suffix,
        "seed": m.seed,
        "integrations": [i.model_dump(exclude_none=True) for i in m.integrations] or None,
    }


def spec_hash(canon: dict[str, Any]) -> str:
    text = json.dumps(canon, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{SPEC_VERSION}-{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def desired(loaded: LoadedManifest, hashes: dict[Path, str] | None = None,
            counts: dict[Path, tuple[int, int]] | None = None, estimate: dict[str, Any] | None = None) -> Desired:
    """``hashes`` caches file digests so that a file shared by several manifests is read once;
    ``counts`` gives (examples, tokens) of checked files, for the plan's upload steps."""
    cache = hashes if hashes is not None else {}
    files: dict[str, LocalFile | str] = {}
    for key in ("training_file", "validation_file"):
        value = getattr(loaded.manifest, key)
        if value is None:
            continue
        if is_file_id(value):
            files[key] = value
        else:
            path = loaded.local_files[key]
            if path not in cache:
                cache[path] = sha256_file(path)
            examples, tokens = (counts or {}).get(path, (None, None))
            files[key] = LocalFile(path, cache[path], path.stat().st_size, examples, tokens)
    return Desired(loaded, spec_hash(canonical(loaded, files)), files, estimate)


def tags(stack: str, name: str, spec: str) -> dict[str, str]:
    return {TAG_STACK: stack, TAG_NAME: name, TAG_SPEC: spec}


def create_body(d: Desired, stack: str, file_ids: dict[str, str]) -> dict[str, Any]:
    """The create request; ``file_ids`` maps a local file's sha256 to its uploaded ID."""
    m = d.loaded.manifest
    body: dict[str, Any] = {"model": m.model, "method": method_body(d.loaded, drop_auto=False)}
    for key, value in d.files.items():
        body[key] = file_ids[value.sha256] if isinstance(value, LocalFile) else value
    for key in ("suffix", "seed"):
        if getattr(m, key) is not None:
            body[key] = getattr(m, key)
    if m.integrations:
        body["integrations"] = [i.model_dump(exclude_none=True) for i in m.integrations]
    body["metadata"] = {**m.metadata, **tags(stack, d.name, d.spec)}
    return body
