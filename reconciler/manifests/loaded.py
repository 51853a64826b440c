"""``LoadedManifest``: a validated manifest with where it came from — its file and lines, its local files,
its python graders' code, and (for a pipeline stage) the base model its chain starts at."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reconciler.diagnostics import FieldPath, display_path
from reconciler.manifests.model import Manifest
from reconciler.manifests.yamlsrc import Path_


@dataclass(frozen=True)
class LoadedManifest:
    """A manifest and where it came from; ``local_files`` maps field paths (``("training_file",)``,
    ``(…, "source_file")``) to files."""

    manifest: Manifest
    source: Path
    line: int
    root: Path
    local_files: dict[FieldPath, Path] = field(default_factory=dict)
    lines: dict[Path_, int] = field(default_factory=dict, repr=False, compare=False)
    python_sources: dict[FieldPath, str] = field(default_factory=dict)
    """Code of every python grader (inline or read from ``source_file`` at load), by grader path."""
    root_model: str | None = None
    """The base model the job trains, through every ``model: {from: …}`` of a pipeline (None: the chain
    does not end, or ends at a name no manifest declares)."""

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def model(self) -> str:
        """The model name to judge the manifest by: its own, or its pipeline's root base model."""
        model = self.manifest.model
        return model if isinstance(model, str) else (self.root_model or "")

    def where(self, path: Path_ = ()) -> tuple[str, int]:
        for cut in range(len(path), -1, -1):
            if tuple(path[:cut]) in self.lines:
                return display_path(self.source), self.lines[tuple(path[:cut])]
        return display_path(self.source), self.line
