"""What changed between a live job and its manifest, for the reviewer of a replace.

The decision to replace is made on the spec hash alone; this module only explains it. Both sides
are first reduced to their "essence": fields the user can set, in comparable form. The API reports
resolved values (``auto`` → 3, an alias → a snapshot, a random seed), so a field the manifest
leaves to the service is not compared; uploaded files are compared by the sha256 in their
ftctl upload name.
"""

from __future__ import annotations

import re
from typing import Any

from deepdiff import DeepDiff

from reconciler import catalog
from reconciler.api.models import LiveFile, LiveJob
from reconciler.identity import Desired, LocalFile, method_body, parse_upload_name
from reconciler.plan.model import Change


def _file_essence(file_id: str | None, files: dict[str, LiveFile]) -> str | None:
    if file_id is None:
        return None
    live = files.get(file_id)
    parsed = parse_upload_name(live.filename) if live else None
    return f"{parsed[1]} (sha256 {parsed[0][:12]})" if parsed else file_id


def _desired_file(value: LocalFile | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return f"{value.path.name} (sha256 {value.sha256[:12]})"


def essence(d: Desired) -> dict[str, Any]:
    m = d.loaded.manifest
    method = method_body(d.loaded, drop_auto=True)
    out: dict[str, Any] = {
        "model": catalog.resolve_model(m.model),
        "method": method,
        "training_file": _desired_file(d.files.get("training_file")),
        "validation_file": _desired_file(d.files.get("validation_file")),
        "suffix": m.suffix,
        "integrations": [i.model_dump(exclude_none=True) for i in m.integrations] or None,
    }
    if m.seed is not None:
        out["seed"] = m.seed
    return out


def live_essence(job: LiveJob, files: dict[str, LiveFile], like: dict[str, Any]) -> dict[str, Any]:
    """The live job in the shape of ``like`` (a desired essence), resolved values trimmed to it."""
    method = dict(job.method or {"type": "supervised"})
    kind = method.get("type", "supervised")
    inner = dict(method.get(kind) or {})
    wanted = like["method"].get(like["method"]["type"], {}).get("hyperparameters", {})
    live_hyper = dict(inner.get("hyperparameters") or job.hyperparameters or {})
    inner["hyperparameters"] = {k: v for k, v in live_hyper.items() if k in wanted}
    out: dict[str, Any] = {
        "model": job.model,
        "method": {"type": kind, kind: inner},
        "training_file": _file_essence(job.training_file, files),
        "validation_file": _file_essence(job.validation_file, files),
        # Not every server echoes these (OpenAI's job object has no suffix): the hash decides.
        "suffix": job.suffix if job.suffix is not None else like["suffix"],
        "integrations": like["integrations"],
    }
    if "seed" in like:
        out["seed"] = job.seed
    return out


def _path(deepdiff_path: str) -> str:
    parts = re.findall(r"\['([^']*)'\]|\[(\d+)\]", deepdiff_path)
    return ".".join(key or idx for key, idx in parts)


def changes(job: LiveJob, d: Desired, files: list[LiveFile]) -> list[Change]:
    after = essence(d)
    before = live_essence(job, {f.id: f for f in files}, after)
    diff = DeepDiff(before, after, verbose_level=2, ignore_numeric_type_changes=True)
    out: list[Change] = []
    for kind, entries in diff.items():
        for where, value in dict(entries).items():
            path = _path(where)
            if kind == "values_changed" or kind == "type_changes":
                out.append(Change(path=path, before=value.get("old_value"), after=value.get("new_value")))
            elif "added" in kind:
                out.append(Change(path=path, before=None, after=value))
            elif "removed" in kind:
                out.append(Change(path=path, before=value, after=None))
    if not out and job.spec != d.spec:
        out.append(Change(path="spec", before=job.spec, after=d.spec))
    return sorted(out, key=lambda c: c.path)
