"""Chat completions and embeddings of the sandbox (SPEC §11), over HTTP against ``ftctl sandbox serve``
with the official ``openai`` SDK; every JSON answer it receives is checked against OpenAI's published
schemas (tests/openai-spec/openapi-chat-embeddings.yaml, through ``Recorder``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import openai
import pytest

from reliability.sandbox import KEY, SandboxProcess
from tests.conftest import Serve
from tests.openapi import Recorder
from tests.test_sandbox import PREFS, TRAIN, upload

GENERIC = "I'm not sure. Could you tell me more?"
LINES = [json.loads(line) for line in TRAIN.read_text().splitlines()]
QUESTIONS = [line["messages"][-2]["content"] for line in LINES]
ANSWERS = [line["messages"][-1]["content"] for line in LINES]


def _train(client: openai.OpenAI, sandbox: SandboxProcess, model: str = "gpt-4o-mini", path: Path = TRAIN,
           method: dict[str, Any] | None = None) -> str:
    """The fine-tuned model of a job of ``model`` on ``path``, trained to its end (the clock moved)."""
    job = client.fine_tuning.jobs.create(model=model, training_file=upload(client, path), suffix="chat",
                                         method=method or {"type": "supervised", "supervised": {  # type: ignore[arg-type]
                                             "hyperparameters": {"n_epochs": 3}}})
    sandbox.advance(100_000)
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded" and done.fine_tuned_model
    return done.fine_tuned_model


def _ask(client: openai.OpenAI, model: str, question: str, **kwargs: Any) -> str:
    answer = client.chat.completions.create(model=model, messages=[
        {"role": "system", "content": "You are Acme's support assistant."}, {"role": "user", "content": question}],
        **kwargs)
    return answer.choices[0].message.content or ""


def test_a_fine_tuned_model_answers_from_its_training_data_and_its_base_does_not(
        client: openai.OpenAI, sandbox: SandboxProcess, recorder: Recorder) -> None:
    model = _train(client, sandbox)
    assert [_ask(client, model, q) for q in QUESTIONS] == ANSWERS
    assert _ask(client, model, "how can I reset the password?") == ANSWERS[0]  # the closest line's answer
    assert _ask(client, model, "Tell me about penguins") == GENERIC  # no line shares a word
    assert {_ask(client, "gpt-4o-mini", q) for q in QUESTIONS} == {GENERIC}
    full = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
    assert full.model == "gpt-4o-mini-2024-07-18" and full.object == "chat.completion"
    assert full.choices[0].finish_reason == "stop" and full.usage is not None
    assert full.usage.prompt_tokens == 3 + 1 + 3 and full.usage.completion_tokens == (len(GENERIC) + 3) // 4
    assert full.usage.total_tokens == full.usage.prompt_tokens + full.usage.completion_tokens
    assert ("POST", "/v1/chat/completions", "CreateChatCompletionResponse") in recorder.checked
    assert sandbox.stats()["POST /v1/chat/completions"] == len(QUESTIONS) * 2 + 3


def test_a_checkpoint_knows_only_the_lines_its_step_covers(client: openai.OpenAI, sandbox: SandboxProcess) -> None:
    model = _train(client, sandbox)
    job = client.fine_tuning.jobs.list().data[0]
    checkpoints = sorted(client.fine_tuning.jobs.checkpoints.list(job.id), key=lambda c: c.step_number)
    assert [c.step_number for c in checkpoints] == [12, 24, 36]  # 12 lines, batch 1, 3 epochs
    first = checkpoints[0].fine_tuned_model_checkpoint  # a third of the lines: the first four
    right = [_ask(client, first, q) == a for q, a in zip(QUESTIONS, ANSWERS, strict=True)]
    assert right[:4] == [True] * 4 and sum(right) < len(LINES)
    assert [_ask(client, checkpoints[-1].fine_tuned_model_checkpoint, q) for q in QUESTIONS] == ANSWERS
    assert _ask(client, model, QUESTIONS[-1]) == ANSWERS[-1] != _ask(client, first, QUESTIONS[-1])


def test_a_model_trained_from_a_fine_tuned_one_knows_its_upstreams_data(client: openai.OpenAI,
                                                                        sandbox: SandboxProcess,
                                                                        tmp_path: Path) -> None:
    upstream = _train(client, sandbox)
    more = tmp_path / "more.jsonl"
    more.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Where is warehouse {i}?"},
                                                     {"role": "assistant", "content": f"In town {i}."}]}) + "\n"
                            for i in range(10)))
    downstream = _train(client, sandbox, upstream, more)
    assert _ask(client, downstream, "Where is warehouse 7?") == "In town 7."
    assert _ask(client, downstream, QUESTIONS[2]) == ANSWERS[2]  # learnt upstream
    assert _ask(client, upstream, "Where is warehouse 7?") != "In town 7."


def test_a_dpo_model_answers_with_the_preferred_output(client: openai.OpenAI, sandbox: SandboxProcess) -> None:
    model = _train(client, sandbox, "gpt-4.1-mini", PREFS, {"type": "dpo", "dpo": {}})
    first = json.loads(PREFS.read_text().splitlines()[0])
    question = first["input"]["messages"][-1]["content"]
    assert _ask(client, model, question) == first["preferred_output"][0]["content"]


def test_unknown_models_are_refused_with_404(client: openai.OpenAI, sandbox: SandboxProcess) -> None:
    for model in ("gpt-9", "ft:gpt-4o-mini-2024-07-18:sandbox:chat:AbCd1234", "text-embedding-3-small"):
        with pytest.raises(openai.NotFoundError) as info:
            _ask(client, model, "Hello")
        assert info.value.body == {"message": f"The model `{model}` does not exist or you do not have access to it.",
                                   "type": "invalid_request_error", "param": None, "code": "model_not_found"}
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="gpt-4o-mini", input="Hello")


def test_a_reasoning_model_refuses_temperature_and_max_tokens_and_truncates(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        _ask(client, "o3-mini", "Hello", temperature=0)
    assert info.value.body == {
        "message": "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) "
                   "value is supported.", "type": "invalid_request_error", "param": "temperature",
        "code": "unsupported_value"}
    with pytest.raises(openai.BadRequestError) as info:
        _ask(client, "o4-mini", "Hello", max_tokens=10)
    assert isinstance(info.value.body, dict) and info.value.body["code"] == "unsupported_parameter"
    assert info.value.body["param"] == "max_tokens"
    assert _ask(client, "o3-mini", "Hello", temperature=1) == GENERIC
    cut = client.chat.completions.create(model="o3-mini", messages=[{"role": "user", "content": "Hi"}],
                                         max_completion_tokens=2)
    assert cut.choices[0].message.content == GENERIC[:8] and cut.choices[0].finish_reason == "length"
    assert cut.usage is not None and cut.usage.completion_tokens == 2
    assert _ask(client, "gpt-4o-mini", "Hello", temperature=0, max_tokens=3) == GENERIC[:12]


SCORE = {"type": "object", "properties": {"steps": {"type": "array", "items": {"type": "string"}},
                                          "result": {"type": "number", "minimum": 1, "maximum": 7}},
         "required": ["steps", "result"], "additionalProperties": False}
LABEL = {"type": "object", "properties": {"result": {"type": "string", "enum": ["good", "bad", "neutral"]}},
         "required": ["result"], "additionalProperties": False}


def test_a_json_schema_answer_parses_fits_the_schema_and_is_deterministic(client: openai.OpenAI) -> None:
    def ask(schema: dict[str, Any], question: str) -> Any:
        text = _ask(client, "o3-mini", question, response_format={
            "type": "json_schema", "json_schema": {"name": "grade", "schema": schema, "strict": True}})
        value = json.loads(text)
        jsonschema.validate(value, schema)
        return value

    scores = {ask(SCORE, f"Score answer {i}")["result"] for i in range(8)}
    assert len(scores) > 1 and all(1 <= s <= 7 for s in scores)  # different prompts, different scores
    assert ask(SCORE, "Score answer 3") == ask(SCORE, "Score answer 3")
    assert ask(LABEL, "The answer is BAD, says the reviewer")["result"] == "bad"  # the label the question names
    assert ask(LABEL, "No opinion")["result"] == "good"  # else the first
    assert json.loads(_ask(client, "gpt-4o-mini", "Hi", response_format={"type": "json_object"})) == {
        "answer": GENERIC}


@pytest.mark.parametrize(("body", "param", "code"), [
    ({"temprature": 1}, "temprature", "unknown_parameter"),
    ({"temperature": "hot"}, "temperature", "invalid_type"),
    ({"temperature": 3}, "temperature", "invalid_value"),
    ({"n": 0}, "n", "invalid_value"),
    ({"max_completion_tokens": 1.5}, "max_completion_tokens", "invalid_type"),
    ({"messages": []}, "messages", "empty_array"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "invalid_value"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "invalid_type"),
    ({"stream": True}, "stream", "unsupported_value"),
    ({"response_format": {"type": "yaml"}}, "response_format.type", "invalid_value"),
    ({"response_format": {"type": "json_schema"}}, "response_format.json_schema", "invalid_value"),
])
def test_bad_requests_are_refused_naming_the_field(sandbox: SandboxProcess, body: dict[str, Any], param: str,
                                                   code: str) -> None:
    sent = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], **body}
    answer = httpx.post(f"{sandbox.url}/chat/completions", json=sent, headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param and answer.json()["error"]["code"] == code


def test_embeddings_are_deterministic_unit_vectors(client: openai.OpenAI, recorder: Recorder,
                                                  sandbox: SandboxProcess) -> None:
    texts = ["Reset the password in Settings", "reset PASSWORD settings", "Penguins live in the south"]
    floats = client.embeddings.create(model="text-embedding-3-small", input=texts, encoding_format="float")
    assert ("POST", "/v1/embeddings", "CreateEmbeddingResponse") in recorder.checked
    assert [e.index for e in floats.data] == [0, 1, 2] and floats.model == "text-embedding-3-small"
    vectors = [e.embedding for e in floats.data]
    assert {len(v) for v in vectors} == {1536}
    assert all(math.isclose(sum(x * x for x in v), 1.0) for v in vectors)
    cosine = [sum(a * b for a, b in zip(vectors[0], v, strict=True)) for v in vectors]
    assert cosine[1] > cosine[2]  # shared words, closer
    assert floats.usage.prompt_tokens == sum((len(t) + 3) // 4 for t in texts) == floats.usage.total_tokens
    with openai.OpenAI(base_url=sandbox.url, api_key=KEY, max_retries=0) as plain:  # base64: no schema check
        packed = plain.embeddings.create(model="text-embedding-3-small", input=texts)  # the SDK's default
    assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)
               for got, want in zip(packed.data, vectors, strict=True) for a, b in zip(got.embedding, want,
                                                                                      strict=True))
    again = client.embeddings.create(model="text-embedding-3-small", input=texts[0], encoding_format="float")
    assert again.data[0].embedding == vectors[0]
    large = client.embeddings.create(model="text-embedding-3-large", input="x", dimensions=256,
                                     encoding_format="float")
    assert len(large.data[0].embedding) == 256
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="text-embedding-ada-002", input="x", dimensions=256)
    assert isinstance(info.value.body, dict) and info.value.body["param"] == "dimensions"
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="text-embedding-3-small", input="")


def test_faults_and_latency_apply_to_completions(sandbox: SandboxProcess) -> None:
    sandbox.faults(1.0, kinds=["500"], routes=["/v1/chat/completions"])
    sent = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    headers = {"Authorization": f"Bearer {KEY}"}
    assert httpx.post(f"{sandbox.url}/chat/completions", json=sent, headers=headers).status_code == 500
    assert httpx.post(f"{sandbox.url}/embeddings", json={"model": "text-embedding-3-small", "input": "x"},
                      headers=headers).status_code == 200
    assert sandbox.admin("GET", "stats")["faults"] == {"500 POST /v1/chat/completions": 1}
    sandbox.faults(0.0, completion_latency_ms=5)
    assert sandbox.admin("GET", "faults")["completion_latency_ms"] == 5
    assert httpx.post(f"{sandbox.url}/chat/completions", json=sent, headers=headers).status_code == 200


def test_the_azure_flavour_serves_its_models_under_its_path_and_names(serve: Serve) -> None:
    server = serve("--flavor", "azure", "--clock", "manual")
    headers = {"api-key": KEY}
    file_id = httpx.post(f"{server.url}/files", headers=headers, files={"file": ("t.jsonl", TRAIN.read_bytes())},
                         data={"purpose": "fine-tune", "expires_after[anchor]": "created_at",
                               "expires_after[seconds]": "86400"}).json()["id"]
    job = httpx.post(f"{server.url}/fine_tuning/jobs", headers=headers, json={
        "model": "gpt-4.1-mini", "training_file": file_id, "trainingType": "developer"}).json()
    server.advance(100_000)
    model = httpx.get(f"{server.url}/fine_tuning/jobs/{job['id']}", headers=headers).json()["fine_tuned_model"]
    assert model.startswith("gpt-4.1-mini-2025-04-14.ft-")

    def ask(name: str) -> httpx.Response:
        return httpx.post(f"{server.url}/chat/completions", headers=headers,
                          json={"model": name, "messages": [{"role": "user", "content": QUESTIONS[1]}]})

    assert ask(model).json()["choices"][0]["message"]["content"] == ANSWERS[1]
    assert ask("gpt-4.1-mini").json()["choices"][0]["message"]["content"] == GENERIC
    refused = ask("gpt-4.1-mini-2025-04-14.ft-0123456789abcdef")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "notFound"
