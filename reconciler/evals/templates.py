"""Templates of the grader language, rendered: ``{{item.x.y}}``, ``{{sample.output_text}}``,
``{{sample.output_json.a.b}}``, ``{{sample.output_tools[0].function.name}}``.

The graders guide says each ``{{ }}`` holds a namespace (``item`` or ``sample``) and a variable, with
"JSON path like" access to nested values; it shows ``.key`` and ``[index]``, and nothing more, so
that is what is read here (the syntax and the sample's fields are those ``graders_check`` already
holds manifests to). Whitespace inside the braces is allowed. A string is put in as it is; any other
value (a number, a list, an object, null) as compact JSON, so that ``{{item.n}}`` of ``3`` reads
``3`` and of ``{"a": 1}`` reads ``{"a": 1}`` — the guide leaves this open.

A reference that finds nothing is the grader's error (``TemplateError``, which the engine turns into
a Score with ``error``), never an empty string: an empty string would grade silently wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler.evals.model import Sample
from reconciler.manifests.graders_check import SAMPLE_FIELDS, TEMPLATE, template_path


class TemplateError(Exception):
    """A template that cannot be rendered for this item and answer; the message says which and why."""


def sample_namespace(sample: Sample) -> dict[str, Any]:
    """What ``{{sample.*}}`` (and a python grader's ``sample``) reads for one answer. ftctl samples with
    chat completions without tools, so ``output_tools`` is empty and ``choices`` holds the one answer."""
    return {
        "output_text": sample.output_text,
        "output_json": sample.output_json,
        "output_tools": [],
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": sample.output_text}}],
    }


def render(text: str, item: Mapping[str, Any], sample: Sample) -> str:
    """``text`` with every ``{{…}}`` replaced by the value it names; raises ``TemplateError``."""
    namespaces: dict[str, Any] = {"item": item, "sample": sample_namespace(sample)}

    def replace(match: Any) -> str:
        value = lookup(match.group(1), namespaces)
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    return TEMPLATE.sub(replace, text)


def lookup(ref: str, namespaces: Mapping[str, Any]) -> Any:
    """The value ``ref`` (``item.a[0].b``) names in ``namespaces``; raises ``TemplateError``."""
    parts = template_path(ref.strip())
    shown = f"{{{{{ref.strip()}}}}}"
    if parts[0] not in namespaces or len(parts) < 2:
        raise TemplateError(f"{shown}: a template reads {{{{item.FIELD}}}} or {{{{sample.FIELD}}}}")
    if parts[0] == "sample" and parts[1] not in SAMPLE_FIELDS:
        raise TemplateError(f"{shown}: a sample offers {', '.join(SAMPLE_FIELDS)}, not {parts[1]!r}")
    value: Any = namespaces[parts[0]]
    for depth, part in enumerate(parts[1:], start=1):
        where = ".".join(parts[:depth])
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif where == "sample.output_json" and value is None:
            raise TemplateError(f"{shown}: the answer is not a JSON object, so it has no output_json")
        elif isinstance(value, list):
            raise TemplateError(f"{shown}: {where} has {len(value)} element(s); there is no [{part}]")
        elif isinstance(value, Mapping):
            raise TemplateError(f"{shown}: {where} has no field {part!r}")
        else:
            raise TemplateError(f"{shown}: {where} is {_kind(value)}, not an object with field {part!r}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(type(value), "a value")
