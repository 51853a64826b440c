"""Manifests → desired state: strict models, a YAML reader with lines, and the loader."""

from reconciler.manifests.loaded import LoadedManifest
from reconciler.manifests.loader import load_all, load_manifests
from reconciler.manifests.model import Manifest
from reconciler.manifests.semantics import Known

__all__ = ["Known", "LoadedManifest", "Manifest", "load_all", "load_manifests"]
