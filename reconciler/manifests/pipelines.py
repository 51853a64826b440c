"""Pipelines: manifests that take their model from another manifest of the stack (SPEC §10), linked
and checked once every manifest of the run is loaded.

``model: {from: NAME, checkpoint: …}`` must name a manifest of the stack (an unknown name is an error
at its line, with the closest name); the references may not loop (a cycle is one error naming every
manifest in it, in order, or a long one by its ends and its length); and a stage is held to what its
*root* base model — at the start of its chain — can be trained with: the model checks of a plain
manifest (catalog, provider, lifecycle dates) run on that root. Each stage learns its root
(``LoadedManifest.root_model``). Links are followed iteratively, so a chain of thousands of manifests
costs no recursion.
"""

from __future__ import annotations

import dataclasses
import difflib

from reconciler.diagnostics import Diagnostic, dotted
from reconciler.manifests.loaded import LoadedManifest
from reconciler.manifests.semantics import Known, check_model, training_dates
from reconciler.manifests.targets import mismatches, training_type_of
from reconciler.manifests.yamlsrc import Located

FROM = ("model", "from")


def link(loaded: list[LoadedManifest], known: Known,
         context: list[LoadedManifest] | None = None) -> tuple[list[LoadedManifest], list[Diagnostic]]:
    """Every manifest with its root model; the problems of the references. ``context``: the project's
    manifests not among the paths of this run (a stage given alone builds on them); references resolve
    against them too, but only ``loaded`` is checked and returned."""
    by_name = {m.name: m for m in context or []} | {m.name: m for m in loaded}
    problems: list[Diagnostic] = []
    for m in loaded:
        up = m.manifest.upstream
        if up is not None and up.name not in by_name:
            close = difflib.get_close_matches(up.name, sorted(set(by_name) - {m.name}), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            shown, line = m.where(FROM)
            problems.append(Diagnostic(shown, line, dotted(FROM), f"no manifest of the project is named "
                                                                  f"{up.name!r}{hint}"))
    roots, cycles = _roots(by_name)
    ours = {m.name for m in loaded}
    for cycle in (c for c in cycles if ours & set(c)):
        first = by_name[cycle[0]]
        first = first if first.name in ours else next(by_name[n] for n in cycle if n in ours)
        shown, line = first.where(FROM)
        problems.append(Diagnostic(shown, line, dotted(FROM), "the manifests take their models from each other in "
                                   f"a cycle: {_named(cycle)}; a chain must start at a base model"))
    out = []
    for m in loaded:
        if m.manifest.upstream is None:
            out.append(m)
            continue
        root = roots.get(m.name)
        out.append(dataclasses.replace(m, root_model=root))
        if root is not None:
            problems += _checks(m, root, known)
    return out, problems


SHOWN = 8
"""Members of a cycle named in its error; a longer one is named by its first and last members."""


def _named(cycle: list[str]) -> str:
    """``a → b → c → a``; a cycle of more than ``SHOWN`` manifests by its ends and how many it has, so that
    a cycle of a thousand is one short line."""
    if len(cycle) <= SHOWN:
        return " → ".join([*cycle, cycle[0]])
    half = SHOWN // 2
    return (f"{' → '.join(cycle[:half])} → … {len(cycle) - SHOWN:,} more … → {' → '.join(cycle[-half:])} → "
            f"{cycle[0]} ({len(cycle):,} manifests)")


def _roots(by_name: dict[str, LoadedManifest]) -> tuple[dict[str, str], list[list[str]]]:
    """The root base model of each manifest whose chain ends at one, and every cycle, once."""
    roots: dict[str, str] = {}
    cycles: list[list[str]] = []
    settled: set[str] = set()
    for start in sorted(by_name):
        path: list[str] = []
        seen: dict[str, int] = {}
        name: str | None = start
        root: str | None = None
        while name is not None and name in by_name and name not in settled:
            if name in seen:
                cycles.append(path[seen[name]:])
                break
            seen[name] = len(path)
            path.append(name)
            model = by_name[name].manifest.model
            if isinstance(model, str):
                root = model
                break
            name = model.name
        if root is None and name is not None and name in roots:
            root = roots[name]
        for member in path:
            settled.add(member)
            if root is not None:
                roots[member] = root
    return roots, cycles


def _checks(m: LoadedManifest, root: str, known: Known) -> list[Diagnostic]:
    """The model checks of a plain manifest, on a stage's root base model, at its ``model:`` line."""
    doc = Located(data=None, line=m.line, lines=m.lines)
    shown, _ = m.where()
    manifest = m.manifest
    out = list(check_model(root, manifest.method.type, doc, shown, known))
    if manifest.job_id is None and manifest.state != "cancelled":
        out += training_dates(root, doc, shown, known)
    if known.provider is not None:
        out += [Diagnostic(shown, doc.line_of(p.path), dotted(p.path), f"{p.message} (the root of {m.name}'s "
                           "pipeline)" if p.path == ("model",) else p.message)
                for p in mismatches(manifest, known.provider, known.training_type, known.extra_models, root)
                if p.path in (("model",), ("method", "type"))  # the rest was checked on the manifest itself
                or (p.path[:1] == ("provider_options",) and training_type_of(manifest, known.training_type))]
    return out
