"""Manifests on disk → validated ``LoadedManifest`` values, or every error of the run at once.

Steps: find ``*.yaml``/``*.yml`` files; read each document with line numbers
(``yamlsrc``); validate against the strict models (``model``), turning pydantic's errors into
``PATH:LINE: FIELD: message`` (``errors``); resolve local paths relative to the manifest, refusing
any that leave the project root; check meaning (``semantics``: models, methods, graders); refuse
duplicate names. Nothing here touches the network.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from reconciler.diagnostics import Diagnostic, FieldPath, InputError, display_path, dotted
from reconciler.manifests.errors import diagnostics_from_validation
from reconciler.manifests.graders import PythonGrader, walk
from reconciler.manifests.loaded import LoadedManifest
from reconciler.manifests.model import Manifest, is_file_id
from reconciler.manifests.pipelines import link
from reconciler.manifests.semantics import CATALOG_ONLY, Known, check, check_model
from reconciler.manifests.yamlsrc import Located, YamlError, load_documents
from reconciler.project import CONFIG_NAME, find_root

SUFFIXES = (".yaml", ".yml")
MAX_MANIFEST_BYTES = 2 * 1024 * 1024


SKIPPED_DIRS = {"node_modules", "venv", "site-packages", "__pycache__"}
"""Folders never searched for manifests, besides hidden ones (``.git``, ``.venv``, ``.github``…); hidden
files (``.gitlab-ci.yml``) are never read either."""


def _searched(path: Path, top: Path) -> bool:
    parts = path.relative_to(top).parts
    hidden = any(p.startswith(".") for p in parts)  # .github/, .venv/, and files such as .gitlab-ci.yml
    return not hidden and not any(p in SKIPPED_DIRS for p in parts[:-1]) and parts[-1] != CONFIG_NAME


def discover(paths: Iterable[Path]) -> tuple[dict[Path, Path], list[Diagnostic]]:
    """The manifest files under ``paths``, each with its real path (a file reached twice is read
    once): YAML files, not in hidden folders or virtual environments, and not the project config
    ``ftctl.yaml``."""
    files: list[Path] = []
    problems: list[Diagnostic] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file() and _searched(p, path))
            if not found:
                problems.append(Diagnostic(display_path(path), 0, "", "no manifest in this folder (*.yaml, *.yml)",
                                           "warning"))
            files.extend(found)
        elif path.is_file() and path.suffix not in SUFFIXES:
            problems.append(Diagnostic(display_path(path), 0, "", "not a manifest: manifests are .yaml or .yml files"))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Diagnostic(display_path(path), 0, "", "no such file or directory"))
    unique: dict[Path, Path] = {}
    seen: set[Path] = set()
    for f in files:
        real = f.resolve()
        if real not in seen:
            seen.add(real)
            unique[f] = real
    return unique, problems


def _check_local_file(raw: str, where: FieldPath, base: Path, root: Path, doc: Located, shown: str,
                      problems: list[Diagnostic]) -> Path | None:
    candidate = (base / raw).resolve()  # resolve() follows symlinks, so a link out is caught too
    line, fieldpath = doc.line_of(where), dotted(where)
    if not candidate.is_relative_to(root):
        problems.append(Diagnostic(shown, line, fieldpath, f"path {raw!r} leaves the project root {root}; refused"))
        return None
    if candidate.is_dir():
        problems.append(Diagnostic(shown, line, fieldpath, f"{raw!r} is a folder, not a file"))
        return None
    if not candidate.is_file():
        problems.append(Diagnostic(shown, line, fieldpath, f"file {raw!r} not found (looked for "
                                   f"{display_path(candidate)})"))
        return None
    # The path as written, not its target: retargeting a link later is a change of the file used.
    return Path(os.path.abspath(base / raw))


def _local_files(loaded: Manifest, doc: Located, source: Path, root: Path, shown: str,
                 problems: list[Diagnostic]) -> tuple[dict[FieldPath, Path], dict[FieldPath, str]]:
    """Resolved local files by field path, and the code of every python grader by grader path."""
    base = source.parent
    sources: dict[FieldPath, str] = {}
    wanted: list[tuple[FieldPath, str]] = []
    for key in ("training_file", "validation_file"):
        value = getattr(loaded, key)
        if value is not None and not is_file_id(value):
            wanted.append(((key,), value))
    if loaded.eval is not None:
        wanted.append((("eval", "file"), loaded.eval.file))
    for top, tree in loaded.grader_trees():
        for path, grader in walk(tree, top):
            if isinstance(grader, PythonGrader) and grader.source_file is not None:
                wanted.append(((*path, "source_file"), grader.source_file))
            elif isinstance(grader, PythonGrader) and grader.source is not None:
                sources[path] = grader.source
    out: dict[FieldPath, Path] = {}
    for where, raw in wanted:
        found = _check_local_file(raw, where, base, root, doc, shown, problems)
        if found is not None:
            if where[-1] == "source_file":
                try:
                    sources[where[:-1]] = found.read_text(encoding="utf-8")
                except (UnicodeDecodeError, OSError) as exc:
                    problems.append(Diagnostic(shown, doc.line_of(where), dotted(where),
                                               f"cannot read python source: {exc}"))
                    continue
            out[where] = found
    return out, sources


def _raw_model_check(doc: Located, shown: str, known: Known) -> list[Diagnostic]:
    """The model check on a manifest that failed validation, when its model and method can be read."""
    model, method = doc.data.get("model"), doc.data.get("method", {})
    kind = method.get("type", "supervised") if isinstance(method, dict) else None
    if not isinstance(model, str) or not model or kind not in ("supervised", "dpo", "reinforcement"):
        return []
    return list(check_model(model, str(kind), doc, shown, known))


def _foreign(data: dict[object, object]) -> str | None:
    """Why a document is some other tool's YAML (a compose file, a Kubernetes object), or None: it
    is then one error, not one per field."""
    keys = set(map(str, data))
    if keys & {"name", "model", "training_file", "method"}:
        return None  # a manifest, mistakes and all
    kind = data.get("kind")
    if isinstance(kind, str) and kind.lower() != "finetuningjob":
        return f"kind: {kind}"
    if not keys & set(Manifest.model_fields):
        return f"no field of a manifest; it has {', '.join(sorted(keys)[:4])}"
    return None


def _load_document(doc: Located, source: Path, real: Path, root: Path, shown: str, known: Known,
                   problems: list[Diagnostic]) -> LoadedManifest | None:
    foreign = _foreign(doc.data)
    if foreign is not None:
        problems.append(Diagnostic(shown, doc.line, "", f"not an ftctl manifest ({foreign}): every YAML file under "
                                   "the manifest paths is read; move it out of them, or name the paths to read "
                                   "(ftctl.yaml paths:, or the command's PATHS)"))
        return None
    try:
        manifest = Manifest.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(diagnostics_from_validation(exc, doc, shown))
        problems.extend(_raw_model_check(doc, shown, known))
        return None
    before = len(problems)
    files, sources = _local_files(manifest, doc, source, root, shown, problems)
    unreadable = any(p.severity == "error" for p in problems[before:])
    problems.extend(check(manifest, doc, shown, sources, files, known))  # a file's code is checked if read
    if unreadable:
        return None  # a local file missing or refused: there is no data to check
    # With errors of its own here, it is still given back: its data is checked in the same run, so that
    # all of a run's errors are reported together (the problems say that it is not valid).
    return LoadedManifest(manifest, real, doc.line, root, files, doc.lines, sources,
                          manifest.model if isinstance(manifest.model, str) else None)


def load_file(source: Path, root: Path | None = None,
              known: Known = CATALOG_ONLY) -> tuple[list[LoadedManifest], list[Diagnostic]]:
    return _load_file(source, source.resolve(), (root or find_root(source.parent)).resolve(), known)


def _load_file(source: Path, real: Path, root: Path, known: Known) -> tuple[list[LoadedManifest], list[Diagnostic]]:
    """``load_file`` with the real paths of the manifest and of its root already known."""
    shown = display_path(source)
    try:
        size = source.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            return [], [Diagnostic(shown, 0, "", f"{size} bytes is too large for a manifest; refused")]
        raw = source.read_bytes()
    except OSError as exc:
        return [], [Diagnostic(shown, 0, "", f"cannot read: {exc.strerror or exc}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return [], [Diagnostic(shown, line, "", f"not UTF-8 text: the byte at offset {exc.start:,} "
                                                f"(0x{raw[exc.start]:02x}) cannot be read; save the file as UTF-8")]
    out: list[LoadedManifest] = []
    problems: list[Diagnostic] = []
    documents = 0
    for doc in load_documents(text):
        documents += 1
        if isinstance(doc, YamlError):
            problems.append(Diagnostic(shown, doc.line, dotted(doc.path), doc.message))
            continue
        if not isinstance(doc.data, dict):
            problems.append(Diagnostic(shown, doc.line, "", "a manifest must be a mapping of fields"))
            continue
        try:
            found = _load_document(doc, source, real, root, shown, known, problems)
        except RecursionError:  # pydantic or a check on a document nested beyond reason
            problems.append(Diagnostic(shown, doc.line, "", "the document nests too deeply to be checked; refused"))
            continue
        if found is not None:
            out.append(found)
    if documents == 0:
        problems.append(Diagnostic(shown, 0, "", "no manifest in this file (it is empty or holds only comments)",
                                   "warning"))
    return out, problems


def load_all(paths: Iterable[Path], root: Path | None = None, known: Known = CATALOG_ONLY,
             context: list[LoadedManifest] | None = None) -> tuple[list[LoadedManifest], list[Diagnostic]]:
    """Every manifest under ``paths`` that could be read and whose files were found, and every
    problem found (errors and warnings): they are valid only when no problem is an error.
    ``context``: manifests of the project loaded apart, that pipeline references may name."""
    files, problems = discover(paths)
    loaded: list[LoadedManifest] = []
    roots: dict[Path, Path] = {}  # the real project root of each folder, looked for once
    for source, real in files.items():
        if source.parent not in roots:
            roots[source.parent] = (root or find_root(source.parent)).resolve()
        found, errs = _load_file(source, real, roots[source.parent], known)
        loaded.extend(found)
        problems.extend(errs)
    for key in ("name", "job_id"):  # a name, or an adopted job, belongs to one manifest
        first: dict[str, LoadedManifest] = {}
        for item in loaded:
            value = getattr(item.manifest, key)
            other = first.setdefault(value, item) if value is not None else item
            if other is not item:
                where, line = other.where((key,))
                shown, here = item.where((key,))
                message = (f"duplicate name {value!r} (also declared at {where}:{line})" if key == "name" else
                           f"{value} is already adopted by {other.name} ({where}:{line})")
                problems.append(Diagnostic(shown, here, key, message))
    loaded, linked = link(loaded, known, context)
    return loaded, problems + linked


def load_manifests(paths: Iterable[Path], root: Path | None = None,
                   known: Known = CATALOG_ONLY) -> list[LoadedManifest]:
    """Load and validate every manifest under ``paths``; raise ``InputError`` with all errors (and
    the warnings beside them) when there is one."""
    loaded, problems = load_all(paths, root, known)
    if any(p.severity == "error" for p in problems):
        raise InputError(problems)
    return loaded
