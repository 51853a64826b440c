"""The sandbox under a property-based fuzzer (tests/fuzz.py): every operation of OpenAI's vendored
description, conforming and breaking requests, against a real server — no server error, no
breaking request accepted, every answer conforming. Seeded and small here; ``make fuzz`` runs it
longer. Its description is normalised for the quirks the vendored file's README lists, by
``tests/openapi_normalise.py``, whose own cases are below."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import httpx
import yaml

from reliability.sandbox import SandboxProcess
from tests.fuzz import description, fuzz
from tests.openapi import SPEC, validate_response
from tests.openapi_normalise import normalise, normalise_node

EXAMPLES = 8
"""Requests per operation and mode here (``make fuzz``: 400)."""


def test_the_fuzzer_finds_no_server_error_and_no_accepted_bad_request(tmp_path: Path) -> None:
    with SandboxProcess(tmp_path / "fuzz.db") as server:
        tally = fuzz(server, EXAMPLES, seed=0)
        output = server.output
    assert tally.findings == [], tally.report()
    operations = {label.rsplit(" ", 1)[0] for label in tally.requests}
    assert len(operations) == 17, sorted(operations)  # every operation of files, uploads and fine_tuning
    assert sum(n for label, n in tally.requests.items() if label.endswith("negative")) >= 7 * EXAMPLES
    assert "Traceback" not in output


def test_normalising_turns_the_3_0_style_into_json_schema() -> None:
    node = {"type": "object", "properties": {
        "a": {"type": "string", "nullable": True},
        "b": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
        "c": {"type": "number", "minimum": 1, "exclusiveMinimum": False},
        "d": [{"type": "integer", "nullable": False}]}}
    assert normalise_node(node) == {"type": "object", "properties": {
        "a": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "b": {"type": "number", "exclusiveMinimum": 0},
        "c": {"type": "number", "minimum": 1},
        "d": [{"type": "integer"}]}}


def test_normalising_the_description_fixes_each_known_quirk_and_leaves_the_file_alone() -> None:
    raw = yaml.safe_load(SPEC.read_text())
    kept = copy.deepcopy(raw)
    doc = normalise(raw)
    assert raw == kept
    schemas = doc["components"]["schemas"]
    assert "enum" not in schemas["FineTuningJob"]["properties"]["status"]  # paused, pausing exist
    assert schemas["GraderMulti"]["properties"]["graders"]["type"] == "object"
    assert "evals" in schemas["OpenAIFile"]["properties"]["purpose"]["enum"]
    assert {"type": "null"} in schemas["ListFilesResponse"]["properties"]["first_id"]["anyOf"]
    assert list(doc["paths"]["/files/{file_id}/content"]["get"]["responses"]["200"]["content"]) == [
        "application/octet-stream"]
    text = yaml.safe_dump(doc)
    assert "nullable" not in text and "exclusiveMinimum: true" not in text
    assert description() == doc


def test_the_quirks_the_fuzzer_found_are_answered_as_normalised(sandbox: SandboxProcess) -> None:
    """Three finds of the fuzzer were the description's, not the sandbox's: an empty file list names no
    first or last file, a file of purpose ``evals`` is answered with it, and a file's content is its
    bytes. Each now validates against the normalised description."""
    headers = {"Authorization": "Bearer k"}
    empty = httpx.get(f"{sandbox.url}/files", headers=headers)
    assert (empty.json()["first_id"], empty.json()["last_id"]) == (None, None)
    validate_response("GET", empty.request.url.path, 200, empty.json())
    made = httpx.post(f"{sandbox.url}/files", headers=headers, data={"purpose": "evals"},
                      files={"file": ("e.jsonl", io.BytesIO(b"{}\n"))})
    assert made.json()["purpose"] == "evals"
    validate_response("POST", made.request.url.path, 200, made.json())
    content = httpx.get(f"{sandbox.url}/files/{made.json()['id']}/content", headers=headers)
    assert content.headers["content-type"] == "application/octet-stream" and content.content == b"{}\n"
    declared = description()["paths"]["/files/{file_id}/content"]["get"]["responses"]["200"]["content"]
    assert content.headers["content-type"] in declared
