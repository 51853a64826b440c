"""``ftctl port --to PROVIDER``: manifest by manifest, whether it runs as it is on another target, what
must change there, and the dates that apply there (SPEC §12). Offline: nothing is read or sent.

The checks are the ones ``validate --provider`` and ``plan`` hold a manifest to on that target
(``manifests.targets``), plus the lifecycle table: a model whose training has ended there must
change, and each manifest is shown with the days its model stops training and stops being served
there, whatever how far off they are. A target that does not keep metadata is said to track jobs
another way (see ``providers``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler import catalog, lifecycle
from reconciler.diagnostics import dotted
from reconciler.manifests import Known, load_manifests
from reconciler.manifests.loaded import LoadedManifest
from reconciler.manifests.targets import mismatches
from reconciler.providers import Provider
from reconciler.session.settings import Settings


@dataclass
class Ported:
    name: str
    source: str
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    """What must change: (``path:line``, field, why)."""
    dates: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def as_is(self) -> bool:
        return not self.changes

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "runs_as_is": self.as_is,
                "changes": [{"where": w, "field": f, "message": m} for w, f, m in self.changes],
                "dates": self.dates, "notes": self.notes}


def port(paths: list[Path], settings: Settings, target: Provider) -> list[Ported]:
    loaded = load_manifests(paths, known=Known(settings.extra_models))
    return [_one(m, settings, target) for m in sorted(loaded, key=lambda m: m.name)]


def _one(loaded: LoadedManifest, settings: Settings, target: Provider) -> Ported:
    m = loaded.manifest
    shown, line = loaded.where()
    out = Ported(m.name, f"{shown}:{line}")
    for found in mismatches(m, target, settings.azure_training_type, settings.extra_models, loaded.model or None):
        where, at = loaded.where(found.path)
        out.changes.append((f"{where}:{at}", dotted(found.path), found.message))
    today = settings.clock.today()
    for verdict in lifecycle.training(settings.lifecycle, target.name, loaded.model, today):
        if verdict.level == "ended" and m.job_id is None:
            where, at = loaded.where(("model",))
            out.changes.append((f"{where}:{at}", "model", verdict.text(today)))
    out.dates = _dates(settings.lifecycle, target, loaded.model)
    if not target.keeps_metadata:
        out.notes.append(f"{target.label} keeps no metadata: ftctl finds its jobs by the name of their training "
                         "file, one upload per job (docs/providers.md says what that costs)")
    if m.method.type in target.method_notes:
        out.notes.append(target.method_notes[m.method.type])
    return out


def _dates(table: lifecycle.Table, target: Provider, model: str) -> list[str]:
    """The days that matter for ``model`` on ``target``, however far off."""
    dates = table.providers.get(target.name)
    if dates is None:
        return []
    base = catalog.base_of(model)
    out = []
    if dates.fine_tuning_ends is not None:
        out.append(f"{target.label} stops creating fine-tuning jobs on {dates.fine_tuning_ends.date} "
                   f"(source: {dates.fine_tuning_ends.source})")
    model_dates = dates.models.get(base)
    if model_dates is not None and model_dates.training_ends is not None:
        out.append(f"{target.label} stops fine-tuning {base} on {model_dates.training_ends.date} "
                   f"(source: {model_dates.training_ends.source})")
    if model_dates is not None and model_dates.serving_ends is not None:
        out.append(f"{target.label} stops serving fine-tuned {base} models on {model_dates.serving_ends.date} "
                   f"(source: {model_dates.serving_ends.source})")
    return out
