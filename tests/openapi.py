"""Validate response bodies against shared/openai-spec/openapi-fine-tuning.yaml, or for the Azure
flavour against Azure's published v1 description (tests/azure-openai-spec/).

The files are OpenAPI 3.0-flavoured; before using a JSON Schema 2020-12 validator we normalise the
quirks their READMEs list: ``nullable``, boolean ``exclusiveMinimum``, the closed
``FineTuningJob.status`` enum (``paused``, and on Azure ``pending``, ``pausing``, ``resuming``,
exist in practice) and ``GraderMulti.graders`` typed as one grader (the API takes a mapping).
"""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT

SPEC = ROOT.parent / "shared" / "openai-spec" / "openapi-fine-tuning.yaml"
AZURE_SPEC = ROOT / "tests" / "azure-openai-spec" / "azure-openai-v1-fine-tuning.yaml"

ROUTES: list[tuple[str, str, str]] = [
    ("POST", r"/v1/files", "OpenAIFile"),
    ("GET", r"/v1/files", "ListFilesResponse"),
    ("GET", r"/v1/files/[^/]+", "OpenAIFile"),
    ("DELETE", r"/v1/files/[^/]+", "DeleteFileResponse"),
    ("POST", r"/v1/uploads", "Upload"),
    ("POST", r"/v1/uploads/[^/]+/parts", "UploadPart"),
    ("POST", r"/v1/uploads/[^/]+/(complete|cancel)", "Upload"),
    ("POST", r"/v1/fine_tuning/jobs", "FineTuningJob"),
    ("GET", r"/v1/fine_tuning/jobs", "ListPaginatedFineTuningJobsResponse"),
    ("GET", r"/v1/fine_tuning/jobs/[^/]+", "FineTuningJob"),
    ("POST", r"/v1/fine_tuning/jobs/[^/]+/(cancel|pause|resume)", "FineTuningJob"),
    ("GET", r"/v1/fine_tuning/jobs/[^/]+/events", "ListFineTuningJobEventsResponse"),
    ("GET", r"/v1/fine_tuning/jobs/[^/]+/checkpoints", "ListFineTuningJobCheckpointsResponse"),
]

AZURE_ROUTES: list[tuple[str, str, str]] = [
    ("POST", r"/openai/v1/files", "AzureOpenAIFile"),
    ("GET", r"/openai/v1/files", "AzureListFilesResponse"),
    ("GET", r"/openai/v1/files/[^/]+", "AzureOpenAIFile"),
    ("DELETE", r"/openai/v1/files/[^/]+", "OpenAI.DeleteFileResponse"),
    ("POST", r"/openai/v1/fine_tuning/jobs", "OpenAI.FineTuningJob"),
    ("GET", r"/openai/v1/fine_tuning/jobs", "OpenAI.ListPaginatedFineTuningJobsResponse"),
    ("GET", r"/openai/v1/fine_tuning/jobs/[^/]+", "OpenAI.FineTuningJob"),
    ("POST", r"/openai/v1/fine_tuning/jobs/[^/]+/(cancel|pause|resume)", "OpenAI.FineTuningJob"),
    ("GET", r"/openai/v1/fine_tuning/jobs/[^/]+/events", "OpenAI.ListFineTuningJobEventsResponse"),
    ("GET", r"/openai/v1/fine_tuning/jobs/[^/]+/checkpoints", "OpenAI.ListFineTuningJobCheckpointsResponse"),
]

ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message", "type", "param", "code"],
                             "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                                            "param": {"type": ["string", "null"]},
                                            "code": {"type": ["string", "null"]}}}},
}


def _normalise(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _normalise(v) for k, v in node.items()}
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        if node.get("exclusiveMinimum") is True:
            node["exclusiveMinimum"] = node.pop("minimum", 0)
        return node
    if isinstance(node, list):
        return [_normalise(v) for v in node]
    return node


def spec_available() -> bool:
    return SPEC.is_file()


@cache
def _schemas(flavor: str = "openai") -> dict[str, Any]:
    path = SPEC if flavor == "openai" else AZURE_SPEC
    if not path.is_file():
        pytest.skip(f"OpenAPI file not found at {path}: response shapes not checked")
    doc = yaml.safe_load(path.read_text())
    schemas = copy.deepcopy(doc["components"]["schemas"])
    prefix = "" if flavor == "openai" else "OpenAI."
    schemas[f"{prefix}FineTuningJob"]["properties"]["status"].pop("enum")
    multi = schemas[f"{prefix}GraderMulti"]["properties"]["graders"]
    schemas[f"{prefix}GraderMulti"]["properties"]["graders"] = {"type": "object", "additionalProperties": multi}
    return {"components": {"schemas": _normalise(schemas)}}


def schema_for(method: str, path: str, flavor: str = "openai") -> str | None:
    for m, pattern, name in ROUTES if flavor == "openai" else AZURE_ROUTES:
        if m == method and re.fullmatch(pattern, path):
            return name
    return None


def validate_response(method: str, path: str, status: int, body: Any, flavor: str = "openai") -> str:
    """Validate ``body``; return the schema name used. Raises on a mismatch."""
    root = _schemas(flavor)
    if status >= 400:
        if flavor == "openai":
            jsonschema.validate(body, ERROR_SCHEMA)
        else:
            jsonschema.validate(body, {**root, "$ref": "#/components/schemas/AzureErrorResponse"},
                                cls=jsonschema.Draft202012Validator)
        return "Error"
    name = schema_for(method, path, flavor)
    assert name is not None, f"no schema known for {method} {path}"
    schema = {**root, "$ref": f"#/components/schemas/{name}"}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
    return name
