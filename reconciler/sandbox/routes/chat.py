"""``POST /chat/completions``: OpenAI's chat completions for the models the sandbox serves (``served``),
answered from what each learnt (``answers``), in JSON when asked (``structured``).

The request is checked the way the real API checks it, each refusal a 400 naming its ``param``: a
field the API does not know (``unknown_parameter``), a value of the wrong type (``invalid_type``) or
out of range (``invalid_value``); a streamed answer is not offered (``stream: true`` refused). Then
the model: one the sandbox does not serve is a 404 ``model_not_found``. A reasoning model (o-series,
gpt-5 family: ``catalog.is_reasoning``) refuses a ``temperature`` other than 1 (``unsupported_value``)
and ``max_tokens`` (``unsupported_parameter``: it takes ``max_completion_tokens``), as the API does.

``max_completion_tokens`` (or ``max_tokens``) cuts the answer to that many tokens and says so
(``finish_reason: length``); ``n`` choices are the same answer ``n`` times (the model is
deterministic). Usage counts tokens with the estimate ftctl plans with (``datasets.formats``): the
prompt's words plus OpenAI's framing per message, the answer's words.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.datasets.formats import TOKENS_PER_MESSAGE, TOKENS_PER_REPLY, estimate_tokens
from reconciler.sandbox.answers import last_user_text, recall, text_of
from reconciler.sandbox.requests import ApiError
from reconciler.sandbox.served import Served, find_chat
from reconciler.sandbox.state import Sandbox, json_body, new_id
from reconciler.sandbox.structured import structured
from reconciler.sandbox.validation import json_object

FIELDS = {
    "model", "messages", "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
    "max_completion_tokens", "max_tokens", "metadata", "modalities", "moderation", "n", "parallel_tool_calls",
    "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention",
    "reasoning_effort", "response_format", "safety_identifier", "seed", "service_tier", "stop", "store", "stream",
    "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity",
    "web_search_options"}
"""CreateChatCompletionRequest's properties (tests/openai-spec/openapi-chat-embeddings.yaml)."""
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
RANGES: dict[str, tuple[type, float, float]] = {
    "temperature": (float, 0, 2), "top_p": (float, 0, 1), "frequency_penalty": (float, -2, 2),
    "presence_penalty": (float, -2, 2), "n": (int, 1, 128), "max_tokens": (int, 1, 1e9),
    "max_completion_tokens": (int, 1, 1e9), "seed": (int, -2**63, 2**63 - 1), "top_logprobs": (int, 0, 20)}
FORMATS = ("text", "json_object", "json_schema")


def _bad(message: str, param: str | None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param, code)


def _number(body: dict[str, Any], name: str) -> None:
    kind, low, high = RANGES[name]
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        raise _bad(f"Invalid type for '{name}': expected {'an integer' if kind is int else 'a number'}, but got "
                   f"{type(value).__name__} instead.", name, "invalid_type")
    if not low <= value <= high:
        raise _bad(f"Invalid '{name}': {value} is out of range: it must be between {low:g} and {high:g}.", name)


def check_request(body: Any) -> dict[str, Any]:
    """``body`` if it is a well-formed chat completion request (ApiError 400 naming the field if not)."""
    checked = json_object(body, FIELDS, ("model", "messages"))
    if not isinstance(body["model"], str):
        raise _bad("Invalid type for 'model': expected a string.", "model", "invalid_type")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise _bad("Invalid 'messages': expected a non-empty array of messages.", "messages",
                   "invalid_type" if not isinstance(messages, list) else "empty_array")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _bad(f"Invalid type for 'messages[{i}]': expected an object.", f"messages[{i}]", "invalid_type")
        if message.get("role") not in ROLES:
            raise _bad(f"Invalid value: '{message.get('role')}'. Supported values are: "
                       f"{', '.join(repr(r) for r in ROLES)}.", f"messages[{i}].role")
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise _bad(f"Invalid type for 'messages[{i}].content': expected one of a string or array of objects.",
                       f"messages[{i}].content", "invalid_type")
    for name in RANGES:
        _number(body, name)
    if body.get("stream"):
        raise _bad("The sandbox does not stream answers: leave 'stream' unset or false.", "stream",
                   "unsupported_value")
    response_format = body.get("response_format")
    if response_format is not None:
        if not isinstance(response_format, dict) or response_format.get("type") not in FORMATS:
            raise _bad(f"Invalid 'response_format.type': expected one of {', '.join(FORMATS)}.",
                       "response_format.type")
        spec = response_format.get("json_schema")
        if response_format["type"] == "json_schema" and not (isinstance(spec, dict) and isinstance(
                spec.get("name"), str) and isinstance(spec.get("schema", {}), dict)):
            raise _bad("Invalid 'response_format.json_schema': expected an object with a 'name' and a 'schema'.",
                       "response_format.json_schema")
    return checked


def _check_model(served: Served, body: dict[str, Any]) -> None:
    if not served.reasoning:
        return
    if body.get("max_tokens") is not None:
        raise _bad("Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                   "'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise _bad(f"Unsupported value: 'temperature' does not support {temperature} with this model. Only the "
                   "default (1) value is supported.", "temperature", "unsupported_value")


def complete(sb: Sandbox, body: Any) -> dict[str, Any]:
    """The chat completion answering ``body`` (what the route sends; ApiError when refused)."""
    request = check_request(body)
    served = find_chat(sb.store, sb.flavor, request["model"])
    if served is None:
        raise ApiError(404, f"The model `{request['model']}` does not exist or you do not have access to it.",
                       None, "model_not_found")
    _check_model(served, request)
    messages = request["messages"]
    answer = recall([(sb.store.blob(s.file_id), s.fraction) for s in served.sources], last_user_text(messages))
    if request.get("response_format") and request["response_format"]["type"] != "text":
        answer = structured(request["response_format"], messages, answer)
    limit = request.get("max_completion_tokens") or request.get("max_tokens")
    finish = "stop"
    if limit is not None and estimate_tokens(answer) > limit:
        answer, finish = answer[:4 * limit], "length"  # the estimate's four characters a token
    prompt = sum(TOKENS_PER_MESSAGE + estimate_tokens(text_of(m.get("content"))) for m in messages) + TOKENS_PER_REPLY
    completion = estimate_tokens(answer)
    choice: dict[str, Any] = {"message": {"role": "assistant", "content": answer, "refusal": None, "annotations": []},
              "logprobs": None, "finish_reason": finish}
    return {
        "id": new_id("chatcmpl-"), "object": "chat.completion", "created": int(sb.store.now()), "model": served.name,
        "choices": [{"index": i, **choice} for i in range(int(request.get("n") or 1))],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
        "service_tier": "default", "system_fingerprint": "fp_sandbox",
    }


def routes(sb: Sandbox) -> list[Route]:
    async def create(request: Request) -> Response:
        body = await json_body(request)
        return JSONResponse(await run_in_threadpool(complete, sb, body))

    return [Route(f"{sb.flavor.prefix}/chat/completions", create, methods=["POST"])]
