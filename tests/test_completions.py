"""``Completions`` over HTTP (a mock server): the first choice's text, the target's key header and base
path, retries of 429, 5xx and dropped connections under the one retry policy, usage counted, and no
temperature or top_p sent to a reasoning model."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from reconciler.api.client import Target, Transport
from reconciler.api.completions import Completions
from reconciler.api.errors import ApiError
from reconciler.api.retry import RetryPolicy
from reconciler.providers import AZURE, OPENAI

NO_WAIT = RetryPolicy(sleep=lambda s: None)
ANSWER = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris"}}],
          "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}


def _completions(target: Target, answers: list[Any], seen: list[httpx.Request]) -> Completions:
    """Each request answered by the next of ``answers``: a status code alone, an exception, or a JSON body."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return httpx.Response(answer, json={"error": {"message": "busy", "code": None}})
        return httpx.Response(200, json=answer)

    http = httpx.Client(base_url=target.base_url + "/", transport=httpx.MockTransport(handle), headers=target.headers())
    return Completions(Transport(target, http), NO_WAIT)


def test_a_completion_is_the_first_choice_and_its_usage_is_counted() -> None:
    seen: list[httpx.Request] = []
    models = _completions(Target("https://api.openai.com/v1", "sk-1", OPENAI), [ANSWER], seen)
    text = models.chat("ft:gpt-4o-mini-2024-07-18:org::abc", [{"role": "user", "content": "Capital of France?"}],
                       {"temperature": 0, "max_completion_tokens": 16})
    assert text == "Paris"
    assert str(seen[0].url) == "https://api.openai.com/v1/chat/completions"
    assert seen[0].headers["authorization"] == "Bearer sk-1"
    assert json.loads(seen[0].content) == {"model": "ft:gpt-4o-mini-2024-07-18:org::abc", "temperature": 0,
                                           "max_completion_tokens": 16,
                                           "messages": [{"role": "user", "content": "Capital of France?"}]}
    assert (models.usage.requests, models.usage.prompt_tokens, models.usage.completion_tokens) == (1, 12, 3)


def test_429_5xx_and_dropped_connections_are_retried() -> None:
    seen: list[httpx.Request] = []
    dropped = httpx.ConnectError("connection reset")
    models = _completions(Target("https://api.openai.com/v1", "sk-1", OPENAI), [429, 503, dropped, ANSWER], seen)
    assert models.chat("gpt-4o-mini", [{"role": "user", "content": "x"}], {}) == "Paris"
    assert len(seen) == 4 and models.usage.requests == 4  # every attempt counts


def test_a_refusal_is_not_retried() -> None:
    seen: list[httpx.Request] = []
    models = _completions(Target("https://api.openai.com/v1", "sk-1", OPENAI), [400, ANSWER], seen)
    with pytest.raises(ApiError) as caught:
        models.chat("gpt-4o-mini", [{"role": "user", "content": "x"}], {})
    assert caught.value.status == 400 and len(seen) == 1


@pytest.mark.parametrize("model", ["o4-mini", "o4-mini-2025-04-16", "ft:o4-mini-2025-04-16:org::x", "o3", "gpt-5",
                                   "gpt-5-mini"])
def test_a_reasoning_model_gets_no_temperature(model: str) -> None:
    seen: list[httpx.Request] = []
    models = _completions(Target("https://api.openai.com/v1", "sk-1", OPENAI), [ANSWER], seen)
    models.chat(model, [{"role": "user", "content": "x"}], {"temperature": 0, "top_p": 1, "seed": 7})
    assert json.loads(seen[0].content) == {"model": model, "seed": 7, "messages": [{"role": "user", "content": "x"}]}


def test_azure_gets_its_key_header_and_base_path() -> None:
    seen: list[httpx.Request] = []
    target = Target("https://acme.openai.azure.com/openai/v1", "az-key", AZURE)
    models = _completions(target, [ANSWER], seen)
    models.chat("my-deployment", [{"role": "user", "content": "x"}], {})
    assert str(seen[0].url) == "https://acme.openai.azure.com/openai/v1/chat/completions"
    assert seen[0].headers["api-key"] == "az-key"


def test_embeddings_come_back_in_the_order_of_the_texts() -> None:
    seen: list[httpx.Request] = []
    answer = {"data": [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}],
              "usage": {"prompt_tokens": 4}}
    models = _completions(Target("https://api.openai.com/v1", "sk-1", OPENAI), [answer], seen)
    assert models.embed("text-embedding-3-small", ["a", "b"]) == [[1.0, 0.0], [0.0, 1.0]]
    assert str(seen[0].url).endswith("/v1/embeddings") and models.usage.prompt_tokens == 4


def test_an_answer_without_a_choice_is_an_error() -> None:
    models = _completions(Target("https://api.openai.com/v1", "sk-1", OPENAI), [{"choices": []}], [])
    with pytest.raises(ApiError, match="the answer has no choice with a message"):
        models.chat("gpt-4o-mini", [{"role": "user", "content": "x"}], {})
