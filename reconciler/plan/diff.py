"""What changed between a live job and its manifest, field by field, for the reviewer.

The decision to create or replace is made on the spec hash alone; this module explains it. The API
reports resolved values (``auto`` → 3, an alias → its snapshot, a seed it picked) and not always
every field (OpenAI's job object has no suffix). So the request the live job was created from is
*reconstructed*: each hashed field takes the value the job reports, and where that value may stand
for something else (a number the service chose for ``auto``, a seed it picked, a field it does not
report) each reading is tried in turn. The reading whose hash equals the job's ``ftctl-spec`` tag
is the old request, and its difference from the new one is exact, field by field.

When no reading matches (a field the API does not report has changed), the fields that can be
compared are diffed and the unreported ones are listed as such: a bare spec hash is never the
only line. Mappings are compared key by key; where a list differs, deepdiff's tree view says which
items changed, with its path lists (never parsed from strings).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from reconciler.api.models import LiveJob
from reconciler.diagnostics import FieldPath
from reconciler.identity import Desired, FileRef, UploadIndex, parse_upload_name, spec_hash
from reconciler.identity.request import NOT_CHOSEN, review_view
from reconciler.manifests.model import HYPERPARAMETERS
from reconciler.plan.model import Change

MAX_READINGS = 4096


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""A value left out of the canonical request (a hyperparameter left to the service)."""
UNREPORTED = "not reported by the API"
UNLISTED = "its upload is no longer listed"
FILE_FIELDS = ("training_file", "validation_file")
FILE_PATHS = [(f,) for f in FILE_FIELDS]
Key = tuple[str, ...]
"""A field of the canonical request (mappings only, no list indexes)."""


def _strip(value: Any) -> Any:
    """Drop None values from mappings, recursively: the manifest side never holds them."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _numbers(value: Any) -> list[Any]:
    """A reported number in each form it may have been sent in (2 and 2.0 hash differently)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [value]
    if isinstance(value, float) and value.is_integer():
        return [value, int(value)]
    return [value, float(value)] if isinstance(value, int) else [value]


