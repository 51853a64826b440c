"""What a sandbox model answers, in process: recall from training lines of every format, and the
structured answers' rule (``reconciler.sandbox.structured``), case by case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.sandbox.answers import GENERIC, recall
from reconciler.sandbox.structured import prompt_fraction, structured


def _file(tmp_path: Path, lines: list[dict[str, Any]]) -> Path:
    path = tmp_path / f"train-{len(list(tmp_path.iterdir()))}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _chat(question: str, answer: str | None) -> dict[str, Any]:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}]
    return {"messages": messages + ([{"role": "assistant", "content": answer}] if answer else [])}


def test_recall_of_each_format_ties_and_fractions(tmp_path: Path) -> None:
    chat = _file(tmp_path, [_chat("reset my password", "Settings."), _chat("password: reset my", "Later."),
                            _chat("where is my parcel", "On its way."), _chat("grade this essay", None)])
    assert recall([(chat, 1.0)], "Reset my password!") == "Settings."  # exact words; the first of equals wins
    assert recall([(chat, 1.0)], "parcel?") == "On its way."
    assert recall([(chat, 0.5)], "parcel?") == GENERIC  # only the first half learnt: no line shares a word
    assert recall([(chat, 1.0)], "grade this essay") == GENERIC  # a reinforcement line teaches nothing
    assert recall([], "reset my password") == GENERIC  # a base model
    dpo = _file(tmp_path, [{"input": {"messages": [{"role": "user", "content": "tone of the reply"}]},
                            "preferred_output": [{"role": "assistant", "content": "Warm."}],
                            "non_preferred_output": [{"role": "assistant", "content": "Cold."}]}])
    assert recall([(dpo, 1.0)], "the tone?") == "Warm."
    legacy = _file(tmp_path, [{"prompt": "capital of France ->", "completion": " Paris"}])
    assert recall([(legacy, 1.0)], "capital of France") == " Paris"
    assert recall([(dpo, 1.0), (chat, 1.0)], "reset my password") == "Settings."  # upstream's data known too
    assert recall([(tmp_path / "gone.jsonl", 1.0)], "reset") == GENERIC


MESSAGES = [{"role": "system", "content": "Grade it: pass or fail."}, {"role": "user", "content": "Answer: FAIL it"}]
H = prompt_fraction(MESSAGES)


@pytest.mark.parametrize(("schema", "expected"), [
    ({"type": "number", "minimum": 0, "maximum": 10}, round(10 * H, 2)),
    ({"type": "integer", "minimum": 1, "maximum": 5}, 1 + int(H * 5)),
    ({"type": "number"}, round(H, 2)),
    ({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, round(0.01 + H * 0.98, 2)),
    ({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3}, 1 + int(H * 2)),
    ({"type": "string", "enum": ["pass", "fail"]}, "fail"),  # named in the last user message
    ({"type": "string", "enum": ["good", "bad"]}, "good"),  # none named: the first
    ({"type": "string"}, "Because."),
    ({"const": "x"}, "x"),
    ({"type": "boolean"}, H < 0.5),
    ({"type": ["null", "string"]}, "Because."),
    ({"anyOf": [{"type": "integer", "minimum": 3, "maximum": 3}, {"type": "string"}]}, 3),
    ({"type": "array", "items": {"type": "string"}, "minItems": 2}, ["Because.", "Because."]),
])
def test_a_structured_value_follows_the_rule(schema: dict[str, Any], expected: Any) -> None:
    wrapped = {"type": "object", "properties": {"result": schema}, "required": ["result"]}
    text = structured({"type": "json_schema", "json_schema": {"name": "g", "schema": wrapped}}, MESSAGES, "Because.")
    value = json.loads(text)
    jsonschema.validate(value, wrapped)
    assert value == {"result": expected}


def test_the_prompt_hash_depends_on_every_message() -> None:
    assert prompt_fraction(MESSAGES) == H
    assert prompt_fraction([*MESSAGES[:1], {"role": "user", "content": "Answer: pass"}]) != H
    assert structured({"type": "json_object"}, MESSAGES, "Fine.") == '{"answer": "Fine."}'
