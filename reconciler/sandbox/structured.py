"""Structured answers (``response_format``): a JSON text that fits the schema asked for, chosen
deterministically, so that score_model and label_model graders run against the sandbox.

The rule, value by value through the schema (``$defs`` references are not followed):

- a number or integer: a value derived from the SHA-256 of the whole prompt (every message's role
  and text), ``h`` in [0, 1), mapped into the schema's ``minimum``..``maximum`` (0..1 when a bound is
  missing; an ``exclusiveMinimum``/``exclusiveMaximum`` is moved inwards by 0.01, or 1 for an
  integer): ``min + h × (max − min)``, rounded to 2 places, and for an integer
  ``min + floor(h × (max − min + 1))``. A score grader thus
  gives the same prompt the same score, and different prompts different ones;
- a string with an ``enum`` (a label): the first value whose text appears (case-insensitive) in the
  last user message, else the first value; a ``const``: itself; another string: the model's own
  answer text (a grader's "steps" or "explanation");
- a boolean: whether ``h`` < 0.5; ``null``: null; an array: ``minItems`` items (none by default);
- an object: every property, in order (Structured Outputs' strict mode requires them all);
- ``anyOf``/``oneOf``: the first choice; a list of types: the first that is not ``null``.

``{"type": "json_object"}`` gets ``{"answer": TEXT}``. The answer text of the model is otherwise
unchanged, so plain questions and structured ones agree on what the model knows.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from reconciler.sandbox.answers import last_user_text, text_of


def prompt_fraction(messages: list[Any]) -> float:
    """A number in [0, 1) that depends on every message of the prompt and on nothing else."""
    text = "\n".join(f"{m.get('role')}: {text_of(m.get('content'))}" for m in messages if isinstance(m, dict))
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / 16**12


def structured(response_format: dict[str, Any], messages: list[Any], answer: str) -> str:
    """The JSON text answering ``messages`` in ``response_format`` (json_object or json_schema)."""
    if response_format.get("type") == "json_object":
        return json.dumps({"answer": answer})
    schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
    return json.dumps(_value(schema, prompt_fraction(messages), last_user_text(messages).lower(), answer))


def _value(schema: Any, h: float, asked: str, answer: str) -> Any:
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return next((v for v in schema["enum"] if str(v).lower() in asked), schema["enum"][0])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return _value(schema[key][0], h, asked, answer)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind in ("number", "integer"):
        step = 1 if kind == "integer" else 0.01  # an exclusive bound is moved in by one step
        low = _bound(schema, "minimum", "exclusiveMinimum", 0, step)
        high = _bound(schema, "maximum", "exclusiveMaximum", 1, -step)
        if kind == "integer":
            low, high = math.ceil(low), math.floor(high)
            return min(high, low + math.floor(h * (high - low + 1)))
        return min(high, round(low + h * (high - low), 2))
    if kind == "boolean":
        return h < 0.5
    if kind == "null":
        return None
    if kind == "array":
        return [_value(schema.get("items", {}), h, asked, answer) for _ in range(int(schema.get("minItems", 0)))]
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: _value(sub, h, asked, answer) for name, sub in properties.items()}
    return answer


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str, default: float, step: float) -> float:
    if inclusive in schema:
        return float(schema[inclusive])
    return float(schema[exclusive]) + step if exclusive in schema else default