def _unique(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not any(v is o or (type(v) is type(o) and v == o) for o in out):
            out.append(v)
    return out


class _Readings:
    """The candidate values of each hashed field of the old request, live values first."""

    def __init__(self, job: LiveJob, new: dict[str, Any], uploads: UploadIndex) -> None:
        self.job, self.new, self.uploads = job, new, uploads
        self.options: list[tuple[Key, list[Any]]] = []
        self.unknown: dict[Key, str] = {}
        """Fields whose old value cannot be read off the job, and why."""
        reported = job.model_fields_set
        live = job.request
        # The API reports a snapshot; the hash has the name as written when the catalog does not know it.
        self.add(("model",), _unique([job.model, new["model"]]) if job.model else [new["model"]],
                 None if job.model else UNREPORTED)
        self.file(("training_file",), job.training_file, new["training_file"], "training_file" in reported)
        self.file(("validation_file",), job.validation_file, new["validation_file"], "validation_file" in reported)
        self.method()
        if "suffix" in live.reported:
            self.add(("suffix",), [live.suffix])
        else:
            self.add(("suffix",), _unique([new["suffix"], None]), UNREPORTED)
        if "seed" in live.reported and live.seed is not None:  # None: the service picked this seed
            self.add(("seed",), [live.seed, None] if new["seed"] is not None else [None, live.seed])
        else:
            self.add(("seed",), [new["seed"]], UNREPORTED)
        if "integrations" in live.reported:
            self.add(("integrations",), [_strip(live.integrations) or None])
        else:
            self.add(("integrations",), [new["integrations"]], UNREPORTED)
        # No service reports these back: assumed unchanged (the hash decides).
        self.add(("provider_options",), [new.get("provider_options", ABSENT)], UNREPORTED)

    def add(self, path: Key, values: list[Any], unknown: str | None = None) -> None:
        self.options.append((path, values))
        if unknown is not None:
            self.unknown[path] = unknown

    def file(self, path: Key, file_id: str | None, new: Any, reported: bool) -> None:
        if not reported:
            self.add(path, [new], UNREPORTED)
        elif file_id is None or new == {"file_id": file_id}:  # the same ID as the manifest: known
            self.add(path, [None if file_id is None else new])
        elif (live := self.uploads.get(file_id)) is None:  # deleted since: its bytes cannot be known
            self.add(path, _unique([new, {"file_id": file_id}]), UNLISTED)
        else:
            parsed = parse_upload_name(live.filename)
            self.add(path, [{"sha256": parsed[0]}, {"file_id": file_id}] if parsed else [{"file_id": file_id}])

    def method(self) -> None:
        request = self.job.request
        new_method = self.new["method"]
        if request.method_type is None:
            self.add(("method", "type"), [new_method["type"]], UNREPORTED)
        else:
            self.add(("method", "type"), [request.method_type])
        kind = request.method_type or new_method["type"]
        hyper = request.hyperparameters
        wanted = new_method[kind].get("hyperparameters", {}) if new_method["type"] == kind else {}
        model = HYPERPARAMETERS.get(kind)
        for key in sorted(model.model_fields if model is not None else hyper):
            path: Key = ("method", kind, "hyperparameters", key)
            live = hyper.get(key)
            if key not in hyper:
                self.add(path, _unique([wanted.get(key, ABSENT), ABSENT]), UNREPORTED)
            elif live is None or (isinstance(live, str) and live in NOT_CHOSEN):
                self.add(path, [ABSENT])
            else:  # a value, chosen by the manifest or by the service for "auto": the manifest's way first
                if key in wanted:
                    first = [wanted[key]] if wanted[key] == live else []
                    self.add(path, _unique([*first, *_numbers(live), ABSENT]))
                else:
                    self.add(path, _unique([ABSENT, *_numbers(live)]))
        if kind == "reinforcement":
            grader = request.grader
            if grader is not None:
                self.add(("method", kind, "grader"), [_strip(grader)])
            else:
                same = new_method["type"] == kind
                self.add(("method", kind, "grader"), [new_method[kind].get("grader") if same else None],
                         UNREPORTED)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        paths = [p for p, _ in self.options]
        for combo in itertools.islice(itertools.product(*(v for _, v in self.options)), MAX_READINGS):
            yield build(paths, combo)


def build(paths: list[Key], values: tuple[Any, ...] | list[Any]) -> dict[str, Any]:
    """A canonical request from (path, value) pairs; ABSENT values are left out."""
    out: dict[str, Any] = {}
    for path, value in zip(paths, values, strict=True):
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        if value is not ABSENT:
            node[path[-1]] = value
    method = out["method"]
    method.setdefault(method["type"], {}).setdefault("hyperparameters", {})
    return out


def reconstruct(job: LiveJob, new: dict[str, Any], uploads: UploadIndex) -> tuple[dict[str, Any] | None, _Readings]:
    """The canonical request ``job`` was created from, if one reading of its fields hashes to its tag."""
    readings = _Readings(job, new, uploads)
    for candidate in readings:
        if spec_hash(candidate) == job.spec:
            return candidate, readings
    return None, readings


def changes(job: LiveJob, desired: Desired, uploads: UploadIndex) -> list[Change]:
    new = desired.request.hashed()
    old, readings = reconstruct(job, new, uploads)
    notes: dict[FieldPath, str] = {}
    if old is None:  # a field that cannot be read off the job changed: list every such field
        old = _comparable(readings, new)
        notes = {_review_path(path): why for path, why in readings.unknown.items() if _get(new, path) is not ABSENT}
    out = _diff(review_view(old), review_view(new), desired, uploads)
    listed = {c.path for c in out}
    for where, note in sorted(notes.items(), key=lambda item: str(item[0])):
        if where not in listed:
            after = _shown(where, _get(review_view(new), where), desired, uploads)
            out.append(Change(path=where, before=None, after=after, note=note))
    if not out:
        out.append(Change(path=("spec",), before=job.spec, after=desired.spec,
                          note="no field the API reports differs; the change is in one it does not report"))
    return sorted(out, key=lambda c: c.dotted)


def _comparable(readings: _Readings, new: dict[str, Any]) -> dict[str, Any]:
    """The live job as far as it can be compared: a field that is unreported, or that has a reading
    equal to the manifest's value, takes the manifest's value (no difference is claimed for it)."""
    paths, values = [], []
    for path, options in readings.options:
        want = _get(new, path)
        unknown = path in readings.unknown or any(o is want or (o is not ABSENT and o == want) for o in options)
        paths.append(path)
        values.append(want if unknown else options[0])
    return build(paths, values)


def _get(data: Any, path: FieldPath) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return ABSENT
        data = data[part]
    return data


def _review_path(path: FieldPath) -> FieldPath:
    """A canonical path in the review shape: ``method.T.hyperparameters`` → ``method.hyperparameters``."""
    return (path[0], *path[2:]) if len(path) > 2 and path[0] == "method" else path


def _differing(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both mappings without the entries they share, at every level (deepdiff is slow on big inputs)."""
    a, b = {}, {}
    for key in {**old, **new}:
        x, y = old.get(key, ABSENT), new.get(key, ABSENT)
        if _same(x, y):
            continue
        if isinstance(x, dict) and isinstance(y, dict) and key not in FILE_FIELDS:
            x, y = _differing(x, y)
        if x is not ABSENT:
            a[key] = x
        if y is not ABSENT:
            b[key] = y
    return a, b


def _same(x: Any, y: Any) -> bool:
    """Equal as the hash sees them: 2 and 2.0 differ, and True and 1 (they hash differently); key
    order does not."""
    if type(x) is not type(y):
        return False
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(_same(v, y[k]) for k, v in x.items())
    if isinstance(x, list):
        return len(x) == len(y) and all(_same(a, b) for a, b in zip(x, y, strict=True))
    return bool(x is y or x == y)


def _diff(old: dict[str, Any], new: dict[str, Any], desired: Desired, uploads: UploadIndex) -> list[Change]:
    a, b = _differing(old, new)
    out: dict[FieldPath, Change] = {}
    for where, before, after in (_listed(a, b, old, new) if _has_list(a) or _has_list(b) else _leaves((), a, b)):
        out.setdefault(where, Change(path=where, before=_shown(where, before, desired, uploads),
                                     after=_shown(where, after, desired, uploads)))
    return list(out.values())


def _listed(a: dict[str, Any], b: dict[str, Any], old: dict[str, Any],
            new: dict[str, Any]) -> Iterator[tuple[FieldPath, Any, Any]]:
    """The changes where a list differs: deepdiff's tree says which items (added, removed, changed)."""
    from deepdiff import DeepDiff  # imported by the plans that change a list, not by every start-up
    from deepdiff.helper import NotPresent

    def value(v: Any) -> Any:
        return ABSENT if isinstance(v, NotPresent) else v

    tree = DeepDiff(a, b, view="tree", threshold_to_diff_deeper=0)  # key by key, always
    for report in tree.values():
        for level in report:
            path: FieldPath = tuple(level.path(output_format="list"))
            if path and path[0] in FILE_FIELDS:
                yield path[:1], _get(old, path[:1]), _get(new, path[:1])  # a file is one value: bytes or ID
            else:
                yield from _leaves(path, value(level.t1), value(level.t2))


def _has_list(data: Any) -> bool:
    return isinstance(data, list) or (isinstance(data, dict) and any(_has_list(v) for v in data.values()))


def _leaves(path: FieldPath, before: Any, after: Any) -> Iterator[tuple[FieldPath, Any, Any]]:
    """One change per key where both sides are mappings (deepdiff reports ``{}`` → ``{a: 1, b: 2}``
    as one change of the whole mapping); a file is one value, its bytes or its ID."""
    if isinstance(before, dict) and isinstance(after, dict) and path[:1] not in FILE_PATHS:
        for key in {**before, **after}:
            x, y = before.get(key, ABSENT), after.get(key, ABSENT)
            if not _same(x, y):
                yield from _leaves((*path, key), x, y)
    else:
        yield path, before, after


def _shown(path: FieldPath, value: Any, desired: Desired, uploads: UploadIndex) -> Any:
    """A value as the reviewer reads it: files by name, size and digest; ``auto`` for a value left out."""
    if value is ABSENT:
        if len(path) >= 3 and path[:2] == ("method", "hyperparameters"):
            return "default" if path[-1] == "reasoning_effort" else "auto"
        return None
    if path and path[0] in FILE_FIELDS and isinstance(value, dict):
        if "file_id" in value:
            return value["file_id"]
        ref = next((f for f in desired.request.local_files() if f.sha256 == value["sha256"]), None)
        if ref is not None:
            return ref.display()
        live = next(iter(uploads.copies(value["sha256"])), None)
        parsed = parse_upload_name(live.filename) if live is not None else None
        return FileRef(sha256=value["sha256"], path=parsed[1] if parsed else None,
                       bytes=live.bytes if live is not None else None).display()
    return value
