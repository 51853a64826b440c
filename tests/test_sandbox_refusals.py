"""The sandbox refuses a malformed request the way the real API does, and stores nothing.

``cases/sandbox/refusals.json`` holds each request of issue 26's list and each the fuzzer
(tests/fuzz.py) found: the request, its status (400 unless it says), the ``param`` OpenAI's error
body must name. Each is sent over HTTP to a real sandbox server; its answer must be that error body,
as JSON with ``application/json``, and the server's database and file store must be as before (no
file, job or upload row, no blob). Beside them: 405 with ``Allow``, JSON bodies for a broken form and
for a bug of the server's own (a 500), and a well-formed request of each kind still accepted.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from reconciler.sandbox.app import create_app
from reconciler.sandbox.store import Store
from reliability.sandbox import KEY, SandboxProcess
from tests.openapi import validate_response

CASES = json.loads((Path(__file__).parent / "cases" / "sandbox" / "refusals.json").read_text())["cases"]
TRAIN = Path(__file__).resolve().parent.parent / "manifests" / "data" / "support" / "train.jsonl"
HEADERS = {"Authorization": f"Bearer {KEY}"}
DEEP = "[" * 100_000 + "]" * 100_000


def stored(server: SandboxProcess) -> dict[str, Any]:
    """Every row of the tables a request could write, and the blobs on disk beside them."""
    with contextlib.closing(sqlite3.connect(server.db)) as db:
        rows = {table: sorted(db.execute(f"SELECT * FROM {table}").fetchall())
                for table in ("files", "jobs", "uploads", "idempotency")}
    blobs = Path(f"{server.db}.files")
    rows["blobs"] = sorted(p.name for p in blobs.iterdir()) if blobs.is_dir() else []
    return rows


def send(server: SandboxProcess, case: dict[str, Any], saved: dict[str, str]) -> httpx.Response:
    path = server.url + case["path"].format(**saved)
    if "form" in case:
        files = {case.get("file_field", "file"): ("train.jsonl", io.BytesIO(TRAIN.read_bytes()))}
        return httpx.request(case["method"], path, data=case["form"], files=files, headers=HEADERS)
    if "raw" in case:
        raw = DEEP if case["raw"] == "deep" else case["raw"].replace("{file_id}", saved["file_id"])
        return httpx.request(case["method"], path, content=raw, headers={**HEADERS, "Content-Type": "application/json"})
    body = json.loads(json.dumps(case.get("json")).replace("{file_id}", saved["file_id"]))
    return httpx.request(case["method"], path, json=body, headers=HEADERS)


def _setup(server: SandboxProcess) -> dict[str, str]:
    with TRAIN.open("rb") as f:
        file_id = httpx.post(f"{server.url}/files", files={"file": f}, data={"purpose": "fine-tune"},
                             headers=HEADERS).json()["id"]
    upload_id = httpx.post(f"{server.url}/uploads", headers=HEADERS, json={
        "filename": "a.jsonl", "purpose": "fine-tune", "bytes": 10, "mime_type": "text/jsonl"}).json()["id"]
    return {"file_id": file_id, "upload_id": upload_id}


@pytest.mark.parametrize("case", CASES, ids=[c["why"] for c in CASES])
def test_a_malformed_request_is_refused_and_nothing_is_stored(sandbox: SandboxProcess, case: dict[str, Any]) -> None:
    saved = _setup(sandbox)
    before = stored(sandbox)
    answer = send(sandbox, case, saved)
    assert answer.status_code == case.get("status", 400), answer.text
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == case["param"], error["message"]
    validate_response(case["method"], answer.request.url.path, answer.status_code, answer.json())
    assert stored(sandbox) == before
    assert "Traceback" not in sandbox.output


def test_the_well_formed_requests_beside_them_are_accepted(sandbox: SandboxProcess) -> None:
    saved = _setup(sandbox)
    good = [("POST", "/fine_tuning/jobs", {"model": "gpt-4o-mini", "training_file": saved["file_id"], "seed": 3,
                                           "hyperparameters": {"n_epochs": 2},
                                           "integrations": [{"type": "wandb", "wandb": {
                                               "project": "p", "name": None, "entity": "e", "tags": ["a"]}}]}),
            ("POST", "/uploads", {"filename": "b.jsonl", "purpose": "batch", "bytes": 5, "mime_type": "text/jsonl",
                                  "expires_after": {"anchor": "created_at", "seconds": 3600}}),
            ("GET", "/files?order=asc&limit=5", None), ("GET", "/fine_tuning/jobs?metadata=null", None)]
    for method, path, body in good:
        answer = httpx.request(method, sandbox.url + path, json=body, headers=HEADERS)
        assert answer.status_code == 200, answer.text
        validate_response(method, answer.request.url.path, 200, answer.json())
    for form in ({"expires_after[anchor]": "created_at", "expires_after[seconds]": "2592000"},
                 {"expires_after": '{"anchor": "created_at", "seconds": 3600}'}):
        answer = httpx.post(f"{sandbox.url}/files", data={"purpose": "fine-tune", **form}, headers=HEADERS,
                            files={"file": ("t.jsonl", io.BytesIO(b"{}\n"))})
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/files", "GET, HEAD, POST"),
    ("DELETE", "/fine_tuning/jobs", "GET, HEAD, POST"),
    ("POST", "/files/file-abc", "DELETE, GET, HEAD"),
    ("GET", "/uploads", "POST"),
])
def test_a_method_the_path_does_not_have_is_a_405_with_allow(sandbox: SandboxProcess, method: str, path: str,
                                                             allow: str) -> None:
    answer = httpx.request(method, sandbox.url + path, headers=HEADERS)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allow
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["message"] == f"Invalid URL ({method} {sandbox.prefix}{path})"


def test_a_broken_multipart_form_is_a_json_400(sandbox: SandboxProcess) -> None:
    answer = httpx.post(f"{sandbox.url}/files", content=b"--x\r\nnonsense", headers={
        **HEADERS, "Content-Type": "multipart/form-data; boundary=x"})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_a_bug_of_the_server_is_a_json_500(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox, app = create_app(Store(tmp_path / "s.db"))

    def broken(file_id: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(sandbox.store, "get_file", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/v1/files/file-x", headers=HEADERS)
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"] == {"message": "The server had an error while processing your request.",
                                      "type": "server_error", "param": None, "code": None}
