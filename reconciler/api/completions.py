"""``Completions``: the target's models over HTTP, as the grader engine and the evaluator need them
(the ``Models`` port of ``reconciler.evals.model``): a chat completion's text and a list of
embeddings.

Requests go through the same ``Transport`` as the fine-tuning API, so that keys, provider headers
and base paths are the same (Azure OpenAI's v1 API serves ``chat/completions`` under the same base,
the model being a deployment's name). A completion changes nothing but the bill, so each request is
retried under the one ``RetryPolicy`` (no answer, 408, 429, 5xx). Every answer's ``usage`` is
counted, for the report. A reasoning model (o-series, gpt-5: ``catalog.is_reasoning``) refuses
``temperature`` and ``top_p``: they are left out of its requests even when sampling sets them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler import catalog
from reconciler.api.client import Transport
from reconciler.api.errors import ApiError
from reconciler.api.retry import RetryPolicy

NOT_FOR_REASONING = ("temperature", "top_p")


@dataclass
class Usage:
    """What a run sent: requests (every attempt, retries included) and the tokens in and out that the
    answers said they used."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, answer: Any) -> None:
        """The tokens an answer says it used (its request is counted when sent)."""
        usage = answer.get("usage") if isinstance(answer, dict) else None
        if isinstance(usage, dict):
            self.prompt_tokens += _int(usage.get("prompt_tokens"))
            self.completion_tokens += _int(usage.get("completion_tokens"))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class Completions:
    """Chat completions and embeddings of one target (or of an ``endpoint`` that serves a model)."""

    def __init__(self, transport: Transport, retry: RetryPolicy | None = None) -> None:
        self.transport = transport
        self.retry = retry or RetryPolicy()
        self.usage = Usage()
        self._lock = threading.Lock()

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        answer = self.retry.run(lambda _: self._send(path, body))
        with self._lock:
            self.usage.add(answer)
        return answer

    def _send(self, path: str, body: dict[str, Any]) -> Any:
        with self._lock:
            self.usage.requests += 1  # every attempt: a failed one may be billed too
        return self.transport.once("POST", path, json=body)

    def chat(self, model: str, messages: list[dict[str, Any]], params: Mapping[str, Any]) -> str:
        sent = {k: v for k, v in params.items() if v is not None
                and not (k in NOT_FOR_REASONING and catalog.is_reasoning(model))}
        answer = self._post("chat/completions", {"model": model, "messages": messages, **sent})
        try:
            message = answer["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise ApiError(200, f"chat/completions for {model}: the answer has no choice with a message") from None
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            refusal = message.get("refusal") if isinstance(message, dict) else None
            return refusal if isinstance(refusal, str) else ""
        return content

    def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        answer = self._post("embeddings", {"model": model, "input": texts})
        try:
            data = sorted(answer["data"], key=lambda d: d.get("index", 0))
            vectors = [[float(x) for x in d["embedding"]] for d in data]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ApiError(200, f"embeddings for {model}: the answer has no list of embeddings") from None
        if len(vectors) != len(texts):
            raise ApiError(200, f"embeddings for {model}: {len(vectors)} embeddings for {len(texts)} texts")
        return vectors
