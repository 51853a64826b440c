"""Validate response bodies against OpenAI's published description (tests/openai-spec/: one extract for
fine-tuning, files and uploads, one for chat completions and embeddings), or for the Azure flavour
against Azure's published v1 description (tests/azure-openai-spec/): copies kept in the repository,
so that a fresh clone checks them; a missing one fails the tests that use it.

The files are OpenAPI 3.0-flavoured; before using a JSON Schema 2020-12 validator we normalise the
quirks their READMEs list (``tests/openapi_normalise.py``, which the fuzzer's description shares).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import yaml

from tests.openapi_normalise import normalise, normalise_node

ROOT = Path(__file__).resolve().parent.parent

SPEC = ROOT / "tests" / "openai-spec" / "openapi-fine-tuning.yaml"
CHAT_SPEC = ROOT / "tests" / "openai-spec" / "openapi-chat-embeddings.yaml"
AZURE_SPEC = ROOT / "tests" / "azure-openai-spec" / "azure-openai-v1-fine-tuning.yaml"
PREFIXES = {"openai": "/v1", "azure": "/openai/v1"}

ROUTES: list[tuple[str, str, str, str | None]] = [
    # method, path after the flavour's prefix, OpenAI's schema, Azure's (None: Azure has no such route)
    ("POST", r"/files", "OpenAIFile", "AzureOpenAIFile"),
    ("GET", r"/files", "ListFilesResponse", "AzureListFilesResponse"),
    ("GET", r"/files/[^/]+", "OpenAIFile", "AzureOpenAIFile"),
    ("DELETE", r"/files/[^/]+", "DeleteFileResponse", "OpenAI.DeleteFileResponse"),
    ("POST", r"/uploads", "Upload", None),
    ("POST", r"/uploads/[^/]+/parts", "UploadPart", None),
    ("POST", r"/uploads/[^/]+/(complete|cancel)", "Upload", None),
    ("POST", r"/fine_tuning/jobs", "FineTuningJob", "OpenAI.FineTuningJob"),
    ("GET", r"/fine_tuning/jobs", "ListPaginatedFineTuningJobsResponse", "OpenAI.ListPaginatedFineTuningJobsResponse"),
    ("GET", r"/fine_tuning/jobs/[^/]+", "FineTuningJob", "OpenAI.FineTuningJob"),
    ("POST", r"/fine_tuning/jobs/[^/]+/(cancel|pause|resume)", "FineTuningJob", "OpenAI.FineTuningJob"),
    ("GET", r"/fine_tuning/jobs/[^/]+/events", "ListFineTuningJobEventsResponse",
     "OpenAI.ListFineTuningJobEventsResponse"),
    ("GET", r"/fine_tuning/jobs/[^/]+/checkpoints", "ListFineTuningJobCheckpointsResponse",
     "OpenAI.ListFineTuningJobCheckpointsResponse"),
    ("POST", r"/chat/completions", "CreateChatCompletionResponse", None),  # from CHAT_SPEC
    ("POST", r"/embeddings", "CreateEmbeddingResponse", None),
]

ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message", "type", "param", "code"],
                             "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                                            "param": {"type": ["string", "null"]},
                                            "code": {"type": ["string", "null"]}}}},
}


@cache
def _schemas(flavor: str = "openai") -> dict[str, Any]:
    path = SPEC if flavor == "openai" else AZURE_SPEC
    assert path.is_file(), f"the vendored OpenAPI description {path} is missing: restore it from git"
    doc = normalise(yaml.safe_load(path.read_text()), "" if flavor == "openai" else "OpenAI.")
    schemas = dict(doc["components"]["schemas"])
    if flavor == "openai":  # both OpenAI extracts come from one commit: a schema they share is the same
        assert CHAT_SPEC.is_file(), f"the vendored OpenAPI description {CHAT_SPEC} is missing: restore it from git"
        schemas = {**normalise_node(yaml.safe_load(CHAT_SPEC.read_text())["components"]["schemas"]), **schemas}
    return {"components": {"schemas": schemas}}


def schema_for(method: str, path: str, flavor: str = "openai") -> str | None:
    for m, pattern, openai, azure in ROUTES:
        if m == method and re.fullmatch(PREFIXES[flavor] + pattern, path):
            return openai if flavor == "openai" else azure
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


class Recorder:
    """Keeps every response the SDK got and checks its body against the OpenAPI schema (the copy under
    tests/openai-spec/: without it these tests fail)."""

    def __init__(self) -> None:
        self.checked: list[tuple[str, str, str]] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        if response.headers.get("content-type", "").startswith("application/json"):
            name = validate_response(response.request.method, response.request.url.path, response.status_code,
                                     response.json())
            self.checked.append((response.request.method, response.request.url.path, name))
