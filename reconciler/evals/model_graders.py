"""score_model and label_model: a chat completion of the grader's model, asked for a structured
answer, parsed as OpenAI's grader does.

The graders guide says the score_model grader "will request a response in a specific response
format": ``{"result": float, "steps": [{"description": string, "conclusion": string}]}``, the steps
giving the model room to reason, and that the output "will be truncated to the given range, and
default to 0 for all non-numeric outputs". Here that format is a strict ``json_schema``
response_format with ``steps`` first (a model writes in order: its reasoning comes before the
number), an out-of-range result is clamped to ``range`` (default [0, 1]), and an answer that is not
that JSON is the grader's error (which counts as 0).

label_model is not in the guide's current text (it grades evals and multi graders); it gets the same
format with ``result`` one of ``labels`` (a JSON-schema ``enum``); the score is 1 when that label is
one of ``passing_labels``, else 0. A label outside ``labels`` is an error.

``sampling_params`` become chat parameters as given (``max_completions_tokens`` is the chat API's
``max_completion_tokens``); a parameter left out is not sent, so a reasoning model never gets a
temperature it did not ask for. The message contents are rendered with the templates; a content item
becomes the chat content part of its kind (text, ``image_url``, ``input_audio``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from reconciler.evals.model import Models, Sample, Score
from reconciler.evals.templates import render
from reconciler.manifests.graders import (
    EvalItem,
    InputAudio,
    InputImage,
    LabelModelGrader,
    SamplingParams,
    ScoreModelGrader,
)

_STEPS = {"type": "array", "items": {
    "type": "object", "additionalProperties": False, "required": ["description", "conclusion"],
    "properties": {"description": {"type": "string"}, "conclusion": {"type": "string"}}}}


def grade_score_model(grader: ScoreModelGrader, item: Mapping[str, Any], sample: Sample, models: Models) -> Score:
    low, high = (float(grader.range[0]), float(grader.range[1])) if grader.range else (0.0, 1.0)
    params = {**sampling(grader.sampling_params), "response_format": response_format(
        "score_model_result", {"type": "number"})}
    answer = models.chat(grader.model, messages(grader.input, item, sample), params)
    result = _result(answer)
    if isinstance(result, bool) or not isinstance(result, int | float) or not math.isfinite(result):
        raise GraderAnswerError(f"the grader model's result is not a number: {_short(answer)}")
    return Score(min(max(float(result), low), high))


def grade_label_model(grader: LabelModelGrader, item: Mapping[str, Any], sample: Sample, models: Models) -> Score:
    params = {"response_format": response_format("label_model_result", {"type": "string", "enum": grader.labels})}
    answer = models.chat(grader.model, messages(grader.input, item, sample), params)
    label = _result(answer)
    if label not in grader.labels:
        raise GraderAnswerError(f"the grader model's label {label!r} is not one of {', '.join(grader.labels)}")
    return Score(1.0 if label in grader.passing_labels else 0.0)


class GraderAnswerError(Exception):
    """The grader model answered, but not in the format it was asked for."""


def response_format(name: str, result: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "additionalProperties": False, "required": ["steps", "result"],
              "properties": {"steps": _STEPS, "result": result}}
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


def sampling(params: SamplingParams | None) -> dict[str, Any]:
    """The chat parameters of a grader's ``sampling_params``: only those it sets."""
    if params is None:
        return {}
    given = params.model_dump(exclude_none=True)
    if "max_completions_tokens" in given:
        given["max_completion_tokens"] = given.pop("max_completions_tokens")
    return given


def messages(items: list[EvalItem], item: Mapping[str, Any], sample: Sample) -> list[dict[str, Any]]:
    """The chat messages of a model grader's ``input``, templates rendered (raises ``TemplateError``)."""
    out: list[dict[str, Any]] = []
    for message in items:
        content = message.content
        if isinstance(content, str):
            out.append({"role": message.role, "content": render(content, item, sample)})
        else:
            parts = content if isinstance(content, list) else [content]
            out.append({"role": message.role, "content": [_part(part, item, sample) for part in parts]})
    return out


def _part(part: Any, item: Mapping[str, Any], sample: Sample) -> dict[str, Any]:
    if isinstance(part, InputImage):
        image: dict[str, Any] = {"url": render(part.image_url, item, sample)}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, InputAudio):
        return {"type": "input_audio", "input_audio": {"data": render(part.input_audio.data, item, sample),
                                                       "format": part.input_audio.format}}
    return {"type": "text", "text": render(part.text, item, sample)}


def _result(answer: str) -> Any:
    try:
        parsed = json.loads(answer)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or "result" not in parsed:
        raise GraderAnswerError(f'the grader model did not answer {{"steps": [...], "result": ...}}: {_short(answer)}')
    return parsed["result"]


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
