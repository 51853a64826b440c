"""Every manifest field is hashed or deliberately excluded; every hashed field, changed alone,
changes the spec hash and shows up as a field change in the plan.

Nothing here is a hand-picked list of fields. The fields come from the manifest models: every
field of every model reachable from ``Manifest`` must be set somewhere in ``cases/fields/`` (so a
field added to a model fails this test until an example sets it), and each value written there is
changed in turn — scalars by type, choices to another allowed choice, files by rewriting their
bytes. Only a value with no valid alternative (a single-valued ``type`` tag) is left unchanged.
"""

from __future__ import annotations

import shutil
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from reconciler import catalog
from reconciler.diagnostics import InputError
from reconciler.identity import Desired, build, tags
from reconciler.identity.request import EXCLUDED_FIELDS, HASHED_FIELDS, CreateRequest
from reconciler.manifests import load_manifests
from reconciler.manifests.model import Manifest
from reconciler.plan.model import Change, CreateAction, ReplaceAction
from reconciler.plan.planner import plan
from tests.fakes import FakeApi

CASES = Path(__file__).parent / "cases" / "fields"
FILE_FIELDS = {"training_file", "validation_file", "source_file"}
Path_ = tuple[str | int, ...]


# -- the models' fields ------------------------------------------------------------------------
def _concrete(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _concrete(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType, list, dict):
        return [c for arg in typing.get_args(tp) for c in _concrete(arg)]
    return [tp]


def model_fields(root: type[BaseModel] = Manifest) -> set[tuple[str, str]]:
    """(model, field) for every field of every model reachable from ``root``."""
    seen: set[type[BaseModel]] = set()
    out: set[tuple[str, str]] = set()
    todo: list[type[BaseModel]] = [root]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            out.add((model.__name__, name))
            todo += [c for c in _concrete(info.annotation) if isinstance(c, type) and issubclass(c, BaseModel)]
    return out


def set_fields(value: Any) -> Iterator[tuple[str, str]]:
    """(model, field) for every field given a value in a validated manifest."""
    if isinstance(value, BaseModel):
        for name in value.model_fields_set:
            yield type(value).__name__, name
            yield from set_fields(getattr(value, name))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from set_fields(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from set_fields(item)


def _literals(tp: Any) -> list[Any]:
    if typing.get_origin(tp) is typing.Literal:
        return list(typing.get_args(tp))
    if typing.get_origin(tp) in (typing.Annotated, typing.Union, types.UnionType):
        args = typing.get_args(tp)[:1] if typing.get_origin(tp) is typing.Annotated else typing.get_args(tp)
        return [v for arg in args for v in _literals(arg)]
    return []


def annotation_at(manifest: Manifest, path: Path_) -> Any:
    """The annotation of the field a document path ends on (None inside free mappings and lists)."""
    node: Any = manifest
    annotation = None
    for part in path:
        if isinstance(node, BaseModel) and isinstance(part, str):
            annotation = type(node).model_fields[part].annotation
            node = getattr(node, part)
        elif isinstance(node, dict | list):
            node, annotation = node[part] if isinstance(node, dict) else node[int(part)], None
    return annotation


# -- changing one value ---------------------------------------------------------------------
def leaves(doc: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from leaves(value, (*path, key))
    elif isinstance(doc, list):
        if doc and all(not isinstance(v, dict | list) for v in doc):
            yield path, doc  # a list of scalars is changed as a whole too
        for i, value in enumerate(doc):
            yield from leaves(value, (*path, i))
    else:
        yield path, doc


def alternatives(path: Path_, value: Any, annotation: Any) -> list[Any]:
    out: list[Any] = [v for v in _literals(annotation) if v != value and v != "auto"]
    last = path[-1]
    if last == "model":
        out.append(f"ft:{catalog.resolve_model(value)}:acme::abc123")  # a model fine-tuned from the same base
    if last == "calculate_output":
        out.append(f"{value} + 0")
    if isinstance(value, list):
        out += [[*value, "extra"], value[:-1]]
    elif isinstance(value, bool):
        out.append(not value)
    elif isinstance(value, int):
        out += [value + 1, value - 1]
    elif isinstance(value, float):
        out += [value / 2, value + 0.1]
    elif value == "auto":
        out += [1, 0.5]
    elif isinstance(value, str) and "\n" in value:
        out.append(f"{value}# v2\n")  # code: a change that still compiles
    elif isinstance(value, str) and value.startswith("file-"):
        out.append(f"{value}0")  # another uploaded file
    elif isinstance(value, str):
        out.append(f"{value} v2")
    return out


def _set(doc: Any, path: Path_, value: Any) -> Any:
    doc = yaml.safe_load(yaml.safe_dump(doc))  # a deep copy
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


def _load(root: Path, file: str) -> Desired:
    (loaded,) = load_manifests([root / file], root=root)
    return build(loaded, root)


def _first_valid(workspace: Path, doc: Any, path: Path_, candidates: list[Any]) -> tuple[Any, Desired] | None:
    """The first candidate value at ``path`` with which the manifest validates, and that manifest; or None."""
    changed = workspace / "changed.yaml"
    try:
        for candidate in candidates:
            changed.write_text(yaml.safe_dump(_set(doc, path, candidate)))
            try:
                return candidate, _load(workspace, "changed.yaml")
            except InputError:
                continue
        return None
    finally:
        changed.unlink(missing_ok=True)


UNREPORTED = {"provider_options"}
"""Fields no API echoes (sent to Azure only): the plan can say only that the field changed, as a whole."""


def _expected_path(path: Path_, old: Any = None, new: Any = None) -> Path_:
    """Exactly where a change of the document at ``path`` (from ``old`` to ``new``) shows in the plan:
    the request's shape, and a list of scalars changed as a whole at its first item that differs."""
    if path[-1] == "source_file":
        return (*path[:-1], "source")  # the grader's code, inlined
    if path[0] in FILE_FIELDS or path[0] in UNREPORTED:
        return path[:1]
    if isinstance(old, list) and isinstance(new, list):
        return (*path, next(i for i in range(len(old) + 1) if old[i:i + 1] != new[i:i + 1]))
    return path


def _plan_changes(base: Desired, changed: Desired) -> list[Change]:
    """The field changes of a plan for ``changed`` against a job created from ``base`` (fake API)."""
    api = FakeApi()
    ids = {}
    for f in base.request.local_files():
        file_id = f"file-{f.sha256[:8] if f.sha256 else 'x'}"
        api.files[file_id] = {"id": file_id, "filename": f"ftctl-{f.sha256}-{Path(f.path or 'f').name}",
                              "bytes": f.bytes, "purpose": "fine-tune"}
        ids[f.sha256 or ""] = file_id
    job = api.create_job(base.request.body(tags("default", base.name, base.spec), ids), "key")
    result = plan([changed], [job], api.list_files, "default")
    (action,) = [a for a in result.actions if isinstance(a, CreateAction | ReplaceAction)]
    return action.changes


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copytree(CASES, tmp_path / "ws")
    return tmp_path / "ws"


# -- the tests --------------------------------------------------------------------------------
def test_every_manifest_field_is_hashed_or_deliberately_excluded() -> None:
    fields = set(Manifest.model_fields)
    assert fields == set(HASHED_FIELDS) | set(EXCLUDED_FIELDS), "classify the new field in identity/request.py"
    assert not set(HASHED_FIELDS) & set(EXCLUDED_FIELDS)
    # metadata: user tags; upstream: a pipeline stage's source, in words, until the model it names is known
    assert set(CreateRequest.model_fields) - {"metadata", "upstream"} == set(HASHED_FIELDS)
    base = _load(CASES, "supervised.yaml")
    assert set(base.request.hashed()) == set(HASHED_FIELDS)


def test_the_examples_set_every_field_of_every_model() -> None:
    wanted = {(m, f) for m, f in model_fields() if not (m == "Manifest" and f in EXCLUDED_FIELDS)}
    seen = {pair for loaded in load_manifests([CASES], root=CASES) for pair in set_fields(loaded.manifest)}
    missing = sorted(wanted - seen)
    assert not missing, f"set these fields in tests/cases/fields/: {missing}"


MANIFESTS = ["supervised.yaml", "dpo.yaml", "rft.yaml"]


@pytest.mark.parametrize("file", MANIFESTS)
def test_each_hashed_value_changed_alone_changes_the_hash_and_shows_in_the_plan(workspace: Path, file: str) -> None:
    base = _load(workspace, file)
    (loaded,) = load_manifests([workspace / file], root=workspace)
    doc = yaml.safe_load((workspace / file).read_text())
    changed_paths, unchangeable = [], []
    for path, value in leaves(doc):
        if path[0] in EXCLUDED_FIELDS:
            continue
        new_value: Any = None  # a file's bytes change, not the value naming it
        if path[-1] in FILE_FIELDS and isinstance(value, str) and not value.startswith("file-"):
            target = workspace / value
            original = target.read_bytes()
            target.write_bytes(original + (b"\n# changed\n" if target.suffix == ".py" else original[-200:]))
            try:
                changed = _load(workspace, file)
            finally:
                target.write_bytes(original)
        else:
            found = _first_valid(workspace, doc, path, alternatives(path, value, annotation_at(loaded.manifest, path)))
            if found is None:
                # A whole list is an extra change (its items are changed too); an item bound by a rule
                # across the list (passing_labels ⊆ labels) counts as changed when its list could be.
                if not isinstance(value, list) and path[:-1] not in changed_paths:
                    unchangeable.append(path)
                continue
            new_value, changed = found
        assert changed.spec != base.spec, f"changing {path} left the spec hash unchanged"
        expected = _expected_path(path, value, new_value)
        shown = _plan_changes(base, changed)
        assert expected in [c.path for c in shown], f"changing {path} shows as {[c.dotted for c in shown]}"
        assert all(c.path != ("spec",) for c in shown), "a bare spec hash is never the only change shown"
        changed_paths.append(path)
    # Only single-valued tags cannot change (another method or grader type is another shape).
    for path in unchangeable:
        assert len(_literals(annotation_at(loaded.manifest, path))) == 1, f"no valid change found for {path}"
    assert changed_paths


def test_a_change_of_method_type_shows_as_such(workspace: Path) -> None:
    base = _load(workspace, "supervised.yaml")
    text = (workspace / "supervised.yaml").read_text().replace("type: supervised", "type: dpo")
    (workspace / "supervised.yaml").write_text(text)
    changed = _load(workspace, "supervised.yaml")
    assert changed.spec != base.spec
    assert ("method", "type") in {c.path for c in _plan_changes(base, changed)}


@pytest.mark.parametrize(("path", "value"), [
    (("metadata", "team"), "other"), (("state",), "paused"), (("name",), "renamed"), (("job_id",), "ftjob-abc"),
])
def test_excluded_fields_leave_the_hash_alone(workspace: Path, path: Path_, value: Any) -> None:
    base = _load(workspace, "supervised.yaml")
    doc = yaml.safe_load((workspace / "supervised.yaml").read_text())
    (workspace / "supervised.yaml").write_text(yaml.safe_dump(_set(doc, path, value)))
    assert _load(workspace, "supervised.yaml").spec == base.spec
