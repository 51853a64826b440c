"""The sandbox against the official ``openai`` SDK, over real HTTP to ``ftctl sandbox serve``.

Every response the SDK receives is validated against the OpenAPI schemas (tests/openapi.py).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from reliability.sandbox import SandboxProcess
from tests.conftest import ROOT
from tests.openapi import AZURE_SPEC, SPEC, Recorder

TRAIN = ROOT / "manifests" / "data" / "support" / "train.jsonl"
PREFS = ROOT / "manifests" / "data" / "ranking" / "prefs.jsonl"
TRIAGE = ROOT / "manifests" / "data" / "triage" / "train.jsonl"


def upload(client: openai.OpenAI, path: Path = TRAIN) -> str:
    with path.open("rb") as f:
        return client.files.create(file=f, purpose="fine-tune").id


def test_full_lifecycle_with_the_official_sdk(client: openai.OpenAI, sandbox: SandboxProcess,
                                              recorder: Recorder) -> None:
    file_id = upload(client)
    assert client.files.retrieve(file_id).bytes == TRAIN.stat().st_size
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id, suffix="bot",
                                         metadata={"ftctl-stack": "s1"},
                                         method={"type": "supervised",
                                                 "supervised": {"hyperparameters": {"n_epochs": 2}}})
    assert job.model == "gpt-4o-mini-2024-07-18"  # alias resolved
    assert job.status == "validating_files"
    assert 0 <= job.seed <= 2_147_483_647  # a random seed was chosen
    assert job.method is not None and job.method.supervised is not None
    hyper = job.method.supervised.hyperparameters  # "auto" resolved to a number below
    assert hyper is not None and hyper.n_epochs == 2 and isinstance(hyper.batch_size, int)

    sandbox.advance(15)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "running"
    assert str(client.fine_tuning.jobs.pause(job.id).status) == "paused"  # not in the SDK's status enum
    sandbox.advance(10_000)
    assert str(client.fine_tuning.jobs.retrieve(job.id).status) == "paused"  # paused time does not count
    assert client.fine_tuning.jobs.resume(job.id).status == "running"
    sandbox.advance(10_000)

    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded"
    assert done.fine_tuned_model == f"ft:gpt-4o-mini-2024-07-18:sandbox:bot:{job.id[-8:]}"
    assert done.trained_tokens and done.trained_tokens > 0
    assert done.finished_at and done.finished_at > job.created_at
    assert len(done.result_files) == 1
    csv = client.files.content(done.result_files[0]).text
    assert csv.startswith("step,train_loss,")
    assert client.files.retrieve(done.result_files[0]).purpose == "fine-tune-results"

    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    messages = [e.message for e in events]
    assert messages[0] == "The job has successfully completed"  # newest first
    assert messages[-1].startswith("Created fine-tuning job")
    assert "Fine-tuning job paused" in messages and "Fine-tuning job resumed" in messages
    assert any(e.type == "metrics" and isinstance(e.data, dict) and "train_loss" in e.data for e in events)

    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(job.id))
    assert [c.step_number for c in checkpoints] == sorted((c.step_number for c in checkpoints), reverse=True)
    assert 1 <= len(checkpoints) <= 3
    assert checkpoints[0].fine_tuned_model_checkpoint.startswith(done.fine_tuned_model)

    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.jobs.pause(job.id)
    assert "Cannot pause a job whose status is succeeded" in str(info.value)

    assert {name for _, _, name in recorder.checked} >= {
        "OpenAIFile", "FineTuningJob", "ListFineTuningJobEventsResponse", "ListFineTuningJobCheckpointsResponse",
        "Error"}


def test_responses_fit_the_openapi_schemas(client: openai.OpenAI, sandbox: SandboxProcess,
                                           recorder: Recorder) -> None:
    file_id = upload(client)
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id, metadata={"a": "b"})
    sandbox.advance(15)
    client.fine_tuning.jobs.pause(job.id)
    client.fine_tuning.jobs.retrieve(job.id)  # status "paused": the schema's enum is opened for it
    client.fine_tuning.jobs.resume(job.id)
    sandbox.advance(100_000)
    client.fine_tuning.jobs.list()
    client.fine_tuning.jobs.list_events(job.id)
    client.fine_tuning.jobs.checkpoints.list(job.id)
    client.files.list()
    client.files.delete(file_id)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(file_id)
    names = {name for _, _, name in recorder.checked}
    assert names == {"OpenAIFile", "FineTuningJob", "ListPaginatedFineTuningJobsResponse",
                     "ListFineTuningJobEventsResponse", "ListFineTuningJobCheckpointsResponse", "ListFilesResponse",
                     "DeleteFileResponse", "Error"}


def test_the_openapi_descriptions_travel_with_the_repository() -> None:
    """A fresh clone validates against its own copies (never against a folder beside the checkout)."""
    for spec, schema in ((SPEC, "FineTuningJob"), (AZURE_SPEC, "OpenAI.FineTuningJob")):
        assert spec.is_relative_to(ROOT / "tests") and (spec.parent / "LICENSE").is_file()
        doc = yaml.safe_load(spec.read_text())
        assert schema in doc["components"]["schemas"] and any("/fine_tuning/jobs" in p for p in doc["paths"])


def test_pagination_and_metadata_filter(client: openai.OpenAI) -> None:
    file_id = upload(client)
    made = [client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id,
                                           metadata={"team": "a" if i % 2 else "b", "n": str(i)}).id
            for i in range(5)]
    bare = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id).id
    first = client.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in first.data] == [bare, made[4]] and first.has_more
    everything = [j.id for j in client.fine_tuning.jobs.list(limit=2)]  # the SDK follows `after`
    assert everything == [bare, *reversed(made)]
    team_a = [j.id for j in client.fine_tuning.jobs.list(metadata={"team": "a"})]
    assert team_a == [made[3], made[1]]
    both = [j.id for j in client.fine_tuning.jobs.list(metadata={"team": "a", "n": "3"})]
    assert both == [made[3]]
    # metadata=null selects jobs without metadata
    raw = client.get("/fine_tuning/jobs", cast_to=httpx.Response, options={"params": {"metadata": "null"}})
    assert [j["id"] for j in raw.json()["data"]] == [bare]


def test_cancel_and_illegal_transitions(client: openai.OpenAI, sandbox: SandboxProcess) -> None:
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client))
    with pytest.raises(openai.BadRequestError, match="Cannot pause a job whose status is validating_files"):
        client.fine_tuning.jobs.pause(job.id)
    with pytest.raises(openai.BadRequestError, match="Cannot resume"):
        client.fine_tuning.jobs.resume(job.id)
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    sandbox.advance(100_000)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="Cannot cancel"):
        client.fine_tuning.jobs.cancel(job.id)


def test_a_file_that_does_not_fit_the_method_fails_the_job(client: openai.OpenAI, sandbox: SandboxProcess) -> None:
    chat_file = upload(client, TRAIN)  # chat format, but DPO needs preference pairs
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=chat_file,
                                         method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}})
    assert job.status == "validating_files"
    sandbox.advance(60)
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "invalid_training_file" and failed.error.param == "training_file"
    assert "line 1" in failed.error.message and "input" in failed.error.message
    assert failed.fine_tuned_model is None and failed.finished_at is not None
    events = list(client.fine_tuning.jobs.list_events(job.id))
    assert events[0].level == "error"


def test_dpo_and_reinforcement_jobs_succeed(client: openai.OpenAI, sandbox: SandboxProcess) -> None:
    dpo = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=upload(client, PREFS),
                                         method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}})
    grader = {"type": "multi", "name": "m", "calculate_output": "a",
              "graders": {"a": {"type": "string_check", "name": "a", "input": "{{sample.output_text}}",
                                "reference": "{{item.label}}", "operation": "eq"}}}
    method: Any = {"type": "reinforcement",
                   "reinforcement": {"grader": grader, "hyperparameters": {"reasoning_effort": "low"}}}
    rft = client.fine_tuning.jobs.create(model="o4-mini", training_file=upload(client, TRIAGE), method=method)
    sandbox.advance(100_000)
    assert client.fine_tuning.jobs.retrieve(dpo.id).status == "succeeded"
    done = client.fine_tuning.jobs.retrieve(rft.id)
    assert done.status == "succeeded"
    assert done.method.reinforcement.grader.graders["a"]["type"] == "string_check"  # type: ignore[union-attr,index]


@pytest.mark.parametrize(("kwargs", "param", "fragment"), [
    ({"model": "gpt-99"}, "model", "not available for fine-tuning"),
    ({"suffix": "x" * 65}, "suffix", "1 to 64"),
    ({"seed": -1}, "seed", "seed must be an integer"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "at most 16"),
    ({"model": "o4-mini"}, "method.type", "does not support the supervised method"),
    ({"method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 99}}}},
     "method.supervised.hyperparameters.n_epochs", "between 1 and 50"),
    ({"method": {"type": "reinforcement", "reinforcement": {}}, "model": "o4-mini"},
     "method.reinforcement.grader", "required"),
    ({"training_file": "file-doesnotexist"}, "training_file", "invalid training_file"),
    ({"extra_body": {"trainingType": "standard"}}, "trainingType", "Unrecognized request argument"),  # Azure's
])
def test_create_is_validated_like_the_real_api(client: openai.OpenAI, kwargs: dict[str, Any], param: str,
                                               fragment: str) -> None:
    args: dict[str, Any] = {"model": "gpt-4o-mini", "training_file": upload(client), **kwargs}
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.jobs.create(**args)
    body = info.value.body
    assert isinstance(body, dict)
    assert body["param"] == param and fragment in body["message"]
    assert list(client.fine_tuning.jobs.list()) == []


def test_wrong_purpose_is_refused(client: openai.OpenAI) -> None:
    other = client.files.create(file=("notes.jsonl", io.BytesIO(b"{}\n")), purpose="batch").id
    with pytest.raises(openai.BadRequestError, match="purpose 'fine-tune'"):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=other)


def test_auth_and_unknown_ids(sandbox: SandboxProcess) -> None:
    no_key = httpx.get(f"{sandbox.url}/fine_tuning/jobs")
    assert no_key.status_code == 401
    assert no_key.json()["error"]["type"] == "invalid_request_error"
    azure_style = httpx.get(f"{sandbox.url}/fine_tuning/jobs", headers={"api-key": "k"})
    assert azure_style.status_code == 200
    with openai.OpenAI(base_url=sandbox.url, api_key="k", max_retries=0) as client:
        with pytest.raises(openai.NotFoundError):
            client.fine_tuning.jobs.retrieve("ftjob-nope")
        with pytest.raises(openai.NotFoundError):
            client.files.retrieve("file-nope")


def test_files_list_delete_and_content(client: openai.OpenAI) -> None:
    a = upload(client)
    b = client.files.create(file=("b.jsonl", io.BytesIO(b'{"x": 1}\n')), purpose="fine-tune").id
    assert [f.id for f in client.files.list()] == [b, a]
    assert client.files.content(b).content == b'{"x": 1}\n'
    assert client.files.delete(b).deleted is True
    assert [f.id for f in client.files.list()] == [a]


def test_uploads_api_assembles_parts(client: openai.OpenAI, recorder: Recorder) -> None:
    data = TRAIN.read_bytes()
    half = len(data) // 2
    up = client.uploads.create(filename="train.jsonl", purpose="fine-tune", bytes=len(data),
                               mime_type="application/jsonl")
    p1 = client.uploads.parts.create(up.id, data=data[:half])
    p2 = client.uploads.parts.create(up.id, data=data[half:])
    done = client.uploads.complete(up.id, part_ids=[p1.id, p2.id])
    assert done.status == "completed" and done.file is not None
    assert client.files.content(done.file.id).content == data
    assert {"Upload", "UploadPart"} <= {name for _, _, name in recorder.checked}


def test_admin_api_is_for_loopback_clients_only(tmp_path: Path) -> None:
    import asyncio

    from starlette.types import Message

    from reconciler.sandbox.app import create_app
    from reconciler.sandbox.store import Store

    _, app = create_app(Store(tmp_path / "s.db"))
    sent: list[dict[str, Any]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(dict(message))

    for client_host, expected in (("192.0.2.7", 403), ("127.0.0.1", 200)):
        sent.clear()
        scope = {"type": "http", "method": "GET", "path": "/sandbox/stats", "headers": [], "query_string": b"",
                 "client": (client_host, 40000), "server": ("127.0.0.1", 8787), "scheme": "http",
                 "root_path": "", "http_version": "1.1", "raw_path": b"/sandbox/stats"}
        asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]  # Starlette's app is typed loosely
        assert sent[0]["status"] == expected, client_host


def test_idempotency_key_replays_and_refuses_a_different_body(client: openai.OpenAI) -> None:
    file_id = upload(client)
    headers = {"Idempotency-Key": "create-1"}
    first = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id, extra_headers=headers)
    again = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id, extra_headers=headers)
    assert again.id == first.id
    assert len(list(client.fine_tuning.jobs.list())) == 1
    with pytest.raises(openai.BadRequestError, match="different request body"):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id, suffix="other",
                                       extra_headers=headers)
    assert len(list(client.fine_tuning.jobs.list())) == 1


def _jobs(sandbox: SandboxProcess) -> list[dict[str, Any]]:
    response = httpx.get(f"{sandbox.url}/fine_tuning/jobs", headers={"Authorization": "Bearer k"})
    return list(response.json()["data"])


def test_faults_500_429_and_dropped_connections(client: openai.OpenAI, sandbox: SandboxProcess) -> None:
    file_id = upload(client)
    sandbox.admin("PUT", "faults", {"rate": 1.0, "kinds": ["500"], "seed": 1})
    with pytest.raises(openai.InternalServerError):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    sandbox.admin("PUT", "faults", {"rate": 1.0, "kinds": ["429"], "retry_after": 7})
    with pytest.raises(openai.RateLimitError) as info:
        client.fine_tuning.jobs.list()
    assert info.value.response.headers["retry-after"] == "7"
    sandbox.admin("PUT", "faults", {"rate": 1.0, "kinds": ["drop_before"]})
    with pytest.raises(openai.APIConnectionError):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    sandbox.admin("PUT", "faults", {"rate": 0})
    assert _jobs(sandbox) == []  # nothing was written before the drop
    sandbox.admin("PUT", "faults", {"rate": 1.0, "kinds": ["drop_after"]})
    with pytest.raises(openai.APIConnectionError):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    sandbox.admin("PUT", "faults", {"rate": 0})
    assert len(_jobs(sandbox)) == 1  # the write happened, the answer was lost
    stats = sandbox.stats()
    assert stats["POST /v1/fine_tuning/jobs"] == 3
    assert stats["POST /v1/files"] == 1


def test_files_made_are_counted_even_once_deleted(client: openai.OpenAI, sandbox: SandboxProcess) -> None:
    first, second = upload(client), upload(client)
    client.files.delete(second)
    assert [f.id for f in client.files.list()] == [first]
    assert sandbox.admin("GET", "stats")["files_made"] == {TRAIN.name: 2}
    sandbox.admin("POST", "reset")
    assert sandbox.admin("GET", "stats")["files_made"] == {}


def test_an_echo_key_fault_quotes_the_key_presented(sandbox: SandboxProcess) -> None:
    sandbox.admin("PUT", "faults", {"rate": 1.0, "kinds": ["echo_key"]})
    for headers in ({"Authorization": "Bearer sk-echoed-1"}, {"api-key": "sk-echoed-1"}):
        answer = httpx.get(f"{sandbox.url}/files", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"] == {"message": "Incorrect API key provided: sk-echoed-1.", "type":
                                          "invalid_request_error", "param": None, "code": "invalid_api_key"}
    assert sandbox.admin("GET", "stats")["faults"] == {"echo_key GET /v1/files": 2}
    sandbox.admin("PUT", "faults", {"rate": 1.0, "kinds": ["echo_masked_key"]})
    answer = httpx.get(f"{sandbox.url}/files", headers={"Authorization": "Bearer sk-echoed-0123456789abcdef"})
    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == "Incorrect API key provided: sk-echoed-01**********cdef."


def test_faults_limited_to_writes_leave_reads_alone(client: openai.OpenAI, sandbox: SandboxProcess) -> None:
    file_id = upload(client)
    sandbox.admin("PUT", "faults", {"rate": 1.0, "kinds": ["echo_key"], "methods": ["POST"]})
    assert [f.id for f in client.files.list()] == [file_id]
    with pytest.raises(openai.AuthenticationError, match="Incorrect API key provided: sk-sandbox"):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    assert sandbox.admin("GET", "stats")["faults"] == {"echo_key POST /v1/fine_tuning/jobs": 1}
    refused = httpx.put(f"{sandbox.base}/sandbox/faults", json={"rate": 1.0, "methods": ["PATCH"]})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "methods"


def test_a_lagging_job_list_shows_a_new_job_by_id_at_once_and_listed_only_after_the_lag(
        client: openai.OpenAI, sandbox: SandboxProcess) -> None:
    file_id = upload(client)
    sandbox.faults(0, list_lag_s=30)
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id, metadata={"k": "v"})
    assert client.fine_tuning.jobs.retrieve(job.id).id == job.id
    assert [j.id for j in client.fine_tuning.jobs.list()] == []
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"k": "v"})] == []
    sandbox.advance(30)
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"k": "v"})] == [job.id]
    second = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    assert [j.id for j in client.fine_tuning.jobs.list()] == [job.id]
    sandbox.faults(0)  # faults off: the list catches up
    assert [j.id for j in client.fine_tuning.jobs.list()] == [second.id, job.id]
    refused = httpx.put(f"{sandbox.base}/sandbox/faults", json={"rate": 0, "list_lag_s": -1})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "list_lag_s"


def test_faults_follow_the_rate_with_a_seed(sandbox: SandboxProcess) -> None:
    sandbox.admin("PUT", "faults", {"rate": 0.3, "kinds": ["500"], "seed": 42})
    codes = [httpx.get(f"{sandbox.url}/files", headers={"Authorization": "Bearer k"}).status_code
             for _ in range(200)]
    failures = codes.count(500)
    assert 35 <= failures <= 85, failures
    assert set(codes) == {200, 500}


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with SandboxProcess(db) as first, openai.OpenAI(base_url=first.url, api_key="k", max_retries=0) as client:
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client),
                                             metadata={"k": "v"})
        first.advance(15)
        assert client.fine_tuning.jobs.retrieve(job.id).status == "running"
    with SandboxProcess(db) as second, openai.OpenAI(base_url=second.url, api_key="k", max_retries=0) as client:
        again = client.fine_tuning.jobs.retrieve(job.id)
        assert again.status == "running"  # the clock offset persisted too
        assert again.metadata == {"k": "v"}
        second.advance(100_000)
        assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"


def test_speed_divides_durations(tmp_path: Path) -> None:
    with (SandboxProcess(tmp_path / "f.db", "--speed", "1000") as fast,
          openai.OpenAI(base_url=fast.url, api_key="k", max_retries=0) as client):
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client))
        fast.advance(1)
        assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"


def _serve(db: Path, env: dict[str, str], *flags: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FTCTL_")}
    return subprocess.Popen([sys.executable, "-m", "reconciler", "sandbox", "serve", "--port", "0", "--db", str(db),
                             *flags], env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize(("env", "flags", "speed"), [
    ({"FTCTL_SANDBOX_SPEED": "4"}, (), 4.0),
    ({"FTCTL_SANDBOX_SPEED": "4"}, ("--speed", "2"), 2.0),  # the flag wins
    ({"FTCTL_SANDBOX_SPEED": "fast"}, ("--speed", "2"), 2.0),  # and the variable is not read
    ({"FTCTL_SANDBOX_SPEED": ""}, (), 1.0),  # empty is unset, as for --sandbox
    ({}, (), 1.0),
])
def test_serve_takes_its_speed_from_the_flag_else_from_the_environment(tmp_path: Path, env: dict[str, str],
                                                                       flags: tuple[str, ...], speed: float) -> None:
    """``FTCTL_SANDBOX_SPEED`` divides durations for ``sandbox serve`` as it does for ``--sandbox``."""
    proc = _serve(tmp_path / "s.db", env, *flags)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert base and f"speed x{speed}" in line, line
        assert httpx.get(f"{base.group(0)}/sandbox/info", timeout=10).json()["speed"] == speed
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("value", ["fast", "0", "-1", "inf", "nan"])
def test_a_bad_speed_in_the_environment_is_one_error_naming_the_variable(tmp_path: Path, value: str) -> None:
    proc = _serve(tmp_path / "s.db", {"FTCTL_SANDBOX_SPEED": value})
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # it served: the variable was not read
        proc.kill()
        out, err = proc.communicate()
    assert proc.returncode == 1 and out == "", out
    assert err.strip() == f"Error: FTCTL_SANDBOX_SPEED={value!r} must be a number greater than 0"
    assert not (tmp_path / "s.db").exists()


def test_admin_api_rejects_bad_input(sandbox: SandboxProcess) -> None:
    bad = httpx.put(f"{sandbox.base}/sandbox/faults", json={"kinds": ["meteor"]})
    assert bad.status_code == 400
    assert json.loads(bad.text)["error"]["param"] == "kinds"


def test_a_reinforcement_file_without_the_graders_fields_fails(client: openai.OpenAI, sandbox: SandboxProcess) -> None:
    grader = {"type": "string_check", "name": "a", "input": "{{sample.output_text}}",
              "reference": "{{item.answer}}", "operation": "eq"}  # triage data has "label", not "answer"
    method: Any = {"type": "reinforcement", "reinforcement": {"grader": grader}}
    job = client.fine_tuning.jobs.create(model="o4-mini", training_file=upload(client, TRIAGE), method=method)
    sandbox.advance(60)
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed" and failed.error is not None
    assert "no field 'answer'" in failed.error.message
