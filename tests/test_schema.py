"""``ftctl schema``: JSON Schemas generated from the input models, valid, complete, and agreeing with
the models on the repository's own manifests and on typical mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.manifests.model import Manifest
from reconciler.session.config import Config
from reconciler.session.schemas import config_schema, manifest_schema
from tests.conftest import ROOT

MANIFEST_FILES = sorted([*ROOT.glob("manifests/*.yaml"), *ROOT.glob("examples/manifests/*.yaml")])
DOCUMENTS = {path.relative_to(ROOT).as_posix(): [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
             for path in MANIFEST_FILES}


def test_the_schemas_are_valid_and_name_every_field() -> None:
    for schema, model in ((manifest_schema(), Manifest), (config_schema(), Config)):
        jsonschema.Draft202012Validator.check_schema(schema)
        assert set(schema["properties"]) == set(model.model_fields)
        assert schema["additionalProperties"] is False


def test_the_repositorys_manifests_and_config_fit_their_schemas() -> None:
    assert "manifests/support-bot.yaml" in DOCUMENTS and "examples/manifests/azure.yaml" in DOCUMENTS
    assert [path for path, docs in DOCUMENTS.items() if not docs] == []  # every file was read, none skipped
    for doc in (doc for docs in DOCUMENTS.values() for doc in docs):
        jsonschema.validate(doc, manifest_schema())
    jsonschema.validate(yaml.safe_load((ROOT / "tests/cases/config/valid.yaml").read_text()), config_schema())


@pytest.mark.parametrize(("change", "where"), [
    ({"n_epoch": 3}, "Additional properties"),
    ({"state": "stopped"}, "'stopped' is not one of"),
    ({"method": {"type": "supervised", "hyperparameters": {"n_epochs": 0}}}, "n_epochs"),
    ({"method": {"type": "supervised", "hyperparameters": {"learning_rate_multiplier": 0}}}, ""),
    ({"seed": -1}, "-1"),
    ({"job_id": "job-1"}, "does not match"),
    ({"name": "Bad Name"}, "does not match"),
])
def test_typical_mistakes_are_refused_by_the_schema_as_by_the_model(change: dict[str, Any], where: str) -> None:
    doc = {"name": "bot", "model": "gpt-4o-mini", "training_file": "file-abc", **change}
    with pytest.raises(jsonschema.ValidationError) as caught:
        jsonschema.validate(doc, manifest_schema())
    assert where in str(caught.value)
    with pytest.raises(ValueError):
        Manifest.model_validate(doc)


def test_ftctl_schema_prints_them(tmp_path: Path) -> None:
    for args, expected in (([], manifest_schema()), (["--config"], config_schema())):
        done = subprocess.run([sys.executable, "-m", "reconciler", "schema", *args], cwd=tmp_path,
                              capture_output=True, text=True, check=True)
        assert json.loads(done.stdout) == expected


def _undescribed(node: Any, where: str = "#") -> list[str]:
    """Every property, at any depth of ``node`` (definitions included), that has no description."""
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in _undescribed(item, f"{where}/{i}")]
    if not isinstance(node, dict):
        return []
    found = [f"{where}/properties/{name}" for name, prop in node.get("properties", {}).items()
             if not (isinstance(prop, dict) and str(prop.get("description", "")).strip())]
    return found + [p for key, value in node.items() for p in _undescribed(value, f"{where}/{key}")]


def test_every_property_of_both_schemas_has_a_description_for_editors(tmp_path: Path) -> None:
    """Editors (yaml-language-server) show a property's description while typing: none is left out."""
    for args in ([], ["--config"]):
        done = subprocess.run([sys.executable, "-m", "reconciler", "schema", *args], cwd=tmp_path,
                              capture_output=True, text=True, check=True)
        schema = json.loads(done.stdout)
        assert len(schema["properties"]) >= 4 and (args or len(schema["$defs"]) >= 20)
        assert _undescribed(schema) == [], f"ftctl schema {' '.join(args)}: properties without a description"


def test_a_property_without_a_description_would_be_caught() -> None:
    schema = {"properties": {"a": {"description": "A."}}, "$defs": {"B": {"properties": {"c": {"type": "string"}}}}}
    assert _undescribed(schema) == ["#/$defs/B/properties/c"]
