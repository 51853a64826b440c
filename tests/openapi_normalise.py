"""OpenAI's published description (tests/openai-spec/) made fit for a JSON Schema 2020-12 validator
and for schemathesis: the quirks its README lists, normalised in one place.

- ``nullable: true`` (OpenAPI 3.0 style, in a file that says 3.1.0) becomes ``anyOf [T, null]``;
- a boolean ``exclusiveMinimum: true`` becomes the numeric ``exclusiveMinimum: <minimum>``;
- ``FineTuningJob.status`` is an open string (``paused`` exists in practice, and Azure's
  ``pending``, ``pausing``, ``resuming``);
- ``GraderMulti.graders``, typed as one grader, is a mapping from a name to a grader (what the API
  takes and the graders guide shows);
- ``ListFilesResponse.first_id`` and ``last_id`` may be null: an empty list has no first or last
  file (the checkpoints' list says so already; the fuzzer's first empty list found it);
- ``OpenAIFile.purpose`` takes ``evals`` too: a file is created with it (``CreateFileRequest``
  lists it) and answered with the purpose it was created with;
- ``GET /files/{file_id}/content`` answers the file's bytes (``application/octet-stream``, as the
  SDK reads them: a binary response), not the JSON string the description declares.

``python -m tests.openapi_normalise [openai|azure]`` prints the normalised description as YAML.
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import yaml


def normalise_node(node: Any) -> Any:
    """``nullable`` and boolean ``exclusiveMinimum``, anywhere in a schema."""
    if isinstance(node, dict):
        node = {k: normalise_node(v) for k, v in node.items()}
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        if node.get("exclusiveMinimum") is True:
            node["exclusiveMinimum"] = node.pop("minimum", 0)
        elif node.get("exclusiveMinimum") is False:
            node.pop("exclusiveMinimum")
        return node
    if isinstance(node, list):
        return [normalise_node(v) for v in node]
    return node


def normalise(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The whole description normalised; ``prefix`` is ``"OpenAI."`` for Azure's names of OpenAI's schemas."""
    doc = copy.deepcopy(doc)
    schemas = doc["components"]["schemas"]
    schemas[f"{prefix}FineTuningJob"]["properties"]["status"].pop("enum", None)
    multi = schemas[f"{prefix}GraderMulti"]["properties"]
    multi["graders"] = {"type": "object", "additionalProperties": multi["graders"]}
    purpose = schemas[f"{prefix}OpenAIFile"]["properties"]["purpose"] if not prefix else {}
    if "evals" not in purpose.get("enum", ["evals"]):
        purpose["enum"] = [*purpose["enum"], "evals"]
    content = doc["paths"].get("/files/{file_id}/content", {}).get("get", {}).get("responses", {}).get("200", {})
    if "application/json" in content.get("content", {}):
        content["content"] = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    listed = schemas.get(f"{prefix}ListFilesResponse", {}).get("properties", {})
    for key in ("first_id", "last_id"):
        if key in listed:
            listed[key] = {"anyOf": [listed[key], {"type": "null"}]}
    return dict(normalise_node(doc))


def main(argv: list[str]) -> int:
    from tests.openapi import AZURE_SPEC, SPEC

    azure = argv[:1] == ["azure"]
    doc = yaml.safe_load((AZURE_SPEC if azure else SPEC).read_text())
    sys.stdout.write(yaml.safe_dump(normalise(doc, "OpenAI." if azure else ""), sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
