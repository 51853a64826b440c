"""Jobs trained from fine-tuned models (SPEC §5, §11), over HTTP against ``ftctl sandbox serve``.

A job created from ``ft:BASE:…`` (or from one of its checkpoints) is named after the root base
model, ``ft:BASE:ORG:SUFFIX:ID``, and so are its checkpoints — never ``ft:ft:…``. A create from an
``ft:`` model that no succeeded job of this sandbox produced is refused as the real API refuses an
unknown model: 404, ``model_not_found``, ``param: model``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from reliability.sandbox import SandboxProcess
from tests.conftest import Serve
from tests.openapi import validate_response
from tests.workspace import TRAIN

BASE = "gpt-4o-mini-2024-07-18"
KEY = "sk-sandbox"


@pytest.fixture
def client(sandbox: SandboxProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=sandbox.url, api_key=KEY, max_retries=0) as sdk:
        yield sdk


def _trained(client: openai.OpenAI, sandbox: SandboxProcess, model: str, suffix: str) -> str:
    """The ID of a job of ``model`` trained to its end (the clock moved past it)."""
    with TRAIN.open("rb") as f:
        file_id = client.files.create(file=f, purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(model=model, training_file=file_id, suffix=suffix)
    sandbox.advance(100_000)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"
    return job.id


def test_a_job_trained_from_a_fine_tuned_model_is_named_after_the_root_base(client: openai.OpenAI,
                                                                            sandbox: SandboxProcess) -> None:
    first = _trained(client, sandbox, "gpt-4o-mini", "geo")
    geo = f"ft:{BASE}:sandbox:geo:{first[-8:]}"
    assert client.fine_tuning.jobs.retrieve(first).fine_tuned_model == geo

    second = _trained(client, sandbox, geo, "geo2")
    done = client.fine_tuning.jobs.retrieve(second)
    assert done.model == geo  # the job shows the model it was trained from
    assert done.fine_tuned_model == f"ft:{BASE}:sandbox:geo2:{second[-8:]}"
    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(second))
    assert [c.fine_tuned_model_checkpoint for c in checkpoints] == [
        f"ft:{BASE}:sandbox:geo2:{second[-8:]}:ckpt-step-{c.step_number}" for c in checkpoints]
    assert checkpoints
    events = [e.message for e in client.fine_tuning.jobs.list_events(second, limit=100)]
    assert f"New fine-tuned model created: ft:{BASE}:sandbox:geo2:{second[-8:]}" in events

    third = _trained(client, sandbox, checkpoints[-1].fine_tuned_model_checkpoint, "geo3")  # from a checkpoint
    assert client.fine_tuning.jobs.retrieve(third).fine_tuned_model == f"ft:{BASE}:sandbox:geo3:{third[-8:]}"


def _refusal(model: str) -> dict[str, object]:
    return {"message": f"The model `{model}` does not exist or you do not have access to it.",
            "type": "invalid_request_error", "param": "model", "code": "model_not_found"}


def test_a_create_from_a_fine_tuned_model_the_sandbox_never_made_is_a_404(client: openai.OpenAI,
                                                                         sandbox: SandboxProcess) -> None:
    with TRAIN.open("rb") as f:
        file_id = client.files.create(file=f, purpose="fine-tune").id
    running = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id, suffix="geo")
    sandbox.advance(15)
    assert client.fine_tuning.jobs.retrieve(running.id).status == "running"
    unknown = [f"ft:{BASE}:sandbox:geo:{running.id[-8:]}",  # its job has not succeeded (yet)
               f"ft:{BASE}:sandbox:geo:AbCd1234",  # no such job
               f"ft:{BASE}:acme:geo:{running.id[-8:]}",  # another organisation's name
               f"ft:{BASE}:sandbox:geo:{running.id[-8:]}:ckpt-step-99"]
    for model in unknown:
        with pytest.raises(openai.NotFoundError) as info:
            client.fine_tuning.jobs.create(model=model, training_file=file_id)
        assert info.value.status_code == 404
        assert info.value.body == _refusal(model), model
        validate_response("POST", "/v1/fine_tuning/jobs", 404, {"error": info.value.body})
    assert [j.id for j in client.fine_tuning.jobs.list()] == [running.id]  # nothing created


def test_the_azure_flavour_refuses_an_unknown_fine_tuned_model_in_its_dialect(serve: Serve) -> None:
    server = serve("--flavor", "azure", "--clock", "manual")
    headers = {"api-key": KEY}
    file_id = httpx.post(f"{server.url}/files", headers=headers, files={"file": ("t.jsonl", TRAIN.read_bytes())},
                         data={"purpose": "fine-tune", "expires_after[anchor]": "created_at",
                               "expires_after[seconds]": "86400"}).json()["id"]
    model = f"ft:{BASE}:sandbox:geo:AbCd1234"
    refused = httpx.post(f"{server.url}/fine_tuning/jobs", headers=headers,
                         json={"model": model, "training_file": file_id, "trainingType": "developer"})
    assert refused.status_code == 404
    assert refused.json() == {"error": {"code": "notFound", "type": "error", "param": "model",
                                        "message": _refusal(model)["message"]}}
    validate_response("POST", "/openai/v1/fine_tuning/jobs", 404, refused.json(), "azure")
