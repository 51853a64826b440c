"""``POST /embeddings``: deterministic embeddings for OpenAI's embedding models
(``catalog.EMBEDDING_MODELS``), so that a text_similarity grader's cosine runs against the sandbox.

A text's vector is a hashed bag of its words: each lower-cased ``\\w+`` word adds one to the
dimension the SHA-256 of the word picks, and the counts are scaled to length 1 (a text without a
word is the first unit vector). Texts that share words point the same way, so the cosine of two
answers grows with the words they share, and the same text always gets the same vector. The model's
default dimensions are used unless ``dimensions`` asks for fewer (text-embedding-3 models only, as on
the API). ``encoding_format: base64`` (what the official SDK asks for by default) sends the vector as
little-endian float32 bytes in base64; ``float`` as a list. Token arrays are embedded as the words of
their numbers. Usage counts the input's tokens with ftctl's estimate.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler import catalog
from reconciler.datasets.formats import estimate_tokens
from reconciler.sandbox.answers import words
from reconciler.sandbox.requests import ApiError
from reconciler.sandbox.state import Sandbox, json_body
from reconciler.sandbox.validation import json_object

FIELDS = {"model", "input", "encoding_format", "dimensions", "user"}
"""CreateEmbeddingRequest's properties (tests/openai-spec/openapi-chat-embeddings.yaml)."""
MAX_INPUTS = 2048


def _bad(message: str, param: str | None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param, code)


def vector(text: str, dims: int) -> list[float]:
    counts = [0.0] * dims
    for word in words(text):
        counts[int(hashlib.sha256(word.encode()).hexdigest()[:12], 16) % dims] += 1.0
    norm = math.sqrt(sum(c * c for c in counts))
    if not norm:
        return [1.0] + [0.0] * (dims - 1)
    return [c / norm for c in counts]


def _texts(value: Any) -> list[str]:
    """The inputs as texts: a string, a list of strings, a token array or a list of token arrays."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or len(value) > MAX_INPUTS:
        raise _bad(f"Invalid 'input': expected a string or a non-empty array of at most {MAX_INPUTS} items.",
                   "input", "invalid_type")
    if all(isinstance(t, int) and not isinstance(t, bool) for t in value):
        value = [value]
    texts = []
    for i, item in enumerate(value):
        if isinstance(item, list) and item and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
            item = " ".join(map(str, item))
        if not isinstance(item, str):
            raise _bad(f"Invalid type for 'input[{i}]': expected a string or an array of integers.", f"input[{i}]",
                       "invalid_type")
        if not item:
            raise _bad(f"Invalid 'input[{i}]': the input cannot be an empty string.", f"input[{i}]")
        texts.append(item)
    return texts


def embed(body: Any) -> dict[str, Any]:
    """The embeddings answering ``body`` (what the route sends; ApiError when refused)."""
    body = json_object(body, FIELDS, ("model", "input"))
    model = body["model"]
    if not isinstance(model, str) or model not in catalog.EMBEDDING_MODELS:
        raise ApiError(404, f"The model `{model}` does not exist or you do not have access to it.", None,
                       "model_not_found")
    texts = _texts(body["input"])
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise _bad("Invalid 'encoding_format': expected one of float, base64.", "encoding_format")
    dims = catalog.EMBEDDING_MODELS[model]
    asked = body.get("dimensions")
    if asked is not None:
        if model == "text-embedding-ada-002":
            raise _bad("This model does not support specifying dimensions.", "dimensions", "unsupported_parameter")
        if isinstance(asked, bool) or not isinstance(asked, int) or not 1 <= asked <= dims:
            raise _bad(f"Invalid 'dimensions': expected an integer between 1 and {dims}.", "dimensions")
        dims = asked
    data = []
    for i, text in enumerate(texts):
        values = vector(text, dims)
        encoded: Any = values if encoding == "float" else \
            base64.b64encode(struct.pack(f"<{dims}f", *values)).decode()
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    tokens = sum(estimate_tokens(t) for t in texts)
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def routes(sb: Sandbox) -> list[Route]:
    async def create(request: Request) -> Response:
        body = await json_body(request)
        return JSONResponse(await run_in_threadpool(embed, body))

    return [Route(f"{sb.flavor.prefix}/embeddings", create, methods=["POST"])]
