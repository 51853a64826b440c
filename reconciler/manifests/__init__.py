"""Manifests → desired state: strict models, a YAML reader with lines, and the loader."""

from reconciler.manifests.loader import LoadedManifest, load_manifests
from reconciler.manifests.model import Manifest

__all__ = ["LoadedManifest", "Manifest", "load_manifests"]
