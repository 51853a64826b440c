"""JSON Schemas generated from the models that validate input, for editors (yaml-language-server)
and other tools. The models stay the source of truth: ``ftctl validate`` checks more than a schema
can say (files, data, graders, the catalog), so a schema is a help while typing, not the check."""

from __future__ import annotations

from typing import Any

from reconciler import __version__
from reconciler.manifests.model import Manifest
from reconciler.session.config import Config

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _schema(model: type[Manifest] | type[Config], title: str, description: str) -> dict[str, Any]:
    body = model.model_json_schema(mode="validation")
    return {"$schema": DRAFT, "title": title, "description": description, **{k: v for k, v in body.items()
                                                                             if k not in ("title", "description")}}


def manifest_schema() -> dict[str, Any]:
    return _schema(Manifest, "ftctl manifest", f"One fine-tuning job, as ftctl {__version__} reads it (one per "
                   "YAML document). `ftctl validate` checks the rest: files, data, graders and models.")


def config_schema() -> dict[str, Any]:
    return _schema(Config, "ftctl.yaml", f"The project config of ftctl {__version__}: stack, paths, target and "
                   "limits. Keys are never kept here: they come from the environment.")
